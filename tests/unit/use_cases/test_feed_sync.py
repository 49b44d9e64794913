"""The feed sync (SPEC §7) on the in-memory ports: which days run, what a line becomes (matched or
error data with its reason, hint and fix), and that duplicate, late or hostile input neither
counts twice nor costs the rest of the run anything."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from cardops.feeds.domain.formats import STANDARD_COLUMNS
from cardops.feeds.domain.matching import ProposedFix
from cardops.feeds.domain.schedule import scheduled_at
from cardops.feeds.use_cases.card_lines import CardLines
from cardops.feeds.use_cases.sync import Deps, FeedSync, SyncSummary
from cardops.kernel.calendar import holiday_name, is_weekend, next_business_day
from cardops.kernel.money import MAX_PLAUSIBLE_AMOUNT
from tests.builders import NOW
from tests.fakes.feeds import FakeFeedFiles, FakeFeedStore

EMPLOYEES = Path(__file__).resolve().parents[3] / "events" / "feeds" / "employees.csv"
CORPORATE_NUMBER = "5835678256246"  # the National Tax Agency's documented example
HEADER = ",".join(STANDARD_COLUMNS) + "\n"
#: a Monday that is a business day (from the calendar, not typed in)
DAY = next_business_day(date(2026, 5, 31))


def row(no: str, usage: str, linkage: str, code: str, kana: str, merchant: str, amount: str) -> str:
    """A statement row of the standard format (card ending 1234, corporate)."""
    return f"{no},{usage},,{linkage},{code},{kana},1234,{merchant},{amount},,,{no[-4:]},法人\n"


YAMADA = ("LK0001", "S0001", "ヤマダ タロウ")
SUZUKI = ("LK0004", "S0004", "スズキ イチロウ")  # the master has S9999 as the company's code


class World:
    """One tenant with the sample employee master, the fake store and bucket, and the sync on them."""

    def __init__(self) -> None:
        self.store = FakeFeedStore()
        self.files = FakeFeedFiles()
        cards = CardLines(self.store)
        cards.put_tenant("t1", CORPORATE_NUMBER, NOW, actor="admin")
        assert cards.import_employees("t1", EMPLOYEES.read_bytes(), "employees.csv").problems == []
        self.sync = FeedSync(Deps(files=self.files, directory=self.store, lines=self.store, state=self.store))

    def deliver(self, name: str, data: str | bytes, day: date = DAY) -> str:
        """A file delivered the evening before ``day``'s run."""
        key = f"feeds/t1/generic/{name}"
        self.files.deliver(
            key, data.encode() if isinstance(data, str) else data, scheduled_at(day) - timedelta(hours=12)
        )
        return key

    def run(self, day: date = DAY) -> SyncSummary:
        return self.sync.run(day, scheduled_at(day))

    def stored(self) -> dict[str, str | None]:
        """line id → employee code of every stored line."""
        return {line_id: s.record.employee_code for (_, line_id), s in sorted(self.store.stored.items())}


def first_day(wanted: str) -> date:
    """The first 2026 day that is a weekday holiday, or a Saturday that is no holiday."""
    day = date(2026, 1, 1)
    while True:
        if wanted == "holiday" and not is_weekend(day) and holiday_name(day) is not None:
            return day
        if wanted == "weekend" and day.weekday() == 5 and holiday_name(day) is None:
            return day
        day += timedelta(days=1)


@pytest.mark.parametrize("kind", ["holiday", "weekend"])
def test_a_holiday_or_weekend_is_skipped_and_the_next_business_day_takes_its_files(kind: str) -> None:
    world = World()
    day = first_day(kind)
    world.deliver("g.csv", HEADER + row("G-1", "2026/01/05", *YAMADA, "店", "1000"), day)
    skipped = world.run(day)
    assert (skipped.status, skipped.holiday_name) == (f"skipped_{kind}", holiday_name(day))
    assert skipped.next_sync_date == next_business_day(day)
    assert world.files.opened == [] and world.store.stored == {} and world.store.watermark() is None
    assert len(world.store.runs(day)) == 1  # the skip is recorded

    taken = world.run(skipped.next_sync_date)
    assert (taken.status, taken.matched) == ("completed", 1)
    # what `GET /admin/feeds/runs` answers: both, oldest first, or one business date's
    assert world.sync.runs() == [skipped, taken]
    assert world.sync.runs(day) == [skipped]


def test_a_matched_line_is_stored_with_its_employee_and_the_watermark_moves() -> None:
    world = World()
    key = world.deliver("g.csv", HEADER + row("G-1", "2026/05/20", *YAMADA, "タクシー", "1200"))
    summary = world.run()
    assert (summary.status, summary.lines_read, summary.matched, summary.errors) == ("completed", 1, 1, 0)
    assert world.stored() == {"generic:G-1": "E001"}
    assert world.store.watermark() == scheduled_at(DAY)
    assert world.store.done_etag(key) is not None and world.store.checkpoint is None
    assert [SyncSummary.model_validate_json(doc) for doc in world.store.runs(DAY)] == [summary]


