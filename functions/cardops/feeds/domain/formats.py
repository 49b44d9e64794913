"""Column mapping per card company, as configuration (SPEC §7).

Each card company's statement file is described by a ``StatementFormat``: which encodings to try,
which header names carry which canonical field, how dates, amounts and the settlement column are
written, and which fields matching needs besides the card linkage code (always required). Adding a
card company is adding an entry to ``FORMATS``, not code.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cardops.feeds.domain.models import Settlement

CanonicalField = Literal[
    "statement_no",
    "usage_date",
    "posting_date",
    "linkage_code",
    "employee_code",
    "kana_name",
    "last4",
    "merchant",
    "amount",
    "local_amount",
    "currency",
    "approval_no",
    "settlement",
]

#: 決済区分 as the standard format writes it.
STANDARD_SETTLEMENT: Mapping[str, Settlement] = MappingProxyType({"法人": "corporate", "個人": "personal"})

#: Fields without which no line can be built, whatever the card company.
ALWAYS_REQUIRED: frozenset[str] = frozenset(
    {"usage_date", "linkage_code", "merchant", "amount", "settlement"}
)


class UnknownCardCompany(LookupError):
    """No statement format is configured under this card company name."""


class StatementFormat(BaseModel):
    """How one card company writes its statement CSV, and what matching needs from it."""

    model_config = ConfigDict(frozen=True)

    card_company: str = Field(min_length=1)
    #: Tried in order after the BOM check; the first that decodes the file's head wins.
    encodings: tuple[str, ...] = ("utf-8", "cp932")
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    #: Header name → canonical field. Every header in a file must be one of these.
    columns: Mapping[str, CanonicalField]
    #: Headers that may be missing from a file (their fields are then empty).
    optional_headers: frozenset[str] = frozenset()
    date_format: str = "%Y/%m/%d"
    thousands_separator: str | None = None
    #: Prefixes that make an amount negative (a refund), e.g. "-" or the accounting "△".
    negative_prefixes: tuple[str, ...] = ("-",)
    settlement_values: Mapping[str, Settlement] = Field(default_factory=lambda: dict(STANDARD_SETTLEMENT))
    requires_employee_code: bool
    requires_kana_name: bool

    @model_validator(mode="after")
    def _consistent(self) -> StatementFormat:
        fields = list(self.columns.values())
        if len(fields) != len(set(fields)):
            raise ValueError("two headers map to the same canonical field")
        present = set(fields)
        required = set(ALWAYS_REQUIRED)
        if self.requires_employee_code:
            required.add("employee_code")
        if self.requires_kana_name:
            required.add("kana_name")
        if missing := required - present:
            raise ValueError(f"format lacks columns for {sorted(missing)}")
        mandatory = {self.columns[h] for h in self.columns if h not in self.optional_headers}
        if optional_required := required - mandatory:
            raise ValueError(f"required fields cannot be optional headers: {sorted(optional_required)}")
        if unknown := self.optional_headers - set(self.columns):
            raise ValueError(f"optional headers not in columns: {sorted(unknown)}")
        return self

    @property
    def required_headers(self) -> frozenset[str]:
        return frozenset(self.columns) - self.optional_headers

    @property
    def matching_fields(self) -> tuple[str, ...]:
        """The line fields matching compares, in the order they are checked."""
        fields = ["linkage_code"]
        if self.requires_employee_code:
            fields.append("employee_code")
        if self.requires_kana_name:
            fields.append("kana_name")
        return tuple(fields)


#: The standard statement format's headers, in file order (SPEC §7).
STANDARD_COLUMNS: Mapping[str, CanonicalField] = MappingProxyType(
    {
        "明細番号": "statement_no",
        "利用日": "usage_date",
        "売上日": "posting_date",
        "カード連携用コード": "linkage_code",
        "社員コード": "employee_code",
        "利用者カナ": "kana_name",
        "カード番号下4桁": "last4",
        "利用店名": "merchant",
        "利用金額": "amount",
        "現地通貨額": "local_amount",
        "通貨": "currency",
        "承認番号": "approval_no",
        "決済区分": "settlement",
    }
)


def standard_format(card_company: str, *, requires_employee_code: bool) -> StatementFormat:
    """The standard statement format for a card company that matches on linkage code + kana name."""
    return StatementFormat(
        card_company=card_company,
        columns=dict(STANDARD_COLUMNS),
        requires_employee_code=requires_employee_code,
        requires_kana_name=True,
    )


#: Credit Saison: linkage code + kana name; it keeps no employee code.
SAISON = standard_format("saison", requires_employee_code=False)
#: Any other company on the standard format: linkage code + employee code + kana name.
GENERIC = standard_format("generic", requires_employee_code=True)
#: A corporate-card export of our own design: other headers and order, no 明細番号 (lines are
#: identified by a hash), dates YYYYMMDD, amounts with thousands separators and △ for refunds,
#: settlement as codes 1 (法人) / 2 (個人); matches on linkage code + employee code, no kana.
JCB_CORPORATE = StatementFormat(
    card_company="jcb_corporate",
    columns={
        "ご利用日": "usage_date",
        "ご利用先": "merchant",
        "ご利用金額": "amount",
        "会員連携コード": "linkage_code",
        "社員番号": "employee_code",
        "会員名カナ": "kana_name",
        "カード末尾": "last4",
        "計上日": "posting_date",
        "外貨金額": "local_amount",
        "通貨コード": "currency",
        "承認番号": "approval_no",
        "決済種別": "settlement",
    },
    optional_headers=frozenset({"外貨金額", "通貨コード"}),
    date_format="%Y%m%d",
    thousands_separator=",",
    negative_prefixes=("-", "△", "▲"),
    settlement_values={"1": "corporate", "2": "personal"},
    requires_employee_code=True,
    requires_kana_name=False,
)

FORMATS: Mapping[str, StatementFormat] = MappingProxyType(
    {fmt.card_company: fmt for fmt in (SAISON, GENERIC, JCB_CORPORATE)}
)


def format_for(card_company: str, formats: Mapping[str, StatementFormat] = FORMATS) -> StatementFormat:
    """The configured format of a card company; unknown names are an error, never a guess."""
    try:
        return formats[card_company]
    except KeyError:
        raise UnknownCardCompany(f"no statement format for card company {card_company!r}") from None
