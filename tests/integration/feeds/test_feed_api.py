"""Contract 5 and 7 through the real admin handler on moto: every reason code from the sample files,
fixes applied in one step, hand assignment, link/exclude rules, the employee list and diagnosis."""

from __future__ import annotations

from typing import Any

from tests.integration.feeds.conftest import Feeds

SAMPLES = {
    "saison": ["saison_cp932_halfwidth.csv"],
    "generic": [
        "generic_utf8_bom.csv",
        "generic_broken_row.csv",
        "generic_2026-05-07.csv",
        "generic_2026-05-08.csv",
    ],
    "jcb_corporate": ["jcb_corporate_2026-05-07.csv"],
}


def _deliver_all(feeds: Feeds, tenant: str) -> None:
    for company, names in SAMPLES.items():
        for name in names:
            feeds.deliver(tenant, company, name)


def test_sync_reads_every_sample_and_reports_each_reason(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    _deliver_all(feeds, "t1")
    summary = feeds.sync("2026-05-07")
    assert summary["status"] == "completed"
    assert summary["files_total"] == 6 and summary["files_done"] == 6
    assert (
        summary["lines_read"]
        == summary["matched"] + summary["errors"] + summary["duplicates"] + summary["malformed"]
    )
    assert summary["duplicates"] >= 1  # G-0201 is in both generic deliveries
    assert summary["malformed"] == 3
    broken = [p for p in summary["problems"] if p["file"].endswith("generic_broken_row.csv")]
    assert len(broken) == 3 and all(p["line"] and p["reason"] for p in broken)
    [tenant] = summary["tenants"]
    assert tenant["tenant_id"] == "t1" and tenant["corporate_number_problem"] is None
    errors = feeds.errors("t1")
    reasons = {e["reason"] for e in errors}
    assert {
        "unknown_linkage_code",
        "employee_code_mismatch",
        "name_small_kana",
        "name_romaji",
        "name_mismatch",
    } <= reasons
    assert len(errors) == summary["errors"]
    for error in errors:
        assert error["hint"] and "proposed_fix" in error
    small = next(e for e in errors if e["reason"] == "name_small_kana")
    assert small["proposed_fix"] == {
        "employee_code": "E002",
        "field": "name_kana",
        "value": "ガツコウ ハナコ",
    }
    romaji = next(e for e in errors if e["reason"] == "name_romaji")
    assert romaji["proposed_fix"]["employee_code"] == "E003" and romaji["proposed_fix"]["value"] == "セイサン"


def test_resync_is_harmless(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    _deliver_all(feeds, "t1")
    first = feeds.sync("2026-05-07")
    again = feeds.sync("2026-05-08")
    assert again["status"] == "completed"
    assert again["matched"] == 0 and again["errors"] == 0
    # the overlap re-lists recent files but files already done are not read again
    assert again["lines_read"] == 0
    assert len(feeds.errors("t1")) == first["errors"]


def test_corporate_number_missing_and_invalid_block_every_line(feeds: Feeds) -> None:
    feeds.setup_tenant("nocn", corporate_number=None)
    feeds.setup_tenant("badcn", corporate_number="1234567890123", unchecked=True)
    tenant = feeds.ok("GET", "/admin/tenants/badcn")
    assert tenant["corporate_number_status"] == "corporate_number_invalid"
    feeds.deliver("nocn", "generic", "generic_2026-05-07.csv")
    feeds.deliver("badcn", "generic", "generic_2026-05-07.csv")
    summary = feeds.sync("2026-05-07")
    by_tenant = {t["tenant_id"]: t for t in summary["tenants"]}
    assert by_tenant["nocn"]["corporate_number_problem"] == "corporate_number_missing"
    assert by_tenant["badcn"]["corporate_number_problem"] == "corporate_number_invalid"
    assert by_tenant["nocn"]["matched"] == 0 and by_tenant["badcn"]["matched"] == 0
    assert {e["reason"] for e in feeds.errors("nocn")} == {"corporate_number_missing"}
    assert {e["reason"] for e in feeds.errors("badcn")} == {"corporate_number_invalid"}
    line_id = feeds.errors("nocn")[0]["line_id"]
    status, body = feeds.api(
        "POST", f"/admin/tenants/nocn/card-errors/{line_id}/assign", {"employee_code": "E001"}
    )
    assert status == 409 and body["error"]["code"] == "corporate_number_missing"
    # registering the number and re-matching links what matches
    feeds.ok("PUT", "/admin/tenants/nocn", {"corporate_number": "5835678256246"})
    rematched = feeds.ok("POST", "/admin/tenants/nocn/rematch")
    assert rematched["matched"]
    assert "corporate_number_missing" not in {e["reason"] for e in feeds.errors("nocn")}


def test_apply_fix_updates_master_and_rematches(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    feeds.deliver("t1", "saison", "saison_cp932_halfwidth.csv")
    feeds.sync("2026-05-07")
    small = next(e for e in feeds.errors("t1") if e["reason"] == "name_small_kana")
    applied = feeds.ok("POST", f"/admin/tenants/t1/card-errors/{small['line_id']}/apply-fix")
    assert applied["employee"]["name_kana"] == small["proposed_fix"]["value"]
    assert small["line_id"] in applied["rematch"]["matched"]
    assert small["line_id"] not in {e["line_id"] for e in feeds.errors("t1")}
    lines = feeds.ok("GET", "/admin/tenants/t1/employees/E002/card-lines")
    assert small["line_id"] in {line["line_id"] for line in lines}
    employee = feeds.ok("GET", "/admin/tenants/t1/employees/E002")
    assert employee["name_kana"] == small["proposed_fix"]["value"]


def test_hand_assignment_and_unknown_employee(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    feeds.deliver("t1", "generic", "generic_utf8_bom.csv")
    feeds.sync("2026-05-07")
    unknown = next(e for e in feeds.errors("t1") if e["reason"] == "unknown_linkage_code")
    status, body = feeds.api(
        "POST", f"/admin/tenants/t1/card-errors/{unknown['line_id']}/assign", {"employee_code": "NOPE"}
    )
    assert status == 404
    line = feeds.ok(
        "POST", f"/admin/tenants/t1/card-errors/{unknown['line_id']}/assign", {"employee_code": "E006"}
    )
    assert line["employee_code"] == "E006" and line["selectable"]
    # the hand assignment names who made it: the IAM caller (the sandbox operator here)
    from cardops.sandbox.gateway import sandbox_user_arn

    assert line["changed_by"] == sandbox_user_arn()
    assert feeds.ok("GET", "/admin/tenants/t1")["updated_by"] == sandbox_user_arn()
    status, body = feeds.api(
        "POST", f"/admin/tenants/t1/card-errors/{unknown['line_id']}/assign", {"employee_code": "E001"}
    )
    assert status == 409 and body["error"]["code"] == "line_already_matched"


def test_linkage_code_held_by_another_employee_is_refused(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    status, body = feeds.api(
        "PUT",
        "/admin/tenants/t1/employees/E900",
        {"name_kana": "ヤマダ ハナコ", "card_linkage_code": "ＬＫ０００１", "settlement": "corporate"},
    )
    assert status == 409 and body["error"]["code"] == "linkage_code_taken"
    assert body["error"]["details"]["holder"] == "E001"
    # the holder may keep re-saving its own code; moving a code frees the old one
    feeds.ok(
        "PUT",
        "/admin/tenants/t1/employees/E001",
        {"name_kana": "ヤマダ タロウ", "card_linkage_code": "LK9001"},
    )
    feeds.ok(
        "PUT",
        "/admin/tenants/t1/employees/E900",
        {"name_kana": "ヤマダ ハナコ", "card_linkage_code": "LK0001"},
    )
    status, body = feeds.api(
        "PUT", "/admin/tenants/t1/employees/E901", {"name_kana": "ア", "card_linkage_code": "LK9001"}
    )
    assert status == 409
    status, _ = feeds.api(
        "PUT",
        "/admin/tenants/t1/employees/E902",
        {"name_kana": "ア", "card_linkage_code": "LK1", "settlement": "x"},
    )
    assert status == 422


def test_bulk_import_reports_bad_rows_and_taken_codes_cp932(feeds: Feeds) -> None:
    import base64

    feeds.setup_tenant("t1")
    text = (
        "社員コード,氏名カナ,カード連携用コード,決済区分\n"
        "E100,ｷﾑﾗ ｹﾝ,LK0100,個人\nE101,,LK0101,法人\nE102,アベ,LK0001,法人\n"
    )
    result = feeds.ok(
        "POST",
        "/admin/tenants/t1/employees/import",
        {"csv_base64": base64.b64encode(text.encode("cp932")).decode(), "file_name": "master.csv"},
    )
    assert result["imported"] == 1
    assert {p.get("line") for p in result["problems"]} >= {3}
    assert any(p.get("employee_code") == "E102" and "E001" in p["reason"] for p in result["problems"])
    assert feeds.ok("GET", "/admin/tenants/t1/employees/E100")["settlement"] == "personal"


def _matched_line(feeds: Feeds, tenant: str, employee: str) -> dict[str, Any]:
    lines: list[dict[str, Any]] = feeds.ok("GET", f"/admin/tenants/{tenant}/employees/{employee}/card-lines")
    assert lines, f"no selectable line for {employee}"
    return lines[0]


def test_link_corporate_and_exclude_personal(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    _deliver_all(feeds, "t1")
    feeds.sync("2026-05-07")
    corporate = _matched_line(feeds, "t1", "E001")
    assert corporate["settlement"] == "corporate"
    status, body = feeds.api(
        "POST", f"/admin/tenants/t1/employees/E001/card-lines/{corporate['line_id']}/exclude"
    )
    assert status == 409 and body["error"]["code"] == "corporate_line_not_excludable"
    linked = feeds.ok(
        "POST",
        f"/admin/tenants/t1/card-lines/{corporate['line_id']}/link",
        {"report_id": "R-1", "employee_code": "E001"},
    )
    assert linked["report_id"] == "R-1" and not linked["selectable"]
    status, body = feeds.api(
        "POST",
        f"/admin/tenants/t1/card-lines/{corporate['line_id']}/link",
        {"report_id": "R-2", "employee_code": "E001"},
    )
    assert status == 409 and body["error"]["code"] == "line_already_used"
    personal_lines = [
        line
        for employee in ("E005", "E007")
        for line in feeds.ok("GET", f"/admin/tenants/t1/employees/{employee}/card-lines")
        if line["settlement"] == "personal"
    ]
    assert personal_lines
    personal = personal_lines[0]
    owner = personal["employee_code"]
    status, body = feeds.api(
        "POST",
        f"/admin/tenants/t1/card-lines/{personal['line_id']}/link",
        {"report_id": "R-3", "employee_code": owner},
    )
    assert status == 409 and body["error"]["code"] == "personal_line_not_linkable"
    excluded = feeds.ok(
        "POST", f"/admin/tenants/t1/employees/{owner}/card-lines/{personal['line_id']}/exclude"
    )
    assert excluded["excluded"] and not excluded["selectable"]
    remaining = feeds.ok("GET", f"/admin/tenants/t1/employees/{owner}/card-lines")
    assert personal["line_id"] not in {line["line_id"] for line in remaining}


def test_refund_line_is_linked_to_its_purchase(feeds: Feeds) -> None:
    feeds.setup_tenant("t1")
    feeds.deliver("t1", "generic", "generic_2026-05-07.csv")
    feeds.deliver("t1", "generic", "generic_2026-05-08.csv")
    summary = feeds.sync("2026-05-08")
    assert summary["tenants"][0]["refunds_linked"] >= 1
    lines = feeds.ok("GET", "/admin/tenants/t1/employees/E001/card-lines?selectable=false")
    refund = next(line for line in lines if line["line_id"] == "generic:G-0202")
    assert refund["refund"]["status"] == "linked" and refund["refund"]["purchase_line_id"] == "generic:G-0200"


def test_employee_master_rules_are_422_naming_the_field(feeds: Feeds) -> None:
    """Input that passes the body's shape but not the master's rules: a 422, not a 500."""
    body = {"settlement": "corporate", "name_kana": "\t", "card_linkage_code": "LK9"}
    status, answer = feeds.api("PUT", "/admin/tenants/t1/employees/E900", body)
    assert status == 422, answer
    assert any("name_kana" in error["loc"] for error in answer["error"]["details"]["errors"])
