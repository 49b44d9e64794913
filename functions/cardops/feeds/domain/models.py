"""The data every feed module shares: statement lines, row errors, employees (SPEC §7, §8 contract 5).

Kept apart from the rules so that the reader, the matcher, the refund linker and the diagnosis can
all speak about the same line without importing each other.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Settlement = Literal["corporate", "personal"]
SETTLEMENTS: tuple[str, ...] = ("corporate", "personal")


class StatementLine(BaseModel):
    """One parsed line of a card company's statement file.

    ``line_id`` is the deduplication identity (card company + 明細番号, or a hash of the identifying
    fields when the company sends no number), so the same line delivered twice is stored once.
    Amounts are whole yen; negative amounts are refunds.
    """

    model_config = ConfigDict(frozen=True)

    card_company: str
    line_id: str
    statement_no: str | None = None
    usage_date: date
    posting_date: date | None = None
    #: May be empty when the card company sent none; matching reports it as unknown.
    linkage_code: str
    employee_code: str | None = None
    kana_name: str | None = None
    last4: str | None = None
    merchant: str
    amount: int
    currency: Literal["JPY"] = "JPY"
    local_amount: Decimal | None = None
    local_currency: str | None = None
    approval_no: str | None = None
    settlement: Settlement
    source_file: str
    line_number: int = Field(ge=1)

    @property
    def is_refund(self) -> bool:
        return self.amount < 0


class RowError(BaseModel):
    """A row the reader could not parse; it is reported and the rest of the file still reads."""

    model_config = ConfigDict(frozen=True)

    source_file: str
    line_number: int = Field(ge=1)
    reason: str


class Employee(BaseModel):
    """An employee master record (SPEC §8 contract 5): what matching compares a line against.

    ``card_company_employee_code`` is the 社員コード registered at the card company; when absent the
    company is assumed to know the employee by ``employee_code``.
    """

    model_config = ConfigDict(frozen=True)

    employee_code: str = Field(min_length=1)
    name_kana: str = Field(min_length=1)
    card_linkage_code: str = Field(min_length=1)
    card_company_employee_code: str | None = None
    settlement: Settlement = "corporate"

    @field_validator("employee_code", "card_linkage_code", "name_kana")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("card_company_employee_code")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value if value and value.strip() else None

    @property
    def code_at_card_company(self) -> str:
        return self.card_company_employee_code or self.employee_code
