"""Admin routes for store ledgers, adjustments, payouts and batch settlements (SPEC §6).

While a balance is negative, payouts and settlements are refused with a 409 whose details state the
shortfall; a payout at or below the plan's minimum is refused with a 422.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from http import HTTPStatus
from typing import Annotated, TypeVar

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cardops.kernel import clock
from cardops.kernel.calendar import tokyo_date
from cardops.kernel.identity import caller
from cardops.kernel.money import normalize_currency
from cardops.ledger.domain.ledger import (
    AdjustmentReason,
    BalanceSummary,
    Channel,
    LedgerEntry,
)
from cardops.ledger.domain.payouts import (
    BatchSettlement,
    OffsetMethod,
    Payout,
)
from cardops.ledger.domain.reconciliation import StoreReconciliation
from cardops.ledger.domain.statement import DEFAULT_PAGE, MAX_PAGE, Order
from cardops.ledger.reconcile import reconcile_store
from cardops.ledger.use_cases import Statement
from cardops.ledger.wiring import ledger_service, reconcile_deps

router = Router()  # type: ignore[no-untyped-call]

StoreIdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
IdField = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
MAX_AMOUNT = 10**12
_T = TypeVar("_T")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel = Channel.STANDARD
    currency: str = "JPY"

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)


class AdjustmentBody(_Body):
    adjustment_id: str = IdField
    amount: int = Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, strict=True, description="signed, minor units")
    reason: AdjustmentReason
    memo: str = Field(default="", max_length=500)

    @field_validator("amount")
    @classmethod
    def _nonzero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("an adjustment moves money: amount must not be zero")
        return value


class PayoutBody(_Body):
    request_id: str = IdField


class SettlementBody(_Body):
    settlement_id: str = IdField
    method: OffsetMethod = OffsetMethod.SAME_CHANNEL_SETTLEMENT
    source_channel: Channel | None = None


class Balances(BaseModel):
    store_id: str
    as_of: date
    ledgers: list[BalanceSummary]


M = TypeVar("M", bound=BaseModel)


def _json(model: M, status: HTTPStatus = HTTPStatus.OK) -> Response[M]:
    """The model with this status; the resolver validates it against the route's declared model."""
    return Response(status_code=status.value, content_type=content_types.APPLICATION_JSON, body=model)


@router.get("/admin/stores/<store_id>/balance", tags=["ledger"])
def balance(store_id: StoreIdPath) -> Response[Balances]:
    now = clock.now()
    return _json(
        Balances(
            store_id=store_id, as_of=tokyo_date(now), ledgers=ledger_service().balances(store_id, now=now)
        )
    )


@router.get("/admin/stores/<store_id>/statement", tags=["ledger"])
def statement(
    store_id: StoreIdPath,
    channel: Annotated[Channel, Query()] = Channel.STANDARD,
    currency: Annotated[str, Query(pattern=r"^[A-Za-z]{3}$")] = "JPY",
    since: Annotated[date | None, Query()] = None,
    until: Annotated[date | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(min_length=1, max_length=4096)] = None,
    order: Annotated[Order, Query()] = Order.OLDEST_FIRST,
) -> Response[Statement]:
    """One page of entries (``limit``); the next one with ``cursor=next_cursor`` and the same query."""
    result = ledger_service().statement(
        store_id,
        channel,
        normalize_currency(currency),
        now=clock.now(),
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
        order=order,
    )
    return _json(result)


def _on_ledger(action: Callable[..., _T], store_id: str, body: _Body) -> _T:
    """Run ``action`` on the body's ledger, now, as the caller (recorded on the entries it posts).

    Every field a body adds to ``_Body`` is the action's keyword argument of the same name."""
    fields = {name: value for name, value in body if name not in _Body.model_fields}
    return action(
        store_id, body.channel, body.currency, **fields, now=clock.now(), actor=caller(router.current_event)
    )


@router.post("/admin/stores/<store_id>/adjustments", tags=["ledger"], status_code=HTTPStatus.CREATED)
def adjust(store_id: StoreIdPath, body: Annotated[AdjustmentBody, Body()]) -> Response[LedgerEntry]:
    return _json(_on_ledger(ledger_service().adjust, store_id, body), HTTPStatus.CREATED)


@router.post("/admin/stores/<store_id>/payouts", tags=["ledger"], status_code=HTTPStatus.CREATED)
def payout(store_id: StoreIdPath, body: Annotated[PayoutBody, Body()]) -> Response[Payout]:
    return _json(_on_ledger(ledger_service().request_payout, store_id, body), HTTPStatus.CREATED)


@router.post("/admin/stores/<store_id>/settlements", tags=["ledger"])
def settle(store_id: StoreIdPath, body: Annotated[SettlementBody, Body()]) -> Response[BatchSettlement]:
    return _json(_on_ledger(ledger_service().settle, store_id, body))


class ReconcileBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: only payments changed since then (default: all the store's payments)
    changed_since: datetime | None = None

    @field_validator("changed_since")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("changed_since needs a time zone (ISO 8601 with an offset)")
        return value


class ReconcileAnswer(StoreReconciliation):
    unresolved_count: int


@router.post("/admin/stores/<store_id>/ledger/reconcile", tags=["ledger"])
def reconcile(
    store_id: StoreIdPath, body: Annotated[ReconcileBody | None, Body()] = None
) -> Response[ReconcileAnswer]:
    """Compare the store's payments with its ledger, post what is missing, report what is not decidable."""
    report = reconcile_store(
        store_id,
        reconcile_deps(),
        now=clock.now(),
        actor=caller(router.current_event),
        changed_since=body.changed_since if body else None,
    )
    return _json(ReconcileAnswer(**report.model_dump(), unresolved_count=len(report.unresolved)))
