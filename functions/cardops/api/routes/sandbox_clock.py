"""The sandbox clock over the admin API: only in the local sandbox (``CARDOPS_STAGE=sandbox``).

``POST /admin/sandbox/clock`` ``{"advance": "8d"}`` moves business time forward, so waiting
workflows (capture deadlines) run as if that time had passed. Any other stage answers 404: a
deployed system's clock is the real one.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from cardops.kernel import clock
from cardops.kernel.config import settings

router = Router()  # type: ignore[no-untyped-call]

_PART = re.compile(r"(\d+)([dhms])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
DURATION_PATTERN = r"^(\d+[dhms])+$"


def parse_duration(text: str) -> timedelta:
    """``8d``, ``12h``, ``1d12h30m``, ``90s`` → a timedelta."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"not a duration like 8d, 12h or 1d12h: {text!r}")
    return sum((timedelta(**{_UNITS[u]: int(n)}) for n, u in _PART.findall(text)), timedelta(0))


class AdvanceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    advance: str = Field(pattern=DURATION_PATTERN, max_length=32, description="e.g. 8d, 12h, 1d12h")


class ClockView(BaseModel):
    now: datetime
    offset_seconds: float


def _sandbox_only() -> None:
    if settings().stage != "sandbox":
        raise NotFoundError("the clock can only be moved in the local sandbox")


@router.get("/admin/sandbox/clock", tags=["sandbox"])
def get_clock() -> ClockView:
    _sandbox_only()
    return ClockView(now=clock.now(), offset_seconds=clock.offset().total_seconds())


@router.post("/admin/sandbox/clock", tags=["sandbox"])
def advance_clock(body: Annotated[AdvanceInput, Body()]) -> ClockView:
    _sandbox_only()
    now = clock.advance(parse_duration(body.advance))
    return ClockView(now=now, offset_seconds=clock.offset().total_seconds())
