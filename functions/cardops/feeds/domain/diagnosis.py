"""Diagnosis: "I paid by card but cannot select the line" (SPEC §7, seed 000).

Given the employee, the usage date and optionally the amount, and the tenant's facts (its lines
with their state, the last sync watermark, its corporate number), answer the one cause the support
desk would find, in this order: the corporate number blocks everything; a line that is selectable
wins; then an unmatched line (with the reason, the fields to compare and the proposed fix); then a
line already used or excluded; and when no line is known, it is not synced yet — card lines are
not real time: merchants forward them to the card company on their own schedule and the card
company's data is synced once per business day. Every answer carries the facts the support desk
asks for: settlement type, usage date, linkage code, and the employee code at the card company
where that company needs one (Credit Saison does not).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from cardops.feeds.domain.corporate_number import corporate_number_problem
from cardops.feeds.domain.formats import FORMATS, StatementFormat
from cardops.feeds.domain.matching import ComparedField, ProposedFix, ReasonCode
from cardops.feeds.domain.models import Employee, Settlement
from cardops.feeds.domain.normalize import enlarge_small_kana, normalize_code, normalize_kana_name
from cardops.feeds.domain.schedule import DEFAULT_SYNC_TIME, next_scheduled_sync
from cardops.feeds.domain.settlement import LineRecord

Cause = Literal[
    "not_yet_synced",
    "corporate_number_missing",
    "corporate_number_invalid",
    "unmatched",
    "already_used",
    "excluded",
    "selectable",
]

MESSAGES: Mapping[Cause, str] = {
    "not_yet_synced": (
        "利用明細はまだ連携されていません。加盟店からカード会社への転送は加盟店ごとのタイミングで行われ、"
        "カード会社のデータは1日1回(土日祝日除く)同期されます / not synced yet: merchants forward card "
        "usage to the card company on their own schedule, and card data is synced once per business day"
    ),
    "corporate_number_missing": (
        "法人番号が登録されていないため明細が連携されません / "
        "the corporate number is not registered, so no card lines are linked"
    ),
    "corporate_number_invalid": (
        "法人番号が正しくないため明細が連携されません / "
        "the registered corporate number is invalid, so no card lines are linked"
    ),
    "unmatched": (
        "登録情報の不一致により利用者と紐づいていません(管理者のみ確認可能なエラーデータ) / "
        "the line did not match the employee master; it is admin-only error data until the master is fixed"
    ),
    "already_used": (
        "この明細は既に経費精算で使用されています / the line is already used in an expense report"
    ),
    "excluded": "この明細は対象外に設定されています / the line is marked excluded (対象外)",
    "selectable": "この明細は申請画面で選択できます / the line is selectable in an expense claim",
}
PERSONAL_NOTE = (
    "個人決済の明細は後から精算伝票に紐づけできません。未精算の明細は対象外にしてください / "
    "personal-settled lines cannot be linked to a report later; mark leftovers excluded (対象外)"
)
CORPORATE_NOTE = (
    "法人決済の明細は、明細を使わずに申請した伝票へ管理者が後から紐づけできます / "
    "an admin can link a corporate-settled line to a report submitted without it"
)


class SupportFacts(BaseModel):
    """What the support desk asks for when a customer calls (seed 000, お問い合わせの際には)."""

    model_config = ConfigDict(frozen=True)

    settlement: Settlement
    usage_date: date
    card_linkage_code: str
    card_company: str | None = None
    #: Only where the card company needs one (None for e.g. saison, which matches without it).
    card_company_employee_code: str | None = None


class TenantFeedFacts(BaseModel):
    """What is known about a tenant's card feed when the question is asked."""

    model_config = ConfigDict(frozen=True)

    corporate_number: str | None
    lines: Sequence[LineRecord] = ()
    last_sync_watermark: AwareDatetime | None = None
    #: The tenant's card company, when no line tells it.
    card_company: str | None = None


