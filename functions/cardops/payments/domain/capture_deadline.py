"""The capture deadline (認証期日) of SPEC §3, and the refusal of a capture that comes too late.

A store must capture an authorization before the earlier of two bounds:

* the **business** bound: the end of the Asia/Tokyo day of the visit date + 7 days. The window
  opens on the reservation's acceptance date (予約受付日から来店日の1週間後まで), so a visit date
  before the acceptance date (a data error) is read as the acceptance date, and a missing visit
  date falls back to the acceptance date, then to the authorization time (the booking is where the
  authorization is taken);
* the **authorization** bound: the provider's authorization validity minus a safety margin, so
  the automatic cancel still reaches the provider while the hold exists. PAY.JP reports it as
  ``expired_at`` (``expiry_days`` 1–60, default 7, after the authorization); Stripe as
  ``capture_before``, and when Stripe does not report it the card networks' default windows apply:
  7 days online, 30 days for the merchant categories that every network extending holds accepts.

Japan has no daylight-saving time, so "end of the Tokyo day" is always 14:59:59.999999 UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cardops.kernel.calendar import end_of_tokyo_day, tokyo_date
from cardops.payments.domain.payments import Payment, PaymentStatus

PAYJP_MIN_EXPIRY_DAYS = 1
PAYJP_MAX_EXPIRY_DAYS = 60
PAYJP_DEFAULT_EXPIRY_DAYS = 7

#: Car-rental MCCs: the named rental companies (3351–3500) and the generic "car rental agencies".
_CAR_RENTAL_MCCS = frozenset({f"{code:04d}" for code in range(3351, 3501)} | {"7512"})
#: Lodging: the generic "hotels, motels, resorts" (7011) and the named hotel chains (3501–3999).
_LODGING_MCCS = frozenset({f"{code:04d}" for code in range(3501, 4000)} | {"7011"})
#: Cruise lines and steamships.
_CRUISE_MCCS = frozenset({"4411"})
#: Airlines (3000–3350 named carriers, 4511 generic). Kept out of the default: among the networks
#: Stripe supports, only Discover extends airline holds to 30 days (Visa and American Express limit
#: extension to lodging, vehicle rental and cruise lines), so assuming 30 days for an airline on a
#: Visa card would put the deadline after the hold has lapsed.
AIRLINE_MCCS = frozenset({f"{code:04d}" for code in range(3000, 3351)} | {"4511"})

#: Merchant categories whose online holds every extending network keeps for 30 days (Stripe,
#: "Place an extended hold on an online card payment": Visa and American Express extend lodging,
#: vehicle rental and cruise lines; Mastercard all categories; Discover adds airlines and rail).
DEFAULT_EXTENDED_HOLD_MCCS = _LODGING_MCCS | _CAR_RENTAL_MCCS | _CRUISE_MCCS


class AuthorizationHold(StrEnum):
    """How long a provider's authorization holds when the provider does not say when it lapses:
    each provider plugin names its rule (``ProviderPlugin.authorization_hold``), this module keeps
    the rules, so the domain knows no provider by name."""

    #: no documented default: the business bound alone decides
    UNKNOWN = "unknown"
    #: the charge's default ``expiry_days`` (PAY.JP: ``PAYJP_DEFAULT_EXPIRY_DAYS`` after authorization)
    EXPIRY_DAYS = "expiry_days"
    #: the card networks' windows (Stripe): online, or extended for the MCCs every network extends
    CARD_NETWORKS = "card_networks"


class DeadlinePolicy(BaseModel):
    """The configurable parts of the rule; the defaults are the SPEC's.

    ``business_days_after_visit`` counts calendar days (Jan 31 → Feb 7), as the help centre's
    "来店日の1週間後" does; the name keeps the business-rule meaning, not bank business days.
    """

    model_config = ConfigDict(frozen=True)

    business_days_after_visit: int = Field(default=7, ge=0, le=366)
    safety_margin: timedelta = timedelta(hours=12)
    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=72), timedelta(hours=24))
    stripe_online_hold: timedelta = timedelta(days=7)
    stripe_extended_hold: timedelta = timedelta(days=30)
    extended_hold_mccs: frozenset[str] = DEFAULT_EXTENDED_HOLD_MCCS

    @field_validator("safety_margin", "stripe_online_hold", "stripe_extended_hold")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @field_validator("reminder_offsets")
    @classmethod
    def _positive_offsets(cls, value: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        if any(offset <= timedelta(0) for offset in value):
            raise ValueError("reminder offsets must be positive durations before the deadline")
        return value


Bound = Literal["business", "authorization"]


#: The longest an authorization can hold, whatever the provider: PAY.JP's largest ``expiry_days``
#: or Stripe's extended hold, whichever is longer. Past it no provider still holds the money (the
#: deadline workflow has released it before), so nothing checks a payment for longer.
LONGEST_AUTHORIZATION = max(timedelta(days=PAYJP_MAX_EXPIRY_DAYS), DeadlinePolicy().stripe_extended_hold)


class CaptureDeadline(BaseModel):
    """When a capture must happen by, which bound decided it, and when to remind the store."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    bound: Bound
    business_deadline: datetime
    #: ``None`` only for a provider that reports no validity and whose default we do not know
    authorization_deadline: datetime | None
    reminders: tuple[datetime, ...]


