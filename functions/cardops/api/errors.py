"""Domain errors become HTTP answers here, in one place (never a 500 for bad input).

Each resolver installs its table once with ``register``; routes only raise. A table lists the
most specific class first (a subclass before its base) and ends with ``Exception``, the defect
nobody mapped. Powertools answers an error with the rules of the nearest class in its MRO, so the
order a reader sees is the order that applies.

The tables are built by functions whose imports are local: the webhook function installs its
small table without importing the ledger, refunds, feeds or re-payment (issue 13: its cold start).
The webhook function has no Powertools resolver either (one route): ``ErrorTable.proxy`` answers
from its table on API Gateway's proxy event directly, and nothing here imports Powertools' event
handler until a resolver's table is registered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
    from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError

E = TypeVar("E", bound=Exception)
#: an API Gateway (REST) proxy event, and the proxy answer a Lambda function returns for it
ProxyEvent = dict[str, Any]
ProxyResponse = dict[str, Any]


def _error_body(code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


def error_response(status: HTTPStatus, code: str, message: str, **details: Any) -> Response[Any]:
    from aws_lambda_powertools.event_handler import Response, content_types

    body = _error_body(code, message, details)
    return Response(status_code=status.value, content_type=content_types.APPLICATION_JSON, body=body)


def proxy_response(status: HTTPStatus, body: dict[str, Any]) -> ProxyResponse:
    """A JSON answer in the proxy shape Powertools' REST resolver gives (compact JSON, one header)."""
    return {
        "statusCode": status.value,
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
        "multiValueHeaders": {"Content-Type": ["application/json"]},
    }


@dataclass(frozen=True)
class ErrorAnswer:
    """What one error answers (SPEC §8: the ``{"error": {code, message, details?}}`` shape)."""

    status: HTTPStatus
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    #: our fault, not the caller's: the resolver logs it with its trace
    defect: bool = False

    def response(self) -> Response[Any]:
        return error_response(self.status, self.code, self.message, **self.details)

    def proxy_response(self) -> ProxyResponse:
        return proxy_response(self.status, _error_body(self.code, self.message, self.details))


@dataclass(frozen=True)
class ErrorRule(Generic[E]):
    """One row of a table: errors of class ``error`` (for which ``when`` holds) answer this."""

    error: type[E]
    status: HTTPStatus | Callable[[E], HTTPStatus]
    code: str | Callable[[E], str]
    message: Callable[[E], str] = str
    details: Callable[[E], dict[str, Any]] | None = None
    #: a condition on the error; the class's next row answers when it does not hold
    when: Callable[[E], bool] | None = None
    defect: bool = False
    #: the statuses a callable ``status`` chooses from (the OpenAPI document lists each one)
    may_answer: tuple[HTTPStatus, ...] = ()

    def documented_statuses(self) -> tuple[HTTPStatus, ...]:
        return self.may_answer if callable(self.status) else (self.status,)

    def documented_code(self) -> str | None:
        """The fixed code of this row; None when the error names its own (``lambda e: e.code``)."""
        return None if callable(self.code) else self.code

    def applies(self, exc: E) -> bool:
        return self.when is None or self.when(exc)

    def answer(self, exc: E) -> ErrorAnswer:
        return ErrorAnswer(
            status=self.status(exc) if callable(self.status) else self.status,
            code=self.code(exc) if callable(self.code) else self.code,
            message=self.message(exc),
            details=self.details(exc) if self.details else {},
            defect=self.defect,
        )


#: told of every error answered (the resolver's logs and metrics); the answer is already chosen
Observer = Callable[[Exception, ErrorAnswer], None]
#: how a resolver shows a chosen answer (the JSON error body by default; the console renders a page)
Renderer = Callable[[ErrorAnswer], "Response[Any]"]


