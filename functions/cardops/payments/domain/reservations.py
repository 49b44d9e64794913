"""A reservation as registered by the platform (SPEC §8 contract 2), and its establishment.

The reservation is "not established" (予約不成立) when its authorization expired uncaptured.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from cardops.kernel.money import MAX_PLAUSIBLE_AMOUNT

TaxTreatment = Literal["inclusive", "exclusive"]


class ReservationInput(BaseModel):
    """The body of ``PUT /admin/reservations/{reservation_id}``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    store_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    holder_name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    tel: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9() -]{6,31}$")
    reserved_at: AwareDatetime
    amount: int = Field(ge=0, le=MAX_PLAUSIBLE_AMOUNT, strict=True)
    tax_treatment: TaxTreatment
    currency: str = Field(default="JPY", pattern=r"^[A-Z]{3}$")


class Reservation(ReservationInput):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reservation_id: str
    established: bool = True
    updated_at: datetime
