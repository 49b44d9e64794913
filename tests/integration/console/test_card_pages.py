"""The console's card-line pages (issue 15 item 5, part): a tenant admin applies the proposed fix in
one click, an employee excludes a personal leftover (対象外) and asks why a line cannot be selected;
nobody reaches another tenant's lines."""

from __future__ import annotations

from typing import Any

from cardops.console.tokens import SandboxIssuer
from tests.integration.console.conftest import Browser
from tests.integration.feeds.conftest import Feeds


def tenant_admin(tenant: str) -> dict[str, Any]:
    return {"sub": f"ta-{tenant}", "cognito:groups": ["tenant_admin"], "custom:tenant_id": tenant}


def employee(tenant: str, code: str) -> dict[str, Any]:
    return {
        "sub": f"emp-{code}",
        "cognito:groups": ["employee"],
        "custom:tenant_id": tenant,
        "custom:employee_code": code,
    }


def test_a_tenant_admin_applies_the_proposed_fix_in_one_click(feeds: Feeds, console: SandboxIssuer) -> None:
    feeds.setup_tenant("t1")
    feeds.deliver("t1", "saison", "saison_cp932_halfwidth.csv")
    feeds.sync("2026-05-07")
    small = next(e for e in feeds.errors("t1") if e["reason"] == "name_small_kana")
    admin = Browser(console, tenant_admin("t1"))
    page = admin.get("/console/tenants/t1/card-errors")
    assert page.status == 200
    assert "name_small_kana" in page.body and small["hint"] in page.body
    assert small["proposed_fix"]["value"] in page.body

    outsider = Browser(console, tenant_admin("t2"))
    assert outsider.get("/console/tenants/t1/card-errors").status == 403
    assert outsider.post(f"/console/tenants/t1/card-errors/{small['line_id']}/apply-fix", {}).status == 403
    assert small["line_id"] in {e["line_id"] for e in feeds.errors("t1")}

    done = admin.post(f"/console/tenants/t1/card-errors/{small['line_id']}/apply-fix", {})
    assert done.status == 303 and done.location.endswith("/console/tenants/t1/card-errors?done=fix")
    assert small["line_id"] not in {e["line_id"] for e in feeds.errors("t1")}
    mine = Browser(console, employee("t1", "E002")).get("/console/me/card-lines")
    assert mine.status == 200 and "選択できます" in mine.body


def test_an_employee_excludes_a_personal_leftover_and_asks_why(feeds: Feeds, console: SandboxIssuer) -> None:
    feeds.setup_tenant("t1")
    for name in ("saison_cp932_halfwidth.csv",):
        feeds.deliver("t1", "saison", name)
    feeds.deliver("t1", "generic", "generic_utf8_bom.csv")
    feeds.sync("2026-05-07")
    personal = next(
        line
        for code in ("E001", "E002", "E005", "E007")
        for line in feeds.ok("GET", f"/admin/tenants/t1/employees/{code}/card-lines")
        if line["settlement"] == "personal"
    )
    owner = Browser(console, employee("t1", personal["employee_code"]))
    other = Browser(console, employee("t1", "E001" if personal["employee_code"] != "E001" else "E002"))
    # another employee cannot exclude it: the use case refuses a line not matched to them
    assert other.post(f"/console/me/card-lines/{personal['line_id']}/exclude", {}).status == 409
    done = owner.post(f"/console/me/card-lines/{personal['line_id']}/exclude", {})
    assert done.status == 303
    lines = feeds.ok("GET", f"/admin/tenants/t1/employees/{personal['employee_code']}/card-lines")
    assert personal["line_id"] not in {line["line_id"] for line in lines}
    answer = owner.post("/console/me/diagnosis", {"usage_date": personal["usage_date"]})
    assert answer.status == 200 and 'id="diagnosis"' in answer.body
    assert owner.post("/console/me/diagnosis", {"usage_date": "yesterday"}).status == 400
