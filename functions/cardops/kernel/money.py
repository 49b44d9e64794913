"""Money as integer minor units with a currency code (SPEC §2, §9): never floats."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

#: ISO 4217 minor-unit exponents for the currencies the providers send us.
MINOR_UNIT_EXPONENT: dict[str, int] = {
    "JPY": 0,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "AUD": 2,
    "CAD": 2,
    "KRW": 0,
    "TWD": 2,
}

RoundingMode = Literal["down", "half_up"]

#: the largest amount (minor units) a card payment, a reservation or a provider's notification may
#: plausibly carry: ¥100,000,000. Beyond it an amount is a parsing or input error, refused by name.
MAX_PLAUSIBLE_AMOUNT = 100_000_000


class ImplausibleAmount(ValueError):
    """An amount beyond ``MAX_PLAUSIBLE_AMOUNT``: a parsing or input error, never a payment."""


def plausible_amount(amount: int) -> int:
    """The one upper-bound check of an amount a provider or a caller reports."""
    if amount > MAX_PLAUSIBLE_AMOUNT:
        raise ImplausibleAmount(
            f"amount {amount} is beyond the plausible range of a card payment "
            f"(at most {MAX_PLAUSIBLE_AMOUNT})"
        )
    return amount


#: a non-negative amount within ``MAX_PLAUSIBLE_AMOUNT``, for the providers' pydantic shapes
PlausibleAmount = Annotated[int, Field(ge=0), AfterValidator(plausible_amount)]


class CurrencyError(ValueError):
    """An amount in a currency we do not know, or two currencies mixed."""


def normalize_currency(code: str) -> str:
    upper = code.strip().upper()
    if upper not in MINOR_UNIT_EXPONENT:
        raise CurrencyError(f"unsupported currency {code!r}")
    return upper


class Money(BaseModel):
    """An amount in the currency's minor unit (JPY has none, so 1 = ¥1)."""

    model_config = ConfigDict(frozen=True)

    amount: int
    currency: str

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")


def percent_of(amount: int, rate_percent: Decimal, rounding: RoundingMode = "down") -> int:
    """A percentage of an integer amount, rounded to a whole minor unit.

    The default rounds toward zero (切り捨て): a fee is never more than the rate allows.
    """
    mode = ROUND_DOWN if rounding == "down" else ROUND_HALF_UP
    value = (Decimal(amount) * rate_percent / Decimal(100)).quantize(Decimal(1), rounding=mode)
    return int(value)
