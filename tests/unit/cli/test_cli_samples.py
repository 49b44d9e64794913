"""Sample placeholders: dates relative to the business clock, ids unique per use, nothing left unfilled."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cardops.cli.samples import SampleError, parse_values, render, render_file
from tests.conftest import EVENTS

NOW = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)  # 2026-12-05 01:30 in Tokyo


def test_dates_are_tokyo_dates_relative_to_the_clock() -> None:
    assert render("{{today}} {{today+5d}} {{today-1d}}", now=NOW) == "2026-12-05 2026-12-10 2026-12-04"
    assert render("{{now}}", now=NOW) == "2026-12-05T01:30:00+09:00"
    assert render("{{now-2h}}", now=NOW) == "2026-12-04T23:30:00+09:00"
    assert render("{{today-10d|%-m月%-d日}} {{now|%Y%m%d%H%M%S}}", now=NOW) == "11月25日 20261205013000"


def test_a_quoted_epoch_becomes_a_json_number_also_inside_an_escaped_body() -> None:
    epoch = int(NOW.timestamp())
    assert json.loads(render('{"created": "{{epoch}}", "due": "{{epoch+1d}}"}', now=NOW)) == {
        "created": epoch,
        "due": epoch + 86400,
    }
    inner = json.dumps({"created": "{{epoch-1h}}"})
    outer = json.loads(render(json.dumps({"body": inner}), now=NOW))
    assert json.loads(outer["body"]) == {"created": epoch - 3600}


def test_unique_is_the_same_within_a_file_and_new_each_time() -> None:
    first = render("rq_{{unique}} rq_{{unique}}", now=NOW).split()
    assert first[0] == first[1]
    assert render("rq_{{unique}}", now=NOW) != first[0]


def test_an_unfilled_placeholder_is_an_error_naming_it() -> None:
    with pytest.raises(SampleError, match="original"):
        render('{"id": "{{original}}"}', now=NOW)
    assert render('{"id": "{{original}}"}', now=NOW, values={"original": "ch_1"}) == '{"id": "ch_1"}'
    assert parse_values(("original=ch_1", "outcome=charged")) == {"original": "ch_1", "outcome": "charged"}
    with pytest.raises(SampleError, match="NAME=VALUE"):
        parse_values(("original",))


def test_no_sample_is_dated_in_the_past_of_its_deadline() -> None:
    """Webhook samples that open an authorization carry a visit date after the business clock's today."""
    for path in (EVENTS / "webhooks").rglob("*"):
        if path.is_file() and path.parent.name in ("stripe", "sbps"):
            text = render_file(path, now=NOW).decode()
            assert "2025-" not in text, path
            assert "{{" not in text, path


def test_every_sample_without_set_values_renders() -> None:
    needs = {"original", "request", "task_token", "outcome", "charge", "case"}
    values = {name: "x" for name in needs}
    for path in EVENTS.rglob("*.json"):
        json.loads(render_file(path, now=NOW, values=values))
