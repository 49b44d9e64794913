"""The admin HTTP API's door (``AdminApiUrl``): its payload-format-1.0 event, where the admin
function finds the IAM caller in it, and the sandbox's SigV4 check in front of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from cardops.kernel.identity import MissingCallerIdentity, caller
from cardops.sandbox import sigv4
from cardops.sandbox.gateway import http_api_event
from tests.helpers import sigv4_headers

FINANCE = "arn:aws:sts::123456789012:assumed-role/cardops-finance/hanako.yamada"
URL = "http://127.0.0.1:4011/admin/payments/payjp/ch_1/refunds?dry=1"
BODY = b'{"amount": 100, "reason": "customer_request", "idempotency_key": "k1"}'
SIGNERS = {sigv4.OPERATOR_ACCESS_KEY: sigv4.Signer(sigv4.OPERATOR_SECRET_KEY, FINANCE)}


def test_the_http_api_event_of_an_admin_route_is_the_rest_event_with_the_route_and_caller() -> None:
    event = http_api_event(
        "POST", "/admin/payments/payjp/ch_1/refunds", {"X-Trace": "t"}, b"{}", user_arn=FINANCE
    )
    assert event["version"] == "1.0"
    assert (event["resource"], event["pathParameters"]) == (
        "/admin/{proxy+}",
        {"proxy": "payments/payjp/ch_1/refunds"},
    )
    assert event["requestContext"]["routeKey"] == "ANY /admin/{proxy+}"
    assert event["requestContext"]["stage"] == "$default" and event["headers"] == {"x-trace": "t"}
    assert caller(APIGatewayProxyEvent(event)) == FINANCE
    webhook = http_api_event("POST", "/webhooks/stripe", {}, b"{}")
    assert webhook["requestContext"]["routeKey"] == "POST /webhooks/{provider}"
    assert "userArn" not in webhook["requestContext"]["identity"]


def _context(**fields: Any) -> APIGatewayProxyEvent:
    event = http_api_event("GET", "/admin/payments/payjp/ch_1", {}, b"")
    event["requestContext"]["identity"] = {"sourceIp": "198.51.100.7", "userArn": None}
    event["requestContext"] |= fields
    return APIGatewayProxyEvent(event)


def test_the_caller_is_also_found_where_an_http_api_describes_an_iam_caller() -> None:
    """An HTTP API describes an IAM caller in ``requestContext.authorizer.iam`` (2.0 events have
    only that): with ``identity.userArn`` null, the admin still acts as that caller, never as nobody."""
    assert caller(_context(authorizer={"iam": {"userArn": FINANCE, "accessKey": "AKIA"}})) == FINANCE
    for refused in ({}, {"authorizer": {"iam": {"userArn": None}}}, {"authorizer": {"iam": "x"}},
                    {"authorizer": {"claims": None, "scopes": None}}):  # fmt: skip
        with pytest.raises(MissingCallerIdentity):
            caller(_context(**refused))


def _authorize(method: str, headers: dict[str, str], body: bytes = BODY, now: datetime | None = None) -> str:
    path = URL.removeprefix("http://127.0.0.1:4011")
    return sigv4.authorize(
        method, path, headers, body, signers=SIGNERS, region="ap-northeast-1", now=now or datetime.now(UTC)
    )


def test_a_request_signed_by_the_operator_acts_as_its_configured_caller() -> None:
    headers = sigv4_headers("POST", URL, BODY, {"Content-Type": "application/json"})
    # what the HTTP client adds after signing is not signed, and header names arrive in any case
    received = {k.upper(): v for k, v in headers.items()} | {"Host": "127.0.0.1:4011", "User-Agent": "x"}
    assert _authorize("POST", received) == FINANCE


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unsigned", sigv4.MISSING),
        ("no date", sigv4.MISSING),
        ("unknown key", sigv4.UNKNOWN_KEY),
        ("wrong secret", sigv4.MISMATCH),
        ("body changed", sigv4.MISMATCH),
        ("method changed", sigv4.MISMATCH),
        ("signed header changed", sigv4.MISMATCH),
        ("other region", sigv4.MISMATCH),
        ("other service", sigv4.MISMATCH),
        ("16 minutes old", sigv4.EXPIRED),
    ],
)
def test_anything_else_is_refused_before_the_function_runs(case: str, message: str) -> None:
    base = {"Content-Type": "application/json"}
    signed = sigv4_headers("POST", URL, BODY, base)
    method, body, now = "POST", BODY, datetime.now(UTC)
    if case == "unsigned":
        signed = dict(base)
    elif case == "no date":
        del signed["X-Amz-Date"]
    elif case == "unknown key":
        signed = sigv4_headers("POST", URL, BODY, base, access_key="AKIAOTHER")
    elif case == "wrong secret":
        signed = sigv4_headers("POST", URL, BODY, base, secret_key="guessed")
    elif case == "body changed":
        body = BODY.replace(b"100", b"900")
    elif case == "method changed":
        method = "PUT"
    elif case == "signed header changed":
        signed["Content-Type"] = "text/plain"
    elif case == "other region":
        signed = sigv4_headers("POST", URL, BODY, base, region="us-east-1")
    elif case == "other service":
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(method="POST", url=URL, data=BODY, headers=base)
        credentials = Credentials(sigv4.OPERATOR_ACCESS_KEY, sigv4.OPERATOR_SECRET_KEY)
        SigV4Auth(credentials, "lambda", "ap-northeast-1").add_auth(request)
        signed = dict(request.headers.items())
    elif case == "16 minutes old":
        now += timedelta(minutes=16)
    with pytest.raises(sigv4.Refused, match="^" + message.split(".")[0]):
        _authorize(method, signed | {"Host": "127.0.0.1:4011"}, body, now)
