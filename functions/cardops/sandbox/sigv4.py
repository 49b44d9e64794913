"""The admin HTTP API's IAM authorization in the sandbox (``AdminApiUrl``), before the function runs.

Deployed, API Gateway checks an ``AWS_IAM`` route's Signature Version 4 (service ``execute-api``)
and the signer's right to ``execute-api:Invoke``, answers 403 itself when either fails, and puts
the signer's ARN in the event. The sandbox does the same with the credentials it knows: its
operator's (``OPERATOR_ACCESS_KEY``/``OPERATOR_SECRET_KEY``, those ``cardops local`` runs with, the
identity moto allows everything), who acts as ``sandbox_user_arn()`` as on the REST door. Any other
key is unknown here (the functions' roles may not invoke the admin API either). The signature is
recomputed with botocore's own SigV4 signer over the headers the request says it signed.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: the credentials ``cardops local`` runs with: the sandbox operator's
OPERATOR_ACCESS_KEY = "sandbox"
OPERATOR_SECRET_KEY = "sandbox"  # noqa: S105 - a local sandbox's fixed, public key
SERVICE = "execute-api"
#: how far a signature's time may be from now (AWS's window)
MAX_SKEW = timedelta(minutes=15)
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;_.-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)
#: API Gateway's answers (403, ``{"message": …}``)
MISSING = "Forbidden"
UNKNOWN_KEY = "The security token included in the request is invalid."
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
EXPIRED = "Signature expired"


class Refused(Exception):
    """API Gateway refuses the request (403) with this message; the function never sees it."""


@dataclass(frozen=True)
class Signer:
    secret_key: str
    #: the caller's ARN, as the event carries it
    arn: str


def authorize(
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    signers: Mapping[str, Signer],
    region: str,
    now: datetime,
) -> str:
    """The ARN of the request's signer, or ``Refused``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    found = _AUTHORIZATION.fullmatch(lowered.get("authorization", "").strip())
    amz_date = lowered.get("x-amz-date", "")
    if found is None or not amz_date:
        raise Refused(MISSING)
    signer = signers.get(found["key"])
    if signer is None:
        raise Refused(UNKNOWN_KEY)
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise Refused(MISSING) from None
    if abs(now - signed_at) > MAX_SKEW:
        raise Refused(EXPIRED)
    names = found["signed"].split(";")
    if (found["date"], found["region"], found["service"]) != (amz_date[:8], region, SERVICE) or not (
        {"host", "x-amz-date"} <= set(names) <= set(lowered)
    ):
        raise Refused(MISMATCH)
    expected = _signature(
        method, raw_path, {n: lowered[n] for n in names}, body, found["key"], signer, region, amz_date
    )
    if not hmac.compare_digest(expected, found["signature"]):
        raise Refused(MISMATCH)
    return signer.arn


def _signature(
    method: str,
    raw_path: str,
    signed: dict[str, str],
    body: bytes,
    access_key: str,
    signer: Signer,
    region: str,
    amz_date: str,
) -> str:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=f"http://{signed['host']}{raw_path}", data=body, headers=signed)
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(Credentials(access_key, signer.secret_key), SERVICE, region)
    string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
    return str(auth.signature(string_to_sign, request))