class InvalidExpiryDays(ValueError):
    """PAY.JP accepts ``expiry_days`` from 1 to 60 only."""


def payjp_expired_at(authorized_at: datetime, expiry_days: int = PAYJP_DEFAULT_EXPIRY_DAYS) -> datetime:
    """When a PAY.JP authorization lapses, for charges created with ``expiry_days``.

    Used when a PAY.JP charge does not carry ``expired_at`` (an event without it, a test double).
    """
    _require_aware(authorized_at, "authorized_at")
    if isinstance(expiry_days, bool) or not PAYJP_MIN_EXPIRY_DAYS <= expiry_days <= PAYJP_MAX_EXPIRY_DAYS:
        raise InvalidExpiryDays(
            f"expiry_days must be {PAYJP_MIN_EXPIRY_DAYS}..{PAYJP_MAX_EXPIRY_DAYS}, got {expiry_days!r}"
        )
    return authorized_at + timedelta(days=expiry_days)


def is_extended_hold_mcc(mcc: str | None, policy: DeadlinePolicy) -> bool:
    return mcc is not None and mcc.strip() in policy.extended_hold_mccs


def business_deadline(
    *, visit_date: date | None, accepted_at: datetime | None, authorized_at: datetime, days: int = 7
) -> datetime:
    """End of the Tokyo day ``days`` after the visit (see the module docstring for fallbacks)."""
    opened = tokyo_date(accepted_at) if accepted_at is not None else tokyo_date(authorized_at)
    anchor = visit_date if visit_date is not None and visit_date >= opened else opened
    return end_of_tokyo_day(anchor + timedelta(days=days))


def authorization_validity(
    *,
    hold: AuthorizationHold,
    authorized_at: datetime,
    authorization_expires_at: datetime | None,
    mcc: str | None,
    policy: DeadlinePolicy,
) -> datetime | None:
    """The instant the provider's hold lapses: what it reports, else its documented default."""
    if authorization_expires_at is not None:
        return authorization_expires_at
    if hold is AuthorizationHold.EXPIRY_DAYS:
        return payjp_expired_at(authorized_at)
    if hold is AuthorizationHold.CARD_NETWORKS:
        extended = is_extended_hold_mcc(mcc, policy)
        return authorized_at + (policy.stripe_extended_hold if extended else policy.stripe_online_hold)
    return None


def capture_deadline(
    *,
    hold: AuthorizationHold,
    visit_date: date | None,
    accepted_at: datetime | None,
    authorized_at: datetime,
    authorization_expires_at: datetime | None,
    mcc: str | None,
    policy: DeadlinePolicy = DeadlinePolicy(),  # noqa: B008 - frozen model, safe as a default
) -> CaptureDeadline:
    """The effective capture deadline of one authorization (SPEC §3); ties go to "business"."""
    _require_aware(authorized_at, "authorized_at")
    if accepted_at is not None:
        _require_aware(accepted_at, "accepted_at")
    if authorization_expires_at is not None:
        _require_aware(authorization_expires_at, "authorization_expires_at")

    business = business_deadline(
        visit_date=visit_date,
        accepted_at=accepted_at,
        authorized_at=authorized_at,
        days=policy.business_days_after_visit,
    )
    validity = authorization_validity(
        hold=hold,
        authorized_at=authorized_at,
        authorization_expires_at=authorization_expires_at,
        mcc=mcc,
        policy=policy,
    )
    authorization = None if validity is None else _utc(validity - policy.safety_margin)
    bound: Bound = "authorization" if authorization is not None and authorization < business else "business"
    at = authorization if bound == "authorization" and authorization is not None else business
    reminders = sorted({at - offset for offset in policy.reminder_offsets if at - offset > authorized_at})
    return CaptureDeadline(
        at=at,
        bound=bound,
        business_deadline=business,
        authorization_deadline=authorization,
        reminders=tuple(_utc(reminder) for reminder in reminders),
    )


