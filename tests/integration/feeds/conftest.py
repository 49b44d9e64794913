"""Feed fixtures on in-process moto: the stack's bucket and table, the real admin handler, and
files delivered at a chosen instant (S3 ``LastModified`` is the delivery time the sync windows on)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.helpers import call

EVENTS = Path(__file__).resolve().parents[3] / "events" / "feeds"
#: A valid 法人番号 (the National Tax Agency's documented example).
VALID_CORPORATE_NUMBER = "5835678256246"


class Feeds:
    def __init__(self, provisioned: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        from cardops.handlers.admin import handler

        self.provisioned = provisioned
        self.bucket = provisioned.feed_bucket
        self.s3 = boto3.client("s3", region_name="ap-northeast-1")
        self._handler = handler
        self._monkeypatch = monkeypatch

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        return call(self._handler, method, path, body)

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, payload = self.api(method, path, body)
        assert status == 200, (status, payload)
        return payload

    def deliver(
        self, tenant: str, company: str, name: str, data: bytes | None = None, *, at: datetime | None = None
    ) -> str:
        """Put a statement file (a sample from events/feeds by default) as if it arrived ``at``."""
        key = f"feeds/{tenant}/{company}/{name}"
        self.put(key, data if data is not None else (EVENTS / name).read_bytes(), at=at)
        return key

    def put(self, key: str, content: bytes, *, at: datetime | None = None) -> None:
        """Put any object into the feed bucket as if it arrived ``at`` (now when None)."""
        if at is None:
            self._monkeypatch.setattr("moto.s3.models.utcnow", _real_utcnow)
        else:
            moment = at.astimezone(UTC).replace(tzinfo=None)
            self._monkeypatch.setattr("moto.s3.models.utcnow", lambda: moment)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=content)
        self._monkeypatch.setattr("moto.s3.models.utcnow", _real_utcnow)

    def setup_tenant(
        self, tenant: str, corporate_number: str | None = VALID_CORPORATE_NUMBER, *, unchecked: bool = False
    ) -> None:
        """``unchecked``: stored as is, like a number registered before the API refused invalid ones."""
        if unchecked:
            from cardops.feeds.store import FeedStore, Tenant

            FeedStore().put_tenant(
                Tenant(tenant_id=tenant, corporate_number=corporate_number, updated_at=datetime.now(UTC))
            )
        else:
            self.ok("PUT", f"/admin/tenants/{tenant}", {"corporate_number": corporate_number})
        result = self.ok(
            "POST",
            f"/admin/tenants/{tenant}/employees/import",
            {"csv": (EVENTS / "employees.csv").read_text(encoding="utf-8")},
        )
        assert result["problems"] == [] and result["imported"] == 7

    def sync(self, business_date: str) -> Any:
        return self.ok("POST", "/admin/feeds/sync", {"business_date": business_date})

    def errors(self, tenant: str) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.ok("GET", f"/admin/tenants/{tenant}/card-errors")
        return errors


def _real_utcnow() -> datetime:
    from moto.core.utils import utcnow

    return utcnow()


@pytest.fixture
def feeds(provisioned: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Feeds]:
    yield Feeds(provisioned, monkeypatch)
