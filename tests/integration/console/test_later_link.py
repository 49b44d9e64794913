"""The tenant admin's later-link (issue 15 item 1, tenant admin): a corporate-settled line is linked
to an expense report submitted without it; a personal-settled one cannot be (SPEC §7). An employee
selects a line for a claim. Scoped to the tenant (and employee), CSRF on every form, the acting
user recorded."""

from __future__ import annotations

from typing import Any

import pytest

from cardops.console.tokens import SandboxIssuer
from cardops.console.web import MAX_PAGE_BYTES
from tests.integration.console.conftest import FINANCE, Browser
from tests.integration.console.test_card_pages import employee, tenant_admin
from tests.integration.feeds.conftest import Feeds

CODES = ("E001", "E002", "E005", "E007")


def _open_lines(feeds: Feeds, settlement: str) -> list[dict[str, Any]]:
    """The tenant's matched lines still open (neither used nor excluded) of one settlement."""
    return [
        line
        for code in CODES
        for line in feeds.ok("GET", f"/admin/tenants/t1/employees/{code}/card-lines")
        if line["settlement"] == settlement
    ]


def _line(feeds: Feeds, code: str, line_id: str) -> dict[str, Any]:
    lines = feeds.ok("GET", f"/admin/tenants/t1/employees/{code}/card-lines?selectable=false")
    return next(line for line in lines if line["line_id"] == line_id)


@pytest.fixture
def synced(feeds: Feeds) -> Feeds:
    """Tenant ``t1`` with its employee master and the generic sample's lines matched."""
    feeds.setup_tenant("t1")
    feeds.deliver("t1", "generic", "generic_utf8_bom.csv")
    feeds.sync("2026-05-07")
    return feeds


def test_a_tenant_admin_links_a_corporate_line_to_a_submitted_report(
    synced: Feeds, console: SandboxIssuer
) -> None:
    feeds = synced
    corporate = _open_lines(feeds, "corporate")[0]
    code, line_id = corporate["employee_code"], corporate["line_id"]
    admin = Browser(console, tenant_admin("t1"))

    page = admin.get(f"/console/tenants/t1/card-lines?employee_code={code}")
    assert page.status == 200 and len(page.body.encode()) < MAX_PAGE_BYTES
    assert f'for="link-{line_id}"' in page.body and f'id="link-{line_id}"' in page.body  # labelled
    assert "/console/tenants/t1/card-lines" in admin.get("/console").body

    link = f"/console/tenants/t1/card-lines/{line_id}/link"
    form = {"employee_code": code, "report_id": "RPT-2026-0042"}
    # another tenant's admin, finance, an employee, or a form without this session's token: nothing
    for outsider in (tenant_admin("t2"), FINANCE, employee("t1", code)):
        assert Browser(console, outsider).post(link, form).status == 403
        assert (
            Browser(console, outsider).get(f"/console/tenants/t1/card-lines?employee_code={code}").status
            == 403
        )
    assert admin.post(link, form, csrf=False).status == 403
    assert admin.post(link, {**form, "report_id": "no spaces"}).status == 400
    assert _line(feeds, code, line_id)["report_id"] is None

    done = admin.post(link, form)
    assert done.status == 303
    assert done.location == f"/console/tenants/t1/card-lines?employee_code={code}&done=link"
    linked = _line(feeds, code, line_id)
    assert linked["report_id"] == "RPT-2026-0042" and linked["changed_by"] == "console:ta-t1"
    assert admin.post(link, form).status == 409  # already used in a report
    shown = admin.get(done.location)
    assert "明細を申請に紐付けました" in shown.body and "RPT-2026-0042" in shown.body


def test_a_personal_line_cannot_be_linked_later_and_its_employee_selects_it(
    synced: Feeds, console: SandboxIssuer
) -> None:
    feeds = synced
    personal = _open_lines(feeds, "personal")[0]
    code, line_id = personal["employee_code"], personal["line_id"]
    admin = Browser(console, tenant_admin("t1"))
    page = admin.get(f"/console/tenants/t1/card-lines?employee_code={code}")
    assert f'id="link-{line_id}"' not in page.body and "紐付け不可" in page.body
    refused = admin.post(
        f"/console/tenants/t1/card-lines/{line_id}/link", {"employee_code": code, "report_id": "RPT-1"}
    )
    assert refused.status == 409 and _line(feeds, code, line_id)["report_id"] is None

    owner = Browser(console, employee("t1", code))
    mine = owner.get("/console/me/card-lines")
    assert f'for="select-{line_id}"' in mine.body
    select = f"/console/me/card-lines/{line_id}/select"
    assert owner.post(select, {"report_id": "RPT-7"}, csrf=False).status == 403
    other = "E001" if code != "E001" else "E002"
    assert Browser(console, employee("t1", other)).post(select, {"report_id": "RPT-7"}).status == 409
    done = owner.post(select, {"report_id": "RPT-7"})
    assert done.status == 303 and done.location == "/console/me/card-lines?done=select"
    used = _line(feeds, code, line_id)
    assert used["report_id"] == "RPT-7" and used["changed_by"] == f"console:emp-{code}"
