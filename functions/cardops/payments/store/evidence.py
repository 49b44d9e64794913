"""The re-payment evidence bucket (SPEC §4): consent documents, private, encrypted, retained.

A document is written once under ``evidence/{store_id}/{request_id}/consent.{pdf|eml}`` with an
S3-verified SHA-256 checksum, and referenced from then on by its key and that checksum. Reads are
bounded: an object larger than the limit is reported by size and never downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import re

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from cardops.kernel import aws
from cardops.kernel.config import settings
from cardops.kernel.dynamodb import StoreUnavailable
from cardops.payments.domain.repayment import CONTENT_TYPES, DocumentKind, EvidenceDocument

_SAFE = re.compile(r"^[A-Za-z0-9_.:-]{1,80}$")
_TRANSIENT = {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "503", "500"}


class UnsafeKeyPart(ValueError):
    """A store or request id that cannot be part of an object key."""


class StoredDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    size: int
    content: bytes | None
    """``None`` when the object is larger than the limit (it was not downloaded)."""
    sha256: str | None


def document_key(store_id: str, request_id: str, kind: DocumentKind) -> str:
    for part in (store_id, request_id):
        if not _SAFE.match(part) or part in (".", ".."):
            raise UnsafeKeyPart(part)
    return f"evidence/{store_id}/{request_id}/consent.{kind}"


def _bucket() -> str:
    return settings().evidence_bucket


def _raise(exc: ClientError) -> None:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code in _TRANSIENT:
        raise StoreUnavailable(code) from exc


class EvidenceStore:
    def put(self, key: str, content: bytes, kind: DocumentKind) -> EvidenceDocument:
        digest = hashlib.sha256(content)
        try:
            aws.s3().put_object(
                Bucket=_bucket(),
                Key=key,
                Body=content,
                ContentType=CONTENT_TYPES[kind],
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(digest.digest()).decode(),
                ServerSideEncryption="AES256",
            )
        except ClientError as exc:
            _raise(exc)
            raise
        return EvidenceDocument(
            key=key, sha256=digest.hexdigest(), content_type=CONTENT_TYPES[kind], size=len(content)
        )

    def get(self, key: str, *, max_bytes: int) -> StoredDocument | None:
        """The object's bytes (when not larger than ``max_bytes``) and its stored SHA-256."""
        s3 = aws.s3()
        try:
            head = s3.head_object(Bucket=_bucket(), Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            _raise(exc)
            raise
        size = int(head.get("ContentLength", 0))
        stored = head.get("ChecksumSHA256")
        sha256 = base64.b64decode(stored).hex() if stored else None
        if size > max_bytes:
            return StoredDocument(size=size, content=None, sha256=sha256)
        try:
            body = s3.get_object(Bucket=_bucket(), Key=key)["Body"].read(max_bytes + 1)
        except ClientError as exc:
            _raise(exc)
            raise
        return StoredDocument(size=len(body), content=body, sha256=sha256)