class ErrorTable:
    """A table checked once, answering an error by the rules of the nearest class in its MRO (as
    Powertools looks its handlers up), then by the first of that class's rules that applies."""

    def __init__(self, rules: Sequence[ErrorRule[Any]], observe: Observer | None = None) -> None:
        by_class: dict[type[Exception], list[ErrorRule[Any]]] = {}
        for index, rule in enumerate(rules):
            for earlier in rules[:index]:
                if rule.error is not earlier.error and issubclass(rule.error, earlier.error):
                    raise ValueError(
                        f"{rule.error.__name__} is listed after its base {earlier.error.__name__}: "
                        "list the most specific class first"
                    )
            by_class.setdefault(rule.error, []).append(rule)
        for error, chosen in by_class.items():
            if any(rule.when is None for rule in chosen[:-1]) or chosen[-1].when is not None:
                raise ValueError(f"{error.__name__}: only its last rule may (and must) be unconditional")
        self._by_class = {error: tuple(chosen) for error, chosen in by_class.items()}
        self._observe = observe

    @property
    def classes(self) -> frozenset[type[Exception]]:
        return frozenset(self._by_class)

    def answer(self, exc: Exception) -> ErrorAnswer:
        """The answer to ``exc``, told to the observer; an error no row covers is raised again."""
        rules = next((self._by_class[c] for c in type(exc).__mro__ if c in self._by_class), None)
        if rules is None:
            raise exc
        answer = next(rule for rule in rules if rule.applies(exc)).answer(exc)
        if self._observe is not None:
            self._observe(exc, answer)
        return answer

    def proxy(self, route: Callable[[ProxyEvent], ProxyResponse]) -> Callable[[ProxyEvent], ProxyResponse]:
        """``route`` on a proxy event, with whatever it raises answered from this table."""

        def answered(event: ProxyEvent) -> ProxyResponse:
            try:
                return route(event)
            except Exception as exc:
                return self.answer(exc).proxy_response()

        return answered


def register(
    resolver: ApiGatewayResolver,
    rules: Sequence[ErrorRule[Any]],
    observe: Observer | None = None,
    render: Renderer = ErrorAnswer.response,
) -> None:
    """Install ``rules`` as ``resolver``'s exception handlers: one handler per class."""
    table = ErrorTable(rules, observe)

    def handle(exc: Exception) -> Response[Any]:
        return render(table.answer(exc))

    for error in table.classes:
        resolver.exception_handler(error)(handle)


# -- what every resolver shares ---------------------------------------------------------------


def _service_status(exc: ServiceError) -> HTTPStatus:
    return HTTPStatus(exc.status_code)


def _phrase_code(exc: ServiceError) -> str:
    return _service_status(exc).phrase.lower().replace(" ", "_")


#: what Powertools' own ``ServiceError`` classes answer (``NotFoundError`` has a row of its own)
POWERTOOLS_SERVICE_STATUSES = (
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.REQUEST_TIMEOUT,
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    HTTPStatus.INTERNAL_SERVER_ERROR,
    HTTPStatus.SERVICE_UNAVAILABLE,
)


def _fixed(message: str) -> Callable[[BaseException], str]:
    return lambda _: message


# -- the admin API ----------------------------------------------------------------------------


