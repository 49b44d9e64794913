# ruff: noqa: E501  (the answers are SPEC §8 text, kept whole)
"""Every mapped error, raised through the real resolvers, answers what SPEC §8 promises.

The expected answers were captured from the resolvers before the mapping moved into
``cardops.api.errors`` (each route module used to register its own handlers); they must not change.
A case per mapped class (and per subclass whose answer differs), and a check that no mapping is
left without a case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    InternalServerError,
    NotFoundError,
    ServiceError,
    UnauthorizedError,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from cardops.feeds.domain.matching import LinkingBlocked, UnknownEmployee
from cardops.feeds.domain.reader import FeedFileError
from cardops.feeds.domain.settlement import LineAlreadyUsed, LineNotMatched, LineRuleError
from cardops.feeds.store import LinkageCodeTaken
from cardops.feeds.use_cases.card_lines import CardLineConflict, InvalidCorporateNumber, NotFound
from cardops.kernel import safe_json
from cardops.kernel.dynamodb import StoreUnavailable, VersionConflict
from cardops.kernel.identity import MissingCallerIdentity
from cardops.kernel.money import CurrencyError
from cardops.ledger.domain.ledger import Channel, ConflictingEntryError, LedgerError, NotReversibleError
from cardops.ledger.domain.payouts import (
    BankTransferOffsetRefusedError,
    BelowPayoutMinimumError,
    CrossChannelOffsetRefusedError,
    NegativeBalanceError,
    NotProviderScheduledError,
    PayoutByProviderScheduleError,
    PayoutError,
)
from cardops.ledger.domain.statement import InvalidCursor
from cardops.ledger.store import CeilingExceeded, DuplicateEntry
from cardops.payments.domain.capture_deadline import (
    AmountExceedsAuthorized,
    CaptureDeadlinePassed,
    CaptureRefused,
    InvalidCaptureAmount,
    PaymentNotCapturable,
)
from cardops.payments.domain.payments import PaymentStatus
from cardops.payments.domain.refunds import (
    DebitMemoError,
    InvalidRefundTransitionError,
    PaymentNotRefundableError,
    Refund,
    RefundError,
    RefundExceedsCapturedError,
    RefundReason,
    RefundReversalNotSupportedError,
    RefundStatus,
)
from cardops.payments.domain.webhook_signatures import MalformedWebhook, SignatureError
from cardops.payments.providers import budget
from cardops.payments.providers.base import (
    PermanentProviderError,
    ProviderNotConfigured,
    TransientProviderError,
)
from cardops.payments.providers.registry import UnsupportedProvider
from cardops.payments.use_cases import capture, event_processing, repayment, webhook_intake
from cardops.payments.use_cases.refunds import (
    PaymentNotFoundError,
    RefundNotFoundError,
    RefundSubmissionPendingError,
)
from cardops.support.domain.cases import CaseError
from cardops.support.domain.report import InvalidMonthError
from cardops.support.use_cases import CaseNotFoundError, SubjectError
from tests.helpers import call

AT = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)


def _refund() -> Refund:
    return Refund(
        refund_id="rf_1",
        provider="payjp",
        provider_payment_id="ch_1",
        store_id="store-1",
        channel=Channel.STANDARD,
        currency="JPY",
        amount=1200,
        reason=RefundReason.CUSTOMER_REQUEST,
        status=RefundStatus.REQUESTED,
        version=1,
        created_at=AT,
        updated_at=AT,
    )


def _pending() -> RefundSubmissionPendingError:
    exc = RefundSubmissionPendingError(_refund(), TransientProviderError("timed out", code="timeout"))
    exc.idempotency_key = "key-1"
    return exc


def _invalid_evidence() -> repayment.InvalidEvidence:
    from pydantic import BaseModel, ValidationError

    class Evidence(BaseModel):
        amount: int

    try:
        Evidence.model_validate({"amount": "many"})
    except ValidationError as exc:
        return repayment.InvalidEvidence.of(exc)
    raise AssertionError("validated")


def _validation() -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", "amount"), "msg": "Input should be greater than 0", "type": "greater_than"}]
    )


#: (case id, the error to raise); each is raised by one admin route
ADMIN_CASES: list[tuple[str, Callable[[], Exception]]] = [
    ("request_validation", _validation),
    ("version_conflict", lambda: VersionConflict("changed")),
    ("store_unavailable", lambda: StoreUnavailable("throttled")),
    ("missing_identity", lambda: MissingCallerIdentity("no IAM caller on the request")),
    ("unsafe_json", lambda: safe_json.UnsafeJson("nesting deeper than 32")),
    ("service_bad_request", lambda: BadRequestError("bad cursor")),
    ("service_unauthorized", lambda: UnauthorizedError("who are you")),
    ("service_internal", lambda: InternalServerError("broken")),
    ("service_non_str_msg", lambda: ServiceError(409, {"not": "a string"})),
    ("not_found_named", lambda: NotFoundError("no payment payjp/ch_1")),
    ("not_found_bare", lambda: NotFoundError()),
    ("unexpected", lambda: KeyError("boom")),
    ("unmapped_subclass_of_exception", lambda: CeilingExceeded("ceiling")),
    ("case_not_found", lambda: CaseNotFoundError("c_1")),
    ("case_refused", lambda: CaseError("case c_1 cannot move that way")),
    ("case_about_no_payment", lambda: SubjectError("payment_not_found", "no payment payjp/ch_9")),
    ("case_about_another_store", lambda: SubjectError("payment_of_another_store", "ch_9 is not store-1's")),
    ("invalid_month", lambda: InvalidMonthError("month must be YYYY-MM (e.g. 2026-05), got '2026-13'")),
    # ledger
    ("negative_balance", lambda: NegativeBalanceError(balance=-500, currency="JPY")),
    ("below_minimum", lambda: BelowPayoutMinimumError(confirmed=100, minimum=1000, currency="JPY")),
    ("provider_schedule", lambda: PayoutByProviderScheduleError(Channel.STRIPE)),
    (
        "bank_transfer_offset",
        lambda: BankTransferOffsetRefusedError(shortfall=300, channel=Channel.STANDARD, currency="JPY"),
    ),
    (
        "cross_channel_offset",
        lambda: CrossChannelOffsetRefusedError(
            shortfall=300, channel=Channel.EXTENDED, source=Channel.STANDARD, currency="JPY"
        ),
    ),
    ("payout_error", lambda: PayoutError("payout refused")),
    ("not_provider_scheduled", lambda: NotProviderScheduledError("standard is not provider-scheduled")),
    ("conflicting_entry", lambda: ConflictingEntryError("e-1")),
    ("duplicate_entry", lambda: DuplicateEntry("e-2")),
    ("ledger_error", lambda: LedgerError("wrong ledger")),
    ("not_reversible", lambda: NotReversibleError("a reversal")),
    ("currency_error", lambda: CurrencyError("unknown currency XXX")),
    ("invalid_cursor", lambda: InvalidCursor("cursor belongs to another store, channel or currency")),
    # refunds
    (
        "refund_exceeds",
        lambda: RefundExceedsCapturedError(requested=5000, captured=3000, refunded=1000, currency="JPY"),
    ),
    (
        "refund_transition",
        lambda: InvalidRefundTransitionError("rf_1", RefundStatus.SUCCEEDED, RefundStatus.CANCELED),
    ),
    ("not_refundable", lambda: PaymentNotRefundableError("payment is authorized")),
    ("no_reversal", lambda: RefundReversalNotSupportedError("sbps")),
    ("debit_memo", lambda: DebitMemoError("more than refunded")),
    ("refund_error", lambda: RefundError("refund refused")),
    ("refund_payment_not_found", lambda: PaymentNotFoundError("payjp", "ch_9")),
    ("refund_not_found", lambda: RefundNotFoundError("rf_9")),
    ("refund_pending", _pending),
    # capture
    ("amount_exceeds", lambda: AmountExceedsAuthorized(5000, 3000)),
    ("invalid_amount", lambda: InvalidCaptureAmount(0)),
    ("deadline_passed", lambda: CaptureDeadlinePassed(AT, datetime(2026, 4, 9, tzinfo=UTC))),
    ("automatic_refund", lambda: capture.AutomaticRefundStarted()),
    ("not_capturable", lambda: PaymentNotCapturable(PaymentStatus.CANCELED)),
    ("capture_refused", lambda: CaptureRefused("refused")),
    ("capture_payment_not_found", lambda: capture.PaymentNotFound("stripe", "pi_1")),
    ("unsupported_provider", lambda: UnsupportedProvider("sbps")),
    ("provider_refused", lambda: PermanentProviderError("card declined", code="card_declined")),
    ("provider_timeout", lambda: TransientProviderError("no answer", code=budget.DEADLINE_EXCEEDED)),
    ("provider_unavailable", lambda: TransientProviderError("502 from provider", code="server_error")),
    ("provider_not_configured", lambda: ProviderNotConfigured("payjp_secret_key is not configured")),
    # events
    ("event_not_found", lambda: event_processing.EventNotFound("no event stripe/evt_1")),
    ("ambiguous_event", lambda: event_processing.AmbiguousEvent("two events")),
    # re-payment
    ("not_utf8", lambda: UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")),
    ("repayment_not_found", lambda: repayment.RepaymentNotFound("rq-1")),
    ("request_id_reused", lambda: repayment.RequestIdReused("rq-1")),
    ("not_awaiting", lambda: repayment.NotAwaitingDecision("rq-1", "decided")),
    ("document_too_large", lambda: repayment.DocumentTooLarge(2000, 1000)),
    ("invalid_start", lambda: repayment.InvalidStart("not_eligible", "the payment is not eligible")),
    # these two were answered inside the start route before; the answers are main's route code's
    (
        "invalid_document_encoding",
        lambda: repayment.InvalidStart("invalid_document_encoding", "document is not valid base64"),
    ),
    ("invalid_evidence", _invalid_evidence),
    # feeds
    ("feeds_not_found", lambda: NotFound("no tenant t-1")),
    ("corporate_number", lambda: InvalidCorporateNumber("check digit")),
    ("unknown_employee", lambda: UnknownEmployee("E-1")),
    ("linkage_code_taken", lambda: LinkageCodeTaken("LC-1", "E-2")),
    ("card_line_conflict", lambda: CardLineConflict("line_taken", "the line is taken")),
    ("line_rule", lambda: LineRuleError("refused")),
    ("line_not_matched", lambda: LineNotMatched("not matched")),
    ("line_already_used", lambda: LineAlreadyUsed("used")),
    ("linking_blocked", lambda: LinkingBlocked("name_mismatch")),
    ("feed_file", lambda: FeedFileError("employees.csv", "not CP932")),
]

#: (case id, the error to raise); each is raised by the webhook route
WEBHOOK_CASES: list[tuple[str, Callable[[], Exception]]] = [
    ("unknown_provider", lambda: webhook_intake.UnknownProvider("paypal")),
    ("payload_too_large", lambda: webhook_intake.PayloadTooLarge("body of 300000 bytes over 262144")),
    ("not_configured", lambda: webhook_intake.WebhookNotConfigured("stripe")),
    ("bad_signature", lambda: SignatureError("signature mismatch")),
    ("malformed", lambda: MalformedWebhook("not JSON")),
    ("store_unavailable", lambda: StoreUnavailable("throttled")),
    ("no_such_route", lambda: webhook_intake.NoSuchRoute()),
    # the webhook function has no Powertools resolver: its errors are defects like any other
    ("powertools_error_in_webhook", lambda: BadRequestError("bad")),
    ("unexpected", lambda: KeyError("boom")),
    ("admin_error_in_webhook", lambda: VersionConflict("changed")),
]

#: captured from the resolvers before the mapping moved into ``cardops.api.errors``
EXPECTED_ADMIN: dict[str, tuple[int, dict[str, Any]]] = {
    # support cases: the answers their routes gave before joining the one table
    "case_not_found": (404, {"error": {"code": "case_not_found", "message": "case c_1 not found"}}),
    "case_refused": (
        409,
        {"error": {"code": "invalid_transition", "message": "case c_1 cannot move that way"}},
    ),
    "case_about_no_payment": (
        404,
        {"error": {"code": "payment_not_found", "message": "no payment payjp/ch_9"}},
    ),
    "case_about_another_store": (
        422,
        {"error": {"code": "payment_of_another_store", "message": "ch_9 is not store-1's"}},
    ),
    "invalid_month": (
        422,
        {
            "error": {
                "code": "invalid_month",
                "message": "month must be YYYY-MM (e.g. 2026-05), got '2026-13'",
            }
        },
    ),
    "request_validation": (
        422,
        {
            "error": {
                "code": "invalid_request",
                "message": "request validation failed",
                "details": {
                    "errors": [
                        {
                            "loc": ["body", "amount"],
                            "msg": "Input should be greater than 0",
                            "type": "greater_than",
                        }
                    ]
                },
            }
        },
    ),
    "version_conflict": (
        409,
        {"error": {"code": "conflict", "message": "the item changed concurrently; retry"}},
    ),
    "store_unavailable": (
        503,
        {"error": {"code": "unavailable", "message": "storage is unavailable; retry"}},
    ),
    "missing_identity": (
        403,
        {"error": {"code": "no_caller_identity", "message": "no IAM caller on the request"}},
    ),
    "unsafe_json": (
        400,
        {"error": {"code": "malformed_json", "message": "request body refused: nesting deeper than 32"}},
    ),
    "service_bad_request": (400, {"error": {"code": "bad_request", "message": "bad cursor"}}),
    "service_unauthorized": (401, {"error": {"code": "unauthorized", "message": "who are you"}}),
    "service_internal": (500, {"error": {"code": "internal_server_error", "message": "broken"}}),
    "service_non_str_msg": (409, {"error": {"code": "conflict", "message": "Conflict"}}),
    "not_found_named": (404, {"error": {"code": "not_found", "message": "no payment payjp/ch_1"}}),
    "not_found_bare": (404, {"error": {"code": "not_found", "message": "no such admin route"}}),
    "unexpected": (500, {"error": {"code": "internal_error", "message": "the request failed; see the logs"}}),
    "unmapped_subclass_of_exception": (
        500,
        {"error": {"code": "internal_error", "message": "the request failed; see the logs"}},
    ),
    "negative_balance": (
        409,
        {
            "error": {
                "code": "negative_balance",
                "message": "the balance is negative (-500 JPY): settlement and payouts are refused until the shortfall of 500 JPY is offset through the same payment channel",
                "details": {"balance": -500, "shortfall": 500, "currency": "JPY"},
            }
        },
    ),
    "below_minimum": (
        422,
        {
            "error": {
                "code": "below_payout_minimum",
                "message": "confirmed sales of 100 JPY do not exceed the payout minimum of 1000 JPY; they are kept for a later request",
                "details": {"confirmed": 100, "minimum": 1000, "currency": "JPY"},
            }
        },
    ),
    "provider_schedule": (
        409,
        {
            "error": {
                "code": "payout_by_provider_schedule",
                "message": "payouts of the stripe channel are made by the provider on the contract schedule; they are recorded, not requested",
                "details": {"channel": "stripe"},
            }
        },
    ),
    "bank_transfer_offset": (
        422,
        {
            "error": {
                "code": "offset_refused",
                "message": "a negative balance cannot be paid off by bank transfer; offset the shortfall of 300 JPY through the standard channel (new sales or a batch settlement)",
                "details": {"shortfall": 300, "channel": "standard"},
            }
        },
    ),
    "cross_channel_offset": (
        422,
        {
            "error": {
                "code": "offset_refused",
                "message": "the shortfall of 300 JPY on the extended channel cannot be offset from standard; only the same payment channel can offset it",
                "details": {"shortfall": 300, "channel": "extended"},
            }
        },
    ),
    "payout_error": (422, {"error": {"code": "payout_refused", "message": "payout refused"}}),
    "not_provider_scheduled": (
        422,
        {"error": {"code": "payout_refused", "message": "standard is not provider-scheduled"}},
    ),
    "conflicting_entry": (
        409,
        {
            "error": {
                "code": "conflicting_entry",
                "message": "entry e-1 is already posted with different content: an id may only be reused to repeat the same request",
            }
        },
    ),
    "duplicate_entry": (
        409,
        {
            "error": {
                "code": "conflicting_entry",
                "message": "e-2: an id may only be reused to repeat the same request",
            }
        },
    ),
    "ledger_error": (422, {"error": {"code": "ledger_refused", "message": "wrong ledger"}}),
    "not_reversible": (422, {"error": {"code": "ledger_refused", "message": "a reversal"}}),
    "currency_error": (422, {"error": {"code": "ledger_refused", "message": "unknown currency XXX"}}),
    "invalid_cursor": (
        400,
        {
            "error": {
                "code": "invalid_cursor",
                "message": "cursor belongs to another store, channel or currency",
            }
        },
    ),
    "refund_exceeds": (
        409,
        {
            "error": {
                "code": "refund_exceeds_captured",
                "message": "refund of 5000 JPY exceeds what is refundable: captured 3000, already refunded 1000, remaining refundable 2000",
                "details": {
                    "requested": 5000,
                    "captured": 3000,
                    "refunded": 1000,
                    "remaining": 2000,
                    "currency": "JPY",
                },
            }
        },
    ),
    "refund_transition": (
        409,
        {
            "error": {
                "code": "invalid_refund_transition",
                "message": "refund rf_1 is succeeded; it cannot become canceled",
                "details": {"refund_id": "rf_1", "refund_status": "succeeded", "wanted": "canceled"},
            }
        },
    ),
    "not_refundable": (
        409,
        {"error": {"code": "payment_not_refundable", "message": "payment is authorized"}},
    ),
    "no_reversal": (
        409,
        {
            "error": {
                "code": "refund_reversal_not_supported",
                "message": "sbps cannot take back a submitted refund; wait for its result and, once it succeeded, issue a debit memo",
                "details": {"provider": "sbps"},
            }
        },
    ),
    "debit_memo": (422, {"error": {"code": "debit_memo_refused", "message": "more than refunded"}}),
    "refund_error": (422, {"error": {"code": "refund_refused", "message": "refund refused"}}),
    "refund_payment_not_found": (
        404,
        {"error": {"code": "payment_not_found", "message": "payment payjp/ch_9 not found"}},
    ),
    "refund_not_found": (
        404,
        {"error": {"code": "refund_not_found", "message": "no refund rf_9 on this payment"}},
    ),
    "refund_pending": (
        503,
        {
            "error": {
                "code": "provider_unavailable",
                "message": "refund rf_1 is recorded but the provider did not answer (timed out); repeat the request with the same idempotency key to submit it",
                "details": {
                    "refund": {
                        "refund_id": "rf_1",
                        "provider": "payjp",
                        "provider_payment_id": "ch_1",
                        "store_id": "store-1",
                        "channel": "standard",
                        "currency": "JPY",
                        "amount": 1200,
                        "reason": "customer_request",
                        "note": "",
                        "status": "requested",
                        "version": 1,
                        "created_at": "2026-04-01T09:30:00Z",
                        "updated_at": "2026-04-01T09:30:00Z",
                        "provider_refund_id": None,
                        "source": "cardops",  # added by the provider-refunds work (issue 11)
                        "card_expired": False,
                        "replaces": None,
                        "replaced_by": None,
                        "history": [],
                    },
                    "idempotency_key": "key-1",
                },
            }
        },
    ),
    "amount_exceeds": (
        422,
        {
            "error": {
                "code": "invalid_capture_amount",
                "message": "capture amount 5000 exceeds the authorized amount 3000",
            }
        },
    ),
    "invalid_amount": (
        422,
        {"error": {"code": "invalid_capture_amount", "message": "capture amount must be positive, got 0"}},
    ),
    "deadline_passed": (
        409,
        {
            "error": {
                "code": "capture_deadline_passed",
                "message": "the capture deadline (認証期日) 2026-04-01T09:30:00+00:00 has passed (now 2026-04-09T00:00:00+00:00); the authorization is cancelled automatically and the reservation is not established (予約不成立)",
                "details": {"deadline": "2026-04-01T09:30:00+00:00"},
            }
        },
    ),
    "automatic_refund": (
        409,
        {
            "error": {
                "code": "automatic_refund_started",
                "message": "the capture deadline passed and the automatic refund has started; the reservation is not established (予約不成立) and the store cannot charge again by itself",
            }
        },
    ),
    "not_capturable": (
        409,
        {
            "error": {
                "code": "payment_not_capturable",
                "message": "payment is canceled: only an authorized, uncaptured payment can be captured",
                "details": {"payment_status": "canceled"},
            }
        },
    ),
    "capture_refused": (
        409,
        {
            "error": {
                "code": "payment_not_capturable",
                "message": "refused",
                "details": {"payment_status": None},
            }
        },
    ),
    "capture_payment_not_found": (
        404,
        {"error": {"code": "not_found", "message": "payment stripe/pi_1 not found"}},
    ),
    "unsupported_provider": (
        422,
        {
            "error": {
                "code": "unsupported_provider",
                "message": "provider 'sbps' has no API client for captures and cancels",
            }
        },
    ),
    "provider_refused": (
        422,
        {
            "error": {
                "code": "provider_refused",
                "message": "card declined",
                "details": {"provider_code": "card_declined"},
            }
        },
    ),
    "provider_timeout": (
        504,
        {"error": {"code": "provider_timeout", "message": "no answer (the call is idempotent)"}},
    ),
    "provider_unavailable": (
        503,
        {
            "error": {
                "code": "provider_unavailable",
                "message": "502 from provider; retry (the same capture is idempotent)",
            }
        },
    ),
    "provider_not_configured": (
        503,
        {
            "error": {
                "code": "provider_unavailable",
                "message": "payjp_secret_key is not configured; retry (the same capture is idempotent)",
            }
        },
    ),
    "event_not_found": (404, {"error": {"code": "not_found", "message": "no event stripe/evt_1"}}),
    "ambiguous_event": (409, {"error": {"code": "ambiguous_event", "message": "two events"}}),
    "not_utf8": (400, {"error": {"code": "invalid_encoding", "message": "the request body is not UTF-8"}}),
    "repayment_not_found": (404, {"error": {"code": "not_found", "message": "no re-payment request rq-1"}}),
    "request_id_reused": (
        409,
        {
            "error": {
                "code": "request_id_reused",
                "message": "this request id was started with other evidence",
            }
        },
    ),
    "not_awaiting": (
        409,
        {
            "error": {
                "code": "not_awaiting_decision",
                "message": "request rq-1 is already decided",
                "details": {"request_status": "decided"},
            }
        },
    ),
    "document_too_large": (
        413,
        {"error": {"code": "document_too_large", "message": "document exceeds 1000 bytes"}},
    ),
    "invalid_start": (422, {"error": {"code": "not_eligible", "message": "the payment is not eligible"}}),
    "invalid_document_encoding": (
        422,
        {"error": {"code": "invalid_document_encoding", "message": "document is not valid base64"}},
    ),
    "invalid_evidence": (
        422,
        {
            "error": {
                "code": "invalid_evidence",
                "message": "evidence fields are invalid",
                "details": {
                    "errors": [
                        {
                            "loc": ["evidence", "amount"],
                            "msg": "Input should be a valid integer, unable to parse string as an integer",
                            "type": "int_parsing",
                        }
                    ]
                },
            }
        },
    ),
    "feeds_not_found": (404, {"error": {"code": "not_found", "message": "no tenant t-1"}}),
    "corporate_number": (422, {"error": {"code": "corporate_number_invalid", "message": "check digit"}}),
    "unknown_employee": (404, {"error": {"code": "unknown_employee", "message": "E-1"}}),
    "linkage_code_taken": (
        409,
        {
            "error": {
                "code": "linkage_code_taken",
                "message": "card linkage code 'LC-1' is already held by employee E-2",
                "details": {"holder": "E-2", "card_linkage_code": "LC-1"},
            }
        },
    ),
    "card_line_conflict": (409, {"error": {"code": "line_taken", "message": "the line is taken"}}),
    "line_rule": (409, {"error": {"code": "line_rule", "message": "refused"}}),
    "line_not_matched": (409, {"error": {"code": "line_not_matched", "message": "not matched"}}),
    "line_already_used": (409, {"error": {"code": "line_already_used", "message": "used"}}),
    "linking_blocked": (
        409,
        {
            "error": {
                "code": "name_mismatch",
                "message": "利用者カナが社員マスタの氏名カナと一致しません / kana name differs from the employee master",
            }
        },
    ),
    "feed_file": (400, {"error": {"code": "unreadable_file", "message": "employees.csv: not CP932"}}),
}
EXPECTED_WEBHOOK: dict[str, tuple[int, dict[str, Any]]] = {
    "unknown_provider": (
        404,
        {"error": {"code": "unknown_provider", "message": 'no webhook route for provider "paypal"'}},
    ),
    "payload_too_large": (
        413,
        {"error": {"code": "payload_too_large", "message": "body of 300000 bytes over 262144"}},
    ),
    "not_configured": (
        401,
        {"error": {"code": "not_configured", "message": "stripe webhook secret not configured"}},
    ),
    "bad_signature": (401, {"error": {"code": "bad_signature", "message": "signature mismatch"}}),
    "malformed": (400, {"error": {"code": "malformed", "message": "not JSON"}}),
    "store_unavailable": (
        503,
        {"error": {"code": "store_unavailable", "message": "could not store the event; retry"}},
    ),
    "no_such_route": (404, {"error": {"code": "unknown_provider", "message": "no such webhook route"}}),
    "powertools_error_in_webhook": (
        503,
        {"error": {"code": "internal_error", "message": "the event was not accepted; retry"}},
    ),
    "unexpected": (
        503,
        {"error": {"code": "internal_error", "message": "the event was not accepted; retry"}},
    ),
    "admin_error_in_webhook": (
        503,
        {"error": {"code": "internal_error", "message": "the event was not accepted; retry"}},
    ),
}


@pytest.fixture
def admin_raises(monkeypatch: pytest.MonkeyPatch) -> Callable[[Exception], tuple[int, Any]]:
    """``GET /admin/sandbox/clock`` raising the given error, through the admin Lambda handler."""
    from cardops.api.routes import sandbox_clock
    from cardops.handlers import admin

    def answer(exc: Exception) -> tuple[int, Any]:
        def raise_it() -> None:
            raise exc

        monkeypatch.setattr(sandbox_clock, "_sandbox_only", raise_it)
        return call(admin.handler, "GET", "/admin/sandbox/clock")

    return answer


@pytest.fixture
def webhook_raises(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Exception], tuple[int, Any]]]:
    """``POST /webhooks/stripe`` whose intake raises the given error, through the webhook handler."""
    from cardops.handlers import webhook
    from cardops.kernel.config import reset_settings

    monkeypatch.setenv("TABLE_NAME", "cardops-errors-test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    reset_settings()

    def answer(exc: Exception) -> tuple[int, Any]:
        def raise_it(*args: Any, **kwargs: Any) -> None:
            raise exc

        monkeypatch.setattr(webhook_intake, "accept", raise_it)
        return call(webhook.handler, "POST", "/webhooks/stripe", {"id": "evt_1"})

    yield answer
    reset_settings()


@pytest.mark.parametrize(("case", "make"), ADMIN_CASES, ids=[c for c, _ in ADMIN_CASES])
def test_admin_answers(
    case: str, make: Callable[[], Exception], admin_raises: Callable[[Exception], tuple[int, Any]]
) -> None:
    assert admin_raises(make()) == EXPECTED_ADMIN[case]


@pytest.mark.parametrize(("case", "make"), WEBHOOK_CASES, ids=[c for c, _ in WEBHOOK_CASES])
def test_webhook_answers(
    case: str, make: Callable[[], Exception], webhook_raises: Callable[[Exception], tuple[int, Any]]
) -> None:
    assert webhook_raises(make()) == EXPECTED_WEBHOOK[case]


def _answered_by(registered: set[type], error: Exception) -> type:
    """The registered class that answers ``error`` (Powertools looks its classes up along the MRO)."""
    return next(cls for cls in type(error).__mro__ if cls in registered)


@pytest.mark.parametrize(
    ("resolver", "cases"),
    [("cardops.api.admin", ADMIN_CASES), ("cardops.api.webhooks", WEBHOOK_CASES)],
)
def test_every_mapping_has_a_case(resolver: str, cases: list[tuple[str, Callable[[], Exception]]]) -> None:
    import importlib

    module = importlib.import_module(resolver)
    if hasattr(module, "TABLE"):  # the webhook function answers from its table without a resolver
        registered = set(module.TABLE.classes)
    else:
        registered = set(module.app.exception_handler_manager.get_registered_handlers())
    assert {_answered_by(registered, make()) for _, make in cases} == registered


class _Base(Exception):
    pass


class _Child(_Base):
    pass


def test_a_table_lists_the_most_specific_class_first() -> None:
    from http import HTTPStatus

    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from cardops.api import errors

    base = errors.ErrorRule(_Base, HTTPStatus.CONFLICT, "base")
    child = errors.ErrorRule(_Child, HTTPStatus.NOT_FOUND, "child")
    with pytest.raises(ValueError, match="_Child is listed after its base _Base"):
        errors.register(APIGatewayRestResolver(), [base, child])
    errors.register(APIGatewayRestResolver(), [child, base])


def test_a_class_ends_with_one_unconditional_rule() -> None:
    from http import HTTPStatus

    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from cardops.api import errors

    when = errors.ErrorRule(_Base, HTTPStatus.CONFLICT, "odd", when=lambda e: "odd" in str(e))
    always = errors.ErrorRule(_Base, HTTPStatus.UNPROCESSABLE_ENTITY, "even")
    for bad in ([when], [always, when], [always, always]):
        with pytest.raises(ValueError, match="only its last rule may"):
            errors.register(APIGatewayRestResolver(), bad)
    app = APIGatewayRestResolver()
    errors.register(app, [when, always])
    handler = app.exception_handler_manager.lookup_exception_handler(_Child)
    assert handler is not None
    assert handler(_Child("odd one")).status_code == HTTPStatus.CONFLICT
    assert handler(_Child("another")).status_code == HTTPStatus.UNPROCESSABLE_ENTITY


@pytest.mark.parametrize(("case", "make"), WEBHOOK_CASES, ids=[c for c, _ in WEBHOOK_CASES])
def test_the_webhooks_proxy_answers_are_what_a_powertools_resolver_answers(
    case: str, make: Callable[[], Exception]
) -> None:
    """The webhook function answers without a resolver (issue 13): byte for byte the same answer."""
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from cardops.api import errors
    from cardops.sandbox.gateway import api_gateway_event
    from cardops.sandbox.lambda_runner import FakeContext

    app = APIGatewayRestResolver()
    errors.register(app, errors.webhook_rules())

    @app.post("/raise")
    def _raise() -> None:
        raise make()

    def raise_it(event: dict[str, Any]) -> dict[str, Any]:
        raise make()

    event = api_gateway_event("POST", "/raise", {}, b"")
    resolved = app.resolve(event, FakeContext("webhook"))  # type: ignore[arg-type]
    assert errors.ErrorTable(errors.webhook_rules()).proxy(raise_it)(event) == resolved