class Diagnosis(BaseModel):
    """The cause, what to do about it, and the facts to quote."""

    model_config = ConfigDict(frozen=True)

    cause: Cause
    message: str
    facts: SupportFacts
    line_ids: tuple[str, ...] = ()
    next_sync_date: date | None = None
    last_sync_watermark: datetime | None = None
    reason: ReasonCode | None = None
    hint: str | None = None
    compared: tuple[ComparedField, ...] = ()
    proposed_fix: ProposedFix | None = None
    report_id: str | None = None
    settlement_note: str | None = None


def _concerns(record: LineRecord, employee: Employee, linkage: str, name_large: str) -> bool:
    """Whether a line is this employee's: matched to them, or unmatched but pointing at them."""
    if record.employee_code is not None:
        return record.employee_code == employee.employee_code
    if normalize_code(record.line.linkage_code) == linkage:
        return True
    error = record.error
    if error is not None and employee.employee_code in (
        error.employee_code,
        error.proposed_fix.employee_code if error.proposed_fix else None,
    ):
        return True
    kana = record.line.kana_name
    return bool(kana) and enlarge_small_kana(normalize_kana_name(kana or "")) == name_large


def _state(record: LineRecord) -> Cause:
    if not record.matched:
        return "unmatched"
    if record.report_id is not None:
        return "already_used"
    if record.excluded:
        return "excluded"
    return "selectable"


_RANK: Mapping[Cause, int] = {"selectable": 0, "unmatched": 1, "already_used": 2, "excluded": 3}


def diagnose(
    employee: Employee,
    usage_date: date,
    facts: TenantFeedFacts,
    now: datetime,
    *,
    amount: int | None = None,
    sync_time: time = DEFAULT_SYNC_TIME,
    formats: Mapping[str, StatementFormat] = FORMATS,
) -> Diagnosis:
    """Why the employee cannot select the line they paid on ``usage_date`` (of ``amount`` yen)."""
    linkage = normalize_code(employee.card_linkage_code)
    name_large = enlarge_small_kana(normalize_kana_name(employee.name_kana))
    found = sorted(
        (
            record
            for record in facts.lines
            if record.line.usage_date == usage_date
            and (amount is None or record.line.amount == amount)
            and _concerns(record, employee, linkage, name_large)
        ),
        key=lambda record: (_RANK[_state(record)], record.line.line_id),
    )
    best = found[0] if found else None
    card_company = best.line.card_company if best else facts.card_company
    fmt = formats.get(card_company) if card_company else None
    needs_code = fmt is None or fmt.requires_employee_code
    support = SupportFacts(
        settlement=best.line.settlement if best else employee.settlement,
        usage_date=usage_date,
        card_linkage_code=employee.card_linkage_code,
        card_company=card_company,
        card_company_employee_code=employee.code_at_card_company if needs_code else None,
    )
    note = PERSONAL_NOTE if support.settlement == "personal" else CORPORATE_NOTE
    blocked = corporate_number_problem(facts.corporate_number)
    if blocked is not None:
        return Diagnosis(cause=blocked, message=MESSAGES[blocked], facts=support, reason=blocked)
    if best is None:
        return Diagnosis(
            cause="not_yet_synced",
            message=MESSAGES["not_yet_synced"],
            facts=support,
            next_sync_date=next_scheduled_sync(now, sync_time),
            last_sync_watermark=facts.last_sync_watermark,
            settlement_note=note,
        )
    cause = _state(best)
    same = tuple(record.line.line_id for record in found if _state(record) == cause)
    error = best.error if cause == "unmatched" else None
    return Diagnosis(
        cause=cause,
        message=MESSAGES[cause],
        facts=support,
        line_ids=same,
        last_sync_watermark=facts.last_sync_watermark,
        reason=error.reason if error else None,
        hint=error.hint if error else None,
        compared=error.compared if error else (),
        proposed_fix=error.proposed_fix if error else None,
        report_id=best.report_id if cause == "already_used" else None,
        settlement_note=note if cause in ("unmatched", "excluded", "already_used") else None,
    )
