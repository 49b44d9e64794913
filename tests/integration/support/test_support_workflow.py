"""The support-case state machine: the real definition executed by moto, with the real handlers."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from typing import Any

import pytest

from cardops import resources
from cardops.handlers import support as support_handler
from tests.integration.support.conftest import (
    DESK,
    admin,
    advance_to,
    execution_arn,
    open_case,
    status,
    wait_until,
    waits_entered,
)

DEFINITION = resources.STATE_MACHINES["SupportCase"].definition_path


def test_definition_passes_statelint_and_waits_on_timestamps() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "statelint", str(DEFINITION)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr
    text = DEFINITION.read_text(encoding="utf-8")
    for placeholder, key in resources.STATE_MACHINES["SupportCase"].function_substitutions.items():
        assert "${" + placeholder + "}" in text and key in resources.FUNCTIONS
    waits = [s for s in json.loads(text)["States"].values() if s["Type"] == "Wait"]
    assert waits and all("TimestampPath" in s for s in waits)  # business-day timers, not fixed seconds


@pytest.fixture
def metrics(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names: list[str] = []
    monkeypatch.setattr(support_handler.metrics, "add_metric", lambda name, **kwargs: names.append(name))
    return names


def _history(case_id: str) -> list[dict[str, Any]]:
    code, body = admin("GET", f"/admin/cases/{case_id}")
    assert code == 200, body
    return list(body["history"])


def test_missed_deadlines_remind_then_escalate_and_alarm(support: Any, metrics: list[str]) -> None:
    case = open_case(
        {
            "category": "missing_refund",
            "summary": "refund not on the statement",
            "subject": {"store_id": "store-1"},
        }
    )
    arn = execution_arn(support, case["case_id"])
    wait_until(lambda: waits_entered(arn) >= 1, what="the first wait")
    # nothing happens before the first reminder is due: the execution waits
    assert [h["action"] for h in _history(case["case_id"])] == ["open"]

    advance_to(datetime.fromisoformat(case["due"]["resolve"]))
    wait_until(lambda: status(arn) != "RUNNING", what="the execution to end")
    assert status(arn) == "SUCCEEDED"
    entries = _history(case["case_id"])
    assert [(h["action"], h["actor"]) for h in entries] == [
        ("open", DESK),
        ("remind", "workflow"),
        ("escalate", "workflow"),
        ("remind", "workflow"),
        ("escalate", "workflow"),
    ]
    assert "ack missed" in entries[2]["note"] and "escalated to support_lead" in entries[2]["note"]
    assert metrics.count("SupportSlaMissed") == 2 and metrics.count("SupportReminderSent") == 2


def test_acknowledged_in_time_then_resolved_stops_the_timers(support: Any, metrics: list[str]) -> None:
    case = open_case({"category": "service", "summary": "slow answers", "subject": {"store_id": "store-1"}})
    arn = execution_arn(support, case["case_id"])
    wait_until(lambda: waits_entered(arn) >= 1, what="the first wait")
    code, acked = admin("POST", f"/admin/cases/{case['case_id']}/ack", {"note": "called back"})
    assert code == 200 and acked["status"] == "acknowledged"
    # the ack reminder is moot now: the execution skips it and waits for the resolution's reminder
    advance_to(datetime.fromisoformat(case["reminder_at"]["ack"]))
    wait_until(lambda: waits_entered(arn) >= 2, what="the wait for the resolution reminder")
    code, done = admin(
        "POST",
        f"/admin/cases/{case['case_id']}/resolve",
        {"resolution": "explained the timing"},
        user=DESK + "2",
    )
    assert code == 200 and done["status"] == "resolved" and done["resolved_by"] == DESK + "2"
    wait_until(lambda: status(arn) == "ABORTED", what="the stop")
    assert [h["action"] for h in _history(case["case_id"])] == ["open", "acknowledge", "resolve"]
    assert "SupportSlaMissed" not in metrics


def test_public_body_complaint_reports_within_one_business_day_or_escalates(
    support: Any, metrics: list[str]
) -> None:
    case = open_case(
        {
            "category": "public_body_consumer_harm",
            "summary": "consumer agency forwarded a complaint",
            "channel": "letter",
            "subject": {"store_id": "store-9"},
        }
    )
    assert case["contact_hold"] is True and set(case["due"]) == {"ack", "resolve", "report"}
    arn = execution_arn(support, case["case_id"])
    wait_until(lambda: waits_entered(arn) >= 1, what="the first wait")
    advance_to(datetime.fromisoformat(case["due"]["report"]))
    wait_until(lambda: metrics.count("SupportSlaMissed") >= 1, what="the report escalation")
    entries = _history(case["case_id"])
    escalations = [h for h in entries if h["action"] == "escalate"]
    assert escalations and "report missed" in escalations[0]["note"]
    code, body = admin("POST", f"/admin/cases/{case['case_id']}/contact", {"note": "call the customer"})
    assert code == 409 and body["error"]["code"] == "contact_hold"
    for action in ("ack", "report", "release-hold", "contact"):
        code, body = admin("POST", f"/admin/cases/{case['case_id']}/{action}", {})
        assert code == 200, (action, body)
    code, body = admin(
        "POST", f"/admin/cases/{case['case_id']}/resolve", {"resolution": "closed with the agency"}
    )
    assert code == 200 and body["status"] == "resolved"
    wait_until(lambda: status(arn) in ("ABORTED", "SUCCEEDED"), what="the end")