class Due(BaseModel):
    """What one wake-up of the capture-deadline workflow must do, and when it wakes next."""

    model_config = ConfigDict(frozen=True)

    #: the reminder to send now (its offset before the deadline), ``None`` when none came due
    reminder: timedelta | None = None
    #: the deadline has passed: cancel the authorization now
    expire: bool = False
    #: the next wake-up: the next reminder or the deadline; ``None`` once the deadline has passed
    next_at: datetime | None = None


def due_at(deadline: datetime, *, now: datetime, since: datetime, offsets: tuple[timedelta, ...]) -> Due:
    """What is due at ``now`` for an execution that last woke (or started) at ``since``.

    A reminder is due when its time fell in ``(since, now]``: one wake-up handles it, the next
    starts after it, so no reminder is sent twice, and one whose time had passed before the
    execution started is skipped. When a late wake-up finds several due (a clock moved forward),
    only the most urgent one is sent: "72 h left" is wrong once 24 h are left. The next wake-up is
    never later than the deadline, nor earlier than ``now``.
    """
    for name, moment in (("deadline", deadline), ("now", now), ("since", since)):
        _require_aware(moment, name)
    if now > deadline:
        return Due(expire=True)
    times = sorted({(deadline - offset, offset) for offset in offsets if offset > timedelta(0)})
    came_due = [offset for at, offset in times if since < at <= now]
    upcoming = [at for at, _ in times if at > now]
    return Due(
        reminder=came_due[-1] if came_due else None,
        next_at=_utc(upcoming[0] if upcoming else deadline),
    )


class CaptureRefused(Exception):
    """A capture the rules do not allow; the message is meant for the store admin."""


class CaptureDeadlinePassed(CaptureRefused):
    def __init__(self, deadline: datetime, now: datetime) -> None:
        super().__init__(
            f"the capture deadline (認証期日) {deadline.isoformat()} has passed "
            f"(now {now.isoformat()}); the authorization is cancelled automatically "
            "and the reservation is not established (予約不成立)"
        )
        self.deadline = deadline
        self.now = now


class PaymentNotCapturable(CaptureRefused):
    def __init__(self, status: PaymentStatus) -> None:
        if status is PaymentStatus.EXPIRED_REFUNDED:
            detail = (
                "it was refunded automatically after its capture deadline; the store cannot charge "
                "again by itself, a re-payment needs the customer's consent through the support desk"
            )
        else:
            detail = "only an authorized, uncaptured payment can be captured"
        super().__init__(f"payment is {status.value}: {detail}")
        self.status = status


class AmountExceedsAuthorized(CaptureRefused):
    def __init__(self, amount: int, authorized: int) -> None:
        super().__init__(f"capture amount {amount} exceeds the authorized amount {authorized}")
        self.amount = amount
        self.authorized = authorized


class InvalidCaptureAmount(CaptureRefused):
    def __init__(self, amount: int) -> None:
        super().__init__(f"capture amount must be positive, got {amount}")
        self.amount = amount


def deadline_of(
    payment: Payment,
    policy: DeadlinePolicy = DeadlinePolicy(),  # noqa: B008 - frozen model, safe as a default
    *,
    hold: AuthorizationHold = AuthorizationHold.UNKNOWN,
) -> datetime | None:
    """The stored deadline, or the one computed from the payment's facts when none was stored
    (``hold``: its provider's rule, for a payment whose provider did not report the lapse)."""
    if payment.capture_deadline is not None:
        return payment.capture_deadline
    if payment.facts.authorized_at is None:
        return None
    return capture_deadline(
        hold=hold,
        visit_date=payment.metadata.visit_date,
        accepted_at=payment.metadata.accepted_at,
        authorized_at=payment.facts.authorized_at,
        authorization_expires_at=payment.facts.authorization_expires_at,
        mcc=payment.metadata.mcc,
        policy=policy,
    ).at


def ensure_capturable(
    payment: Payment,
    now: datetime,
    *,
    amount: int | None = None,
    hold: AuthorizationHold = AuthorizationHold.UNKNOWN,
) -> None:
    """Refuse, with a named error, a capture the store may no longer make (SPEC §3).

    The deadline is inclusive: a capture at the very last instant of the day is still accepted.
    """
    _require_aware(now, "now")
    if payment.status is not PaymentStatus.AUTHORIZED:
        raise PaymentNotCapturable(payment.status)
    deadline = deadline_of(payment, hold=hold)
    if deadline is not None and now > deadline:
        raise CaptureDeadlinePassed(deadline, now)
    if amount is not None:
        if amount <= 0:
            raise InvalidCaptureAmount(amount)
        authorized = payment.facts.authorized_amount or 0
        if amount > authorized:
            raise AmountExceedsAuthorized(amount, authorized)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