def admin_rules() -> tuple[ErrorRule[Any], ...]:
    """The admin resolver's table: every slice's refusals as 4xx, the store's hiccups as 503."""
    from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
    from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

    from cardops.feeds.domain.matching import LinkingBlocked, UnknownEmployee
    from cardops.feeds.domain.reader import FeedFileError
    from cardops.feeds.domain.settlement import LineRuleError
    from cardops.feeds.store import LinkageCodeTaken
    from cardops.feeds.use_cases.card_lines import CardLineConflict, InvalidCorporateNumber, NotFound
    from cardops.kernel.dynamodb import StoreUnavailable, VersionConflict
    from cardops.kernel.identity import MissingCallerIdentity
    from cardops.kernel.money import CurrencyError
    from cardops.kernel.safe_json import UnsafeJson
    from cardops.ledger.domain.ledger import ConflictingEntryError, LedgerError
    from cardops.ledger.domain.payouts import (
        BankTransferOffsetRefusedError,
        BelowPayoutMinimumError,
        CrossChannelOffsetRefusedError,
        NegativeBalanceError,
        PayoutByProviderScheduleError,
        PayoutError,
    )
    from cardops.ledger.domain.statement import InvalidCursor
    from cardops.ledger.store import DuplicateEntry
    from cardops.payments.domain.capture_deadline import (
        AmountExceedsAuthorized,
        CaptureDeadlinePassed,
        CaptureRefused,
        InvalidCaptureAmount,
        PaymentNotCapturable,
    )
    from cardops.payments.domain.refunds import (
        DebitMemoError,
        InvalidRefundTransitionError,
        PaymentNotRefundableError,
        RefundError,
        RefundExceedsCapturedError,
        RefundReversalNotSupportedError,
    )
    from cardops.payments.providers import budget
    from cardops.payments.providers.base import PermanentProviderError, TransientProviderError
    from cardops.payments.providers.registry import UnsupportedProvider
    from cardops.payments.use_cases import capture, event_processing, repayment
    from cardops.payments.use_cases.refunds import (
        PaymentNotFoundError,
        RefundNotFoundError,
        RefundSubmissionPendingError,
    )
    from cardops.support.domain.cases import CaseError
    from cardops.support.domain.report import InvalidMonthError
    from cardops.support.use_cases import CaseNotFoundError, SubjectError

    def validation_errors(exc: RequestValidationError) -> dict[str, Any]:
        return {
            "errors": [
                {
                    "loc": [str(part) for part in e.get("loc", ())],
                    "msg": str(e.get("msg", "")),
                    "type": str(e.get("type", "")),
                }
                for e in exc.errors()
            ]
        }

    def named_or_unknown_route(exc: NotFoundError) -> str:
        # an unknown route arrives as a bare ``NotFoundError()``; a route that found no payment or
        # reservation raised one naming it, and the caller must read which resource is missing
        return (
            exc.msg if isinstance(exc.msg, str) and exc.msg != NotFoundError().msg else "no such admin route"
        )

    def offset_details(
        exc: BankTransferOffsetRefusedError | CrossChannelOffsetRefusedError,
    ) -> dict[str, Any]:
        return {"shortfall": exc.shortfall, "channel": exc.channel.value}

    def id_reused(exc: BaseException) -> str:
        return f"{exc}: an id may only be reused to repeat the same request"

    def timed_out(exc: TransientProviderError) -> bool:
        # answered before API Gateway's 29 s cut a bare 504 without a body
        return exc.code == budget.DEADLINE_EXCEEDED

    return (
        ErrorRule(
            RequestValidationError,
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid_request",
            _fixed("request validation failed"),
            validation_errors,
        ),
        ErrorRule(
            VersionConflict, HTTPStatus.CONFLICT, "conflict", _fixed("the item changed concurrently; retry")
        ),
        ErrorRule(
            StoreUnavailable,
            HTTPStatus.SERVICE_UNAVAILABLE,
            "unavailable",
            _fixed("storage is unavailable; retry"),
        ),
        ErrorRule(MissingCallerIdentity, HTTPStatus.FORBIDDEN, "no_caller_identity"),
        ErrorRule(
            UnsafeJson, HTTPStatus.BAD_REQUEST, "malformed_json", lambda e: f"request body refused: {e}"
        ),
        ErrorRule(NotFoundError, HTTPStatus.NOT_FOUND, "not_found", named_or_unknown_route),
        # Powertools' BadRequestError etc. in the same shape as every other answer
        ErrorRule(
            ServiceError,
            _service_status,
            _phrase_code,
            lambda e: e.msg if isinstance(e.msg, str) else _service_status(e).phrase,
            may_answer=POWERTOOLS_SERVICE_STATUSES,
        ),
        # ledger (SPEC §6): refused payouts and settlements state the shortfall
        ErrorRule(
            NegativeBalanceError,
            HTTPStatus.CONFLICT,
            "negative_balance",
            details=lambda e: {"balance": e.balance, "shortfall": e.shortfall, "currency": e.currency},
        ),
        ErrorRule(
            BelowPayoutMinimumError,
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "below_payout_minimum",
            details=lambda e: {"confirmed": e.confirmed, "minimum": e.minimum, "currency": e.currency},
        ),
        ErrorRule(
            PayoutByProviderScheduleError,
            HTTPStatus.CONFLICT,
            "payout_by_provider_schedule",
            details=lambda e: {"channel": e.channel.value},
        ),
        ErrorRule(
            BankTransferOffsetRefusedError,
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "offset_refused",
            details=offset_details,
        ),
        ErrorRule(
            CrossChannelOffsetRefusedError,
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "offset_refused",
            details=offset_details,
        ),
        ErrorRule(PayoutError, HTTPStatus.UNPROCESSABLE_ENTITY, "payout_refused"),
        ErrorRule(ConflictingEntryError, HTTPStatus.CONFLICT, "conflicting_entry", id_reused),
        ErrorRule(DuplicateEntry, HTTPStatus.CONFLICT, "conflicting_entry", id_reused),
        ErrorRule(LedgerError, HTTPStatus.UNPROCESSABLE_ENTITY, "ledger_refused"),
        ErrorRule(InvalidCursor, HTTPStatus.BAD_REQUEST, "invalid_cursor"),
        ErrorRule(CurrencyError, HTTPStatus.UNPROCESSABLE_ENTITY, "ledger_refused"),
        # refunds (SPEC §5)
        ErrorRule(
            RefundExceedsCapturedError,
            HTTPStatus.CONFLICT,
            "refund_exceeds_captured",
            details=lambda e: {
                "requested": e.requested,
                "captured": e.captured,
                "refunded": e.refunded,
                "remaining": e.remaining,
                "currency": e.currency,
            },
        ),
        ErrorRule(
            InvalidRefundTransitionError,
            HTTPStatus.CONFLICT,
            "invalid_refund_transition",
            details=lambda e: {
                "refund_id": e.refund_id,
                "refund_status": e.current.value,
                "wanted": e.wanted.value,
            },
        ),
        ErrorRule(PaymentNotRefundableError, HTTPStatus.CONFLICT, "payment_not_refundable"),
        ErrorRule(
            RefundReversalNotSupportedError,
            HTTPStatus.CONFLICT,
            "refund_reversal_not_supported",
            details=lambda e: {"provider": e.provider},
        ),
        ErrorRule(DebitMemoError, HTTPStatus.UNPROCESSABLE_ENTITY, "debit_memo_refused"),
        ErrorRule(RefundError, HTTPStatus.UNPROCESSABLE_ENTITY, "refund_refused"),
        ErrorRule(PaymentNotFoundError, HTTPStatus.NOT_FOUND, "payment_not_found"),
        ErrorRule(RefundNotFoundError, HTTPStatus.NOT_FOUND, "refund_not_found"),
        ErrorRule(
            RefundSubmissionPendingError,
            HTTPStatus.SERVICE_UNAVAILABLE,
            "provider_unavailable",
            details=lambda e: {
                "refund": e.refund.model_dump(mode="json"),
                "idempotency_key": e.idempotency_key,
            },
        ),
        # captures (SPEC §3): never a 500 for a late capture
        ErrorRule(AmountExceedsAuthorized, HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_capture_amount"),
        ErrorRule(InvalidCaptureAmount, HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_capture_amount"),
        ErrorRule(
            CaptureDeadlinePassed,
            HTTPStatus.CONFLICT,
            "capture_deadline_passed",
            details=lambda e: {"deadline": e.deadline.isoformat()},
        ),
        ErrorRule(capture.AutomaticRefundStarted, HTTPStatus.CONFLICT, "automatic_refund_started"),
        ErrorRule(
            PaymentNotCapturable,
            HTTPStatus.CONFLICT,
            "payment_not_capturable",
            details=lambda e: {"payment_status": e.status.value},
        ),
        ErrorRule(
            CaptureRefused,
            HTTPStatus.CONFLICT,
            "payment_not_capturable",
            details=lambda e: {"payment_status": None},
        ),
        ErrorRule(capture.PaymentNotFound, HTTPStatus.NOT_FOUND, "not_found"),
        ErrorRule(UnsupportedProvider, HTTPStatus.UNPROCESSABLE_ENTITY, "unsupported_provider"),
        ErrorRule(
            PermanentProviderError,
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "provider_refused",
            details=lambda e: {"provider_code": e.code},
        ),
        ErrorRule(
            TransientProviderError,
            HTTPStatus.GATEWAY_TIMEOUT,
            "provider_timeout",
            lambda e: f"{e} (the call is idempotent)",
            when=timed_out,
        ),
        ErrorRule(
            TransientProviderError,
            HTTPStatus.SERVICE_UNAVAILABLE,
            "provider_unavailable",
            lambda e: f"{e}; retry (the same capture is idempotent)",
        ),
        # webhook events as processed
        ErrorRule(event_processing.EventNotFound, HTTPStatus.NOT_FOUND, "not_found"),
        ErrorRule(event_processing.AmbiguousEvent, HTTPStatus.CONFLICT, "ambiguous_event"),
        # re-payment (SPEC §4)
        ErrorRule(
            UnicodeDecodeError,
            HTTPStatus.BAD_REQUEST,
            "invalid_encoding",
            _fixed("the request body is not UTF-8"),
        ),
        ErrorRule(
            repayment.RepaymentNotFound,
            HTTPStatus.NOT_FOUND,
            "not_found",
            lambda e: f"no re-payment request {e}",
        ),
        ErrorRule(
            repayment.RequestIdReused,
            HTTPStatus.CONFLICT,
            "request_id_reused",
            _fixed("this request id was started with other evidence"),
        ),
        ErrorRule(
            repayment.NotAwaitingDecision,
            HTTPStatus.CONFLICT,
            "not_awaiting_decision",
            details=lambda e: {"request_status": e.status},
        ),
        ErrorRule(
            repayment.DocumentTooLarge,
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "document_too_large",
            lambda e: f"document exceeds {e.limit} bytes",
        ),
        ErrorRule(
            repayment.InvalidEvidence,
            HTTPStatus.UNPROCESSABLE_ENTITY,
            lambda e: e.code,
            details=lambda e: {"errors": e.errors},
        ),
        ErrorRule(repayment.InvalidStart, HTTPStatus.UNPROCESSABLE_ENTITY, lambda e: e.code),
        # card lines and tenants (feeds)
        ErrorRule(NotFound, HTTPStatus.NOT_FOUND, "not_found"),
        ErrorRule(InvalidCorporateNumber, HTTPStatus.UNPROCESSABLE_ENTITY, "corporate_number_invalid"),
        ErrorRule(UnknownEmployee, HTTPStatus.NOT_FOUND, "unknown_employee"),
        ErrorRule(
            LinkageCodeTaken,
            HTTPStatus.CONFLICT,
            "linkage_code_taken",
            details=lambda e: {"holder": e.holder, "card_linkage_code": e.linkage_code},
        ),
        ErrorRule(CardLineConflict, HTTPStatus.CONFLICT, lambda e: e.code),
        ErrorRule(LineRuleError, HTTPStatus.CONFLICT, lambda e: e.code),
        ErrorRule(LinkingBlocked, HTTPStatus.CONFLICT, lambda e: e.reason),
        # an uploaded CSV (employee master) that cannot be read: the caller's input, never a 5xx
        ErrorRule(FeedFileError, HTTPStatus.BAD_REQUEST, "unreadable_file"),
        # support cases
        ErrorRule(CaseNotFoundError, HTTPStatus.NOT_FOUND, "case_not_found"),
        ErrorRule(CaseError, HTTPStatus.CONFLICT, lambda e: e.code),
        ErrorRule(
            SubjectError,
            lambda e: (
                HTTPStatus.NOT_FOUND if e.code == "payment_not_found" else HTTPStatus.UNPROCESSABLE_ENTITY
            ),
            lambda e: e.code,
            may_answer=(HTTPStatus.NOT_FOUND, HTTPStatus.UNPROCESSABLE_ENTITY),
        ),
        ErrorRule(InvalidMonthError, HTTPStatus.UNPROCESSABLE_ENTITY, lambda e: e.code),
        # a defect, not the caller's input: a JSON 500 the CLI can show, logged with its trace
        ErrorRule(
            Exception,
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "internal_error",
            _fixed("the request failed; see the logs"),
            defect=True,
        ),
    )


# -- the web console ----------------------------------------------------------------------------


def console_rules() -> tuple[ErrorRule[Any], ...]:
    """The console's table: its own refusals (sign-in, CSRF, policy), then the admin API's rows, so a
    capture or payout refused by a use case reads the same on a page as in the API."""
    from cardops.console.policy import Forbidden
    from cardops.console.web import BadForm, CsrfRejected, SignInRequired

    return (
        ErrorRule(SignInRequired, HTTPStatus.UNAUTHORIZED, "sign_in_required"),
        ErrorRule(CsrfRejected, HTTPStatus.FORBIDDEN, "csrf_rejected"),
        ErrorRule(Forbidden, HTTPStatus.FORBIDDEN, "forbidden"),
        ErrorRule(BadForm, HTTPStatus.BAD_REQUEST, "bad_form"),
        *admin_rules(),
    )


# -- the webhook endpoint ---------------------------------------------------------------------


def webhook_rules() -> tuple[ErrorRule[Any], ...]:
    """The webhook resolver's table (SPEC §1): a provider retries every 5xx, never a 4xx."""
    from cardops.kernel.dynamodb import StoreUnavailable
    from cardops.payments.domain.webhook_signatures import MalformedWebhook, SignatureError
    from cardops.payments.use_cases.webhook_intake import (
        NoSuchRoute,
        PayloadTooLarge,
        UnknownProvider,
        WebhookNotConfigured,
    )

    return (
        ErrorRule(UnknownProvider, HTTPStatus.NOT_FOUND, "unknown_provider"),
        ErrorRule(PayloadTooLarge, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload_too_large"),
        # an operator has to write the secret (README "Set the secrets"); the provider retries meanwhile
        ErrorRule(WebhookNotConfigured, HTTPStatus.UNAUTHORIZED, "not_configured"),
        ErrorRule(SignatureError, HTTPStatus.UNAUTHORIZED, "bad_signature"),
        ErrorRule(MalformedWebhook, HTTPStatus.BAD_REQUEST, "malformed"),
        # the only 5xx for a known cause: the provider must retry, and the retry is deduplicated
        ErrorRule(
            StoreUnavailable,
            HTTPStatus.SERVICE_UNAVAILABLE,
            "store_unavailable",
            _fixed("could not store the event; retry"),
        ),
        # a path or method no route matches (control characters in the provider name): nothing echoed
        ErrorRule(NoSuchRoute, HTTPStatus.NOT_FOUND, "unknown_provider", _fixed("no such webhook route")),
        # anything else is our fault, not the sender's: 503 so the provider retries (not a bare 502);
        # nothing is lost, an event is acknowledged only after it is stored and enqueued
        ErrorRule(
            Exception,
            HTTPStatus.SERVICE_UNAVAILABLE,
            "internal_error",
            _fixed("the event was not accepted; retry"),
            defect=True,
        ),
    )
