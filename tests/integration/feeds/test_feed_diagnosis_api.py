"""Diagnosis over the API (SPEC §7): every cause, with the support facts and the next sync date."""

from __future__ import annotations

from datetime import date

from cardops.feeds.domain.schedule import next_scheduled_sync
from cardops.kernel import clock
from tests.integration.feeds.conftest import Feeds


def _diagnose(
    feeds: Feeds, tenant: str, employee: str, usage_date: str, amount: int | None = None
) -> dict[str, object]:
    path = f"/admin/tenants/{tenant}/employees/{employee}/diagnosis?usage_date={usage_date}"
    if amount is not None:
        path += f"&amount={amount}"
    result: dict[str, object] = feeds.ok("GET", path)
    return result


def test_every_diagnosis_cause(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    feeds.setup_tenant("nocn", corporate_number=None)
    feeds.setup_tenant("badcn", corporate_number="5835678256247", unchecked=True)
    for tenant in ("t1", "nocn", "badcn"):
        feeds.deliver(tenant, "generic", "generic_2026-05-07.csv")
        feeds.deliver(tenant, "saison", "saison_cp932_halfwidth.csv")
    feeds.sync("2026-05-07")

    not_synced = _diagnose(feeds, "t1", "E001", "2026-05-06")
    assert not_synced["cause"] == "not_yet_synced"
    assert not_synced["next_sync_date"] == next_scheduled_sync(clock.now()).isoformat()
    assert not_synced["facts"]["card_company_employee_code"] == "S0001"  # type: ignore[index]

    assert _diagnose(feeds, "nocn", "E001", "2026-04-30")["cause"] == "corporate_number_missing"
    assert _diagnose(feeds, "badcn", "E001", "2026-04-30")["cause"] == "corporate_number_invalid"

    selectable = _diagnose(feeds, "t1", "E001", "2026-04-30", amount=3300)
    assert selectable["cause"] == "selectable" and selectable["line_ids"] == ["generic:G-0200"]
    facts = selectable["facts"]
    assert facts == {
        "settlement": "corporate",
        "usage_date": "2026-04-30",
        "card_linkage_code": "LK0001",
        "card_company": "generic",
        "card_company_employee_code": "S0001",
    }

    small = next(e for e in feeds.errors("t1") if e["reason"] == "name_small_kana")
    employee = small["employee_code"]
    unmatched = _diagnose(feeds, "t1", employee, small["usage_date"])
    assert unmatched["cause"] == "unmatched" and unmatched["reason"] == "name_small_kana"
    assert unmatched["proposed_fix"] == small["proposed_fix"] and unmatched["compared"]
    if small["card_company"] == "saison":
        assert unmatched["facts"]["card_company_employee_code"] is None  # type: ignore[index]

    feeds.ok(
        "POST",
        "/admin/tenants/t1/employees/E001/card-lines/generic:G-0200/select",
        {"report_id": "R-10"},
    )
    used = _diagnose(feeds, "t1", "E001", "2026-04-30", amount=3300)
    assert used["cause"] == "already_used" and used["report_id"] == "R-10"

    personal = [
        line
        for code in ("E005", "E007")
        for line in feeds.ok("GET", f"/admin/tenants/t1/employees/{code}/card-lines")
        if line["settlement"] == "personal"
    ]
    line = personal[0]
    feeds.ok(
        "POST", f"/admin/tenants/t1/employees/{line['employee_code']}/card-lines/{line['line_id']}/exclude"
    )
    excluded = _diagnose(feeds, "t1", line["employee_code"], line["usage_date"], amount=line["amount"])
    assert excluded["cause"] == "excluded" and excluded["facts"]["settlement"] == "personal"  # type: ignore[index]
    assert "対象外" in str(excluded["settlement_note"])


def test_diagnosis_of_unknown_employee_is_404(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    status, _ = feeds.api("GET", f"/admin/tenants/t1/employees/NOPE/diagnosis?usage_date={date(2026, 5, 1)}")
    assert status == 404
    status, _ = feeds.api("GET", "/admin/tenants/t1/employees/E001/diagnosis?usage_date=2026-99-01")
    assert status == 422