def test_unmatched_lines_become_error_data_with_reason_hint_and_proposed_fix() -> None:
    world = World()
    world.deliver(
        "g.csv",
        HEADER
        + row("G-1", "2026/05/20", *SUZUKI, "店", "500")
        + row("G-2", "2026/05/20", "LK9999", "S0001", "ヤマダ タロウ", "店", "700"),
    )
    summary = world.run()
    assert (summary.matched, summary.errors, summary.malformed) == (0, 2, 0)
    errors = {s.record.line.line_id: s.record.error for s in world.store.error_lines("t1")}
    mismatch, unknown = errors["generic:G-1"], errors["generic:G-2"]
    assert mismatch is not None and unknown is not None
    assert mismatch.reason == "employee_code_mismatch" and mismatch.hint
    assert mismatch.proposed_fix == ProposedFix(
        employee_code="E004", field="card_company_employee_code", value="S0004"
    )
    # the employee whose code and kana the line carries is the one whose linkage code to fix
    assert unknown.reason == "unknown_linkage_code" and unknown.hint
    assert unknown.proposed_fix == ProposedFix(
        employee_code="E001", field="card_linkage_code", value="LK9999"
    )


def test_a_file_delivered_twice_and_a_line_repeated_are_counted_once() -> None:
    world = World()
    content = (
        HEADER
        + row("G-1", "2026/05/20", *YAMADA, "店", "100")
        + row("G-1", "2026/05/20", *YAMADA, "店", "100")
        + row("G-2", "2026/05/21", *YAMADA, "店", "200")
    )
    first = world.deliver("a.csv", content)
    world.deliver("a-again.csv", content)
    summary = world.run()
    assert (summary.lines_read, summary.matched, summary.duplicates) == (6, 2, 1 + 3)
    assert world.stored() == {"generic:G-1": "E001", "generic:G-2": "E001"}

    # the next run: the same file (same ETag) is not read again, even inside the window's overlap
    world.files.opened.clear()
    world.files.deliver(first, content.encode(), scheduled_at(DAY) - timedelta(minutes=5))
    later = world.run(next_business_day(DAY))
    assert (later.lines_read, later.matched, world.files.opened) == (0, 0, [])


def test_a_refund_delivered_before_its_purchase_is_linked_when_the_purchase_arrives() -> None:
    world = World()
    world.deliver("refund.csv", HEADER + row("R-1", "2026/05/25", *YAMADA, "ヨドバシカメラ", "-3300"))
    first = world.run()
    assert first.tenants[0].refunds_linked == 0
    after = next_business_day(DAY)
    world.deliver("purchase.csv", HEADER + row("P-1", "2026/05/10", *YAMADA, "ヨドバシカメラ", "3300"), after)
    second = world.run(after)
    assert (second.matched, second.tenants[0].refunds_linked) == (1, 1)
    refund = world.store.get_line("t1", "generic:R-1")
    assert refund is not None and refund.refund is not None
    assert (refund.refund.status, refund.refund.purchase_line_id) == ("linked", "generic:P-1")


def test_hostile_rows_are_rejected_with_their_reason_and_lose_nothing_else() -> None:
    world = World()
    hostile = (
        HEADER.encode()
        + row("G-1", "2026/05/20", *YAMADA, "店", "100").encode()
        + row("G-2", "2026/05/20", *YAMADA, "店", "100").encode().replace("店".encode(), b"\xff\xfe")
        + row("G-3", "2026/05/20", *YAMADA, "店", str(MAX_PLAUSIBLE_AMOUNT + 1)).encode()
        + row("G-4", "2026/05/20", *YAMADA, "店", "9" * 5000).encode()
        + row("G-5", "2026/05/20", *YAMADA, "店", "-" + "9" * 5000).encode()
        + row("G-6", "2026/05/21", *YAMADA, "店", str(MAX_PLAUSIBLE_AMOUNT)).encode()
        + row("G-7", "2026/05/21", *YAMADA, "店", "0" * 5000 + "12").encode()
    )
    key = world.deliver("hostile.csv", hostile)
    summary = world.run()
    assert summary.status == "completed" and world.store.watermark() == scheduled_at(DAY)
    assert (summary.lines_read, summary.matched, summary.malformed) == (7, 3, 4)
    reasons = {p.line: p.reason for p in summary.problems if p.file == key}
    assert sorted(reasons) == [3, 4, 5, 6]
    assert reasons[3] == "not valid utf-8"
    assert f"amount {MAX_PLAUSIBLE_AMOUNT + 1} is implausible" in reasons[4]
    assert "(5000 digits) is implausible" in reasons[5] and len(reasons[5]) < 200
    assert "(5000 digits) is implausible" in reasons[6]
    assert world.stored() == {"generic:G-1": "E001", "generic:G-6": "E001", "generic:G-7": "E001"}
    amounts = {line_id: s.record.line.amount for (_, line_id), s in world.store.stored.items()}
    assert amounts == {"generic:G-1": 100, "generic:G-6": MAX_PLAUSIBLE_AMOUNT, "generic:G-7": 12}


def test_a_run_stopped_for_time_resumes_from_its_checkpoint_without_doubling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("cardops.feeds.use_cases.sync.CHECK_EVERY_LINE_BY_LINE", 5)
    world = World()
    for name in ("a", "b"):
        rows = (row(f"{name.upper()}-{n}", "2026/05/20", *YAMADA, "店", str(n + 1)) for n in range(23))
        world.deliver(f"{name}.csv", HEADER + "".join(rows))
    checks = 0

    def every_third_check() -> bool:
        nonlocal checks
        checks += 1
        return checks % 3 == 0

    calls = []
    while not calls or calls[-1].status != "completed":
        calls.append(world.sync.run(DAY, scheduled_at(DAY), should_stop=every_third_check))
        assert len(calls) < 30
    assert len(calls) > 2 and calls[-1].resumed and world.store.checkpoint is None
    assert (calls[-1].lines_read, calls[-1].matched, calls[-1].duplicates) == (46, 46, 0)
    assert len(world.stored()) == 46 and world.store.watermark() == scheduled_at(DAY)
