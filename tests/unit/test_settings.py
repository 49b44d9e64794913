"""The one settings model: the stack's variable names, read once per process until reset."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from pydantic import ValidationError

from cardops.kernel.config import REPAYMENT_MAX_DOCUMENT_BYTES, reset_settings, settings
from cardops.ledger.domain.fees import DEFAULT_PLANS
from cardops.ledger.use_cases import configured_plans
from cardops.payments.domain.repayment import DEFAULT_MAX_DOCUMENT_BYTES


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in (
        "CARDOPS_PLANS",
        "REPAYMENT_SUPPORT_ADDRESS",
        "REPAYMENT_WINDOW_DAYS",
        "REPAYMENT_DECISION_TIMEOUT_SECONDS",
        "REPAYMENT_MAX_DOCUMENT_BYTES",
        "REPAYMENT_MIT_BRANDS",
        "SBPS_DUPLICATE_ORDER_ERRORS",
        "SBPS_NO_STORED_CARD_ERRORS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TABLE_NAME", "cardops-settings-test")
    reset_settings()
    yield monkeypatch
    reset_settings()


def test_the_defaults_are_spec_4s_rules() -> None:
    config = settings()
    assert config.repayment_window_days == 60
    assert config.repayment_decision_timeout_seconds == 7 * 86400
    assert config.repayment_max_document_bytes == REPAYMENT_MAX_DOCUMENT_BYTES == DEFAULT_MAX_DOCUMENT_BYTES
    assert config.repayment_support_address == "support@example.jp"
    assert [config.brand_allows_mit(b) for b in ("Visa", "MASTERCARD", "JCB", "Diners", None)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert configured_plans() is DEFAULT_PLANS


def test_sbps_re_payment_error_types_are_configuration(environment: pytest.MonkeyPatch) -> None:
    """Which SBPS error types mean "purchase id held" / "no card kept" is not public per contract."""
    assert (settings().sbps_duplicate_order_errors, settings().sbps_no_stored_card_errors) == (
        frozenset({"96"}),
        frozenset({"83"}),
    )
    environment.setenv("SBPS_DUPLICATE_ORDER_ERRORS", " 96, 13 ,")
    environment.setenv("SBPS_NO_STORED_CARD_ERRORS", "83,k4")
    reset_settings()
    assert settings().sbps_duplicate_order_errors == frozenset({"96", "13"})
    assert settings().sbps_no_stored_card_errors == frozenset({"83", "K4"})


def test_the_stacks_names_are_read(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("REPAYMENT_WINDOW_DAYS", "30")
    environment.setenv("REPAYMENT_DECISION_TIMEOUT_SECONDS", "60")
    environment.setenv("REPAYMENT_MAX_DOCUMENT_BYTES", "1000")
    environment.setenv("REPAYMENT_SUPPORT_ADDRESS", "desk@example.jp")
    environment.setenv("REPAYMENT_MIT_BRANDS", " visa , Diners Club ,")
    environment.setenv("CARDOPS_PLANS", '{"standard": {"fee_rate_percent": "2.5"}}')
    config = settings()
    assert (config.repayment_window_days, config.repayment_decision_timeout_seconds) == (30, 60)
    assert config.repayment_max_document_bytes == 1000
    assert config.repayment_support_address == "desk@example.jp"
    assert config.repayment_mit_brands == {"visa", "diners club"}
    assert config.brand_allows_mit("Diners Club") and not config.brand_allows_mit("JCB")
    assert configured_plans().standard.fee_rate_percent == Decimal("2.5")
    assert configured_plans().extended == DEFAULT_PLANS.extended


def test_read_once_per_process_until_reset(environment: pytest.MonkeyPatch) -> None:
    first = settings()
    environment.setenv("REPAYMENT_WINDOW_DAYS", "30")
    assert settings() is first
    reset_settings()
    assert settings().repayment_window_days == 30


def test_names_are_exact_and_bad_values_refused(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("repayment_window_days", "30")  # not the stack's name
    assert settings().repayment_window_days == 60
    environment.setenv("REPAYMENT_WINDOW_DAYS", "0")
    reset_settings()
    with pytest.raises(ValidationError, match="REPAYMENT_WINDOW_DAYS"):
        settings()


#: environments both views must read alike: valid values, the defaults, and refusals
LEAN_CASES = [
    {},
    {"RAW_EVENT_TTL_DAYS": "30", "MAX_WEBHOOK_BYTES": "1024", "SECRET_MAX_AGE_SECONDS": "0"},
    {"STRIPE_TOLERANCE_SECONDS": " 60 ", "EVENTS_QUEUE_URL": "https://q", "WEBHOOK_SECRET_ID": "arn:s"},
    {"RAW_EVENT_TTL_DAYS": "0"},
    {"MAX_WEBHOOK_BYTES": "-1"},
    {"SECRET_MAX_AGE_SECONDS": "-1"},
    {"STRIPE_TOLERANCE_SECONDS": "five"},
    {"TABLE_NAME": None},
]


@pytest.mark.parametrize("overrides", LEAN_CASES)
def test_the_webhooks_lean_settings_read_as_the_model_does(
    environment: pytest.MonkeyPatch, overrides: dict[str, str | None]
) -> None:
    """``lean_settings()`` (no pydantic, the webhook's cold start) answers as ``settings()`` does."""
    from dataclasses import asdict, fields

    from cardops.kernel.config import LEAN_VARIABLES, LeanSettings, SettingsError, lean_settings

    for name, value in overrides.items():
        if value is None:
            environment.delenv(name)
        else:
            environment.setenv(name, value)
    try:
        model = settings()
    except ValidationError:
        with pytest.raises(SettingsError):
            lean_settings()
        return
    lean = lean_settings()
    assert asdict(lean) == {f.name: getattr(model, f.name) for f in fields(LeanSettings)}
    # the same names as the stack's, the same defaults
    for name, (alias, _) in LEAN_VARIABLES.items():
        info = type(model).model_fields[name]
        assert info.alias == alias
        assert LeanSettings.__dataclass_fields__[name].default == info.default or info.is_required()
