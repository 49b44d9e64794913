"""Case transitions: history per change, contact hold, and no close without acknowledgement (property)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardops.kernel.calendar import TOKYO
from cardops.support.domain.cases import (
    Case,
    CaseDraft,
    CaseError,
    CaseHistoryEntry,
    CaseStatus,
    Category,
    ContactHoldError,
    NotAcknowledgedError,
    NotReportedError,
    Subject,
    acknowledge,
    fire,
    next_firing,
    open_case,
    record_contact,
    release_hold,
    report_to_program,
    resolve,
)

START = datetime(2026, 4, 28, 10, tzinfo=TOKYO)
DESK = "arn:aws:iam::123456789012:user/desk"


def _open(category: Category = Category.MISSING_REFUND) -> tuple[Case, CaseHistoryEntry]:
    draft = CaseDraft(
        category=category, summary="refund not on the card", subject=Subject(store_id="store-1")
    )
    return open_case(draft, case_id="case-1", actor=DESK, now=START)


def test_resolve_needs_acknowledgement() -> None:
    case, _ = _open()
    with pytest.raises(NotAcknowledgedError):
        resolve(case, actor=DESK, now=START, resolution="done")
    acked, entry = acknowledge(case, actor=DESK, now=START + timedelta(hours=1))
    assert entry.action == "acknowledge" and entry.actor == DESK and entry.seq == 2
    done, entry = resolve(
        acked, actor="arn:aws:iam::1:user/b", now=START + timedelta(days=2), resolution="found it"
    )
    assert done.status is CaseStatus.RESOLVED and entry.from_status is CaseStatus.ACKNOWLEDGED
    assert done.resolved_by == "arn:aws:iam::1:user/b" and next_firing(done) is None


def test_public_body_hold_refuses_contact_until_reported_and_released() -> None:
    case, opened = _open(Category.PUBLIC_BODY_CONSUMER_HARM)
    assert "contact hold" in opened.note
    case, _ = acknowledge(case, actor=DESK, now=START)
    with pytest.raises(ContactHoldError):
        record_contact(case, actor=DESK, now=START)
    with pytest.raises(ContactHoldError):
        resolve(case, actor=DESK, now=START, resolution="x")
    with pytest.raises(NotReportedError):
        release_hold(case, actor=DESK, now=START)
    case, _ = report_to_program(case, actor=DESK, now=START)
    case, entry = release_hold(case, actor="arn:aws:iam::1:user/lead", now=START + timedelta(hours=3))
    assert entry.action == "release_hold" and case.hold_released_by == "arn:aws:iam::1:user/lead"
    case, _ = record_contact(case, actor=DESK, now=START + timedelta(hours=4))
    assert case.contacts == 1


def test_escalation_follows_the_path_once_per_timer() -> None:
    case, _ = _open(Category.PUBLIC_BODY_LEGAL)
    late = START + timedelta(days=40)
    fired = []
    while (firing := next_firing(case)) is not None:
        changed = fire(case, firing, actor="workflow", now=late)
        assert changed is not None
        case, entry = changed
        fired.append(entry.action)
        assert fire(case, firing, actor="workflow", now=late) is None  # a repeated step changes nothing
    assert fired.count("escalate") == 3 and fired.count("remind") == 3
    assert case.escalated_to == ("support_lead", "compliance", "card_program")


def test_a_firing_before_its_time_is_moot() -> None:
    case, _ = _open()
    firing = next_firing(case)
    assert firing is not None
    assert fire(case, firing, actor="workflow", now=firing.at - timedelta(seconds=1)) is None


ACTIONS = st.sampled_from(["ack", "report", "release", "contact", "resolve", "fire"])


@settings(max_examples=200, deadline=None)
@given(
    category=st.sampled_from(list(Category)),
    actions=st.lists(st.tuples(ACTIONS, st.integers(min_value=0, max_value=30 * 24)), max_size=12),
)
def test_no_case_closes_without_acknowledgement(category: Category, actions: list[tuple[str, int]]) -> None:
    case, entry = _open(category)
    history = [entry]
    now = START
    for action, hours in actions:
        now += timedelta(hours=hours)
        try:
            if action == "ack":
                changed = acknowledge(case, actor=DESK, now=now)
            elif action == "report":
                changed = report_to_program(case, actor=DESK, now=now)
            elif action == "release":
                changed = release_hold(case, actor=DESK, now=now)
            elif action == "contact":
                changed = record_contact(case, actor=DESK, now=now)
            elif action == "resolve":
                changed = resolve(case, actor=DESK, now=now, resolution="done")
            else:
                firing = next_firing(case)
                fired = fire(case, firing, actor="workflow", now=now) if firing else None
                if fired is None:
                    continue
                changed = fired
        except CaseError:
            continue
        case, entry = changed
        history.append(entry)
    # every change is one history entry, in order, and the case's version counts them
    assert [h.seq for h in history] == list(range(1, case.version + 1))
    if case.status is CaseStatus.RESOLVED:
        actions_seen = [h.action for h in history]
        assert case.acknowledged_at is not None and case.acknowledged_at <= case.resolved_at  # type: ignore[operator]
        assert actions_seen.index("acknowledge") < actions_seen.index("resolve")
        if case.public_body:
            assert actions_seen.index("release_hold") < actions_seen.index("resolve")
