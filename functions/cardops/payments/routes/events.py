"""Admin routes for webhook events after intake: their processing state, the dead-letter queue."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from cardops.payments.providers import registry
from cardops.payments.use_cases import event_processing
from cardops.payments.use_cases.event_processing import EventStatus, ParkedEvent, PermanentlyParked
from cardops.payments.wiring import dead_letters, raw_events, redrive_event

router = Router()  # type: ignore[no-untyped-call]

ProviderPath = Annotated[str, Path(pattern=registry.name_pattern(), description="webhook provider")]
EventIdPath = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.:-]+$")]


class RedriveInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=255)
    provider: str | None = Field(default=None, pattern=registry.name_pattern())


@router.get("/admin/events/dlq", tags=["events"])
def list_dead_letters() -> list[ParkedEvent]:
    """Events parked after every processing attempt failed, oldest first, with the last reason."""
    return event_processing.list_parked(dead_letters(), raw_events())


@router.get("/admin/events/parked", tags=["events"])
def list_parked() -> list[PermanentlyParked]:
    """Events parked without retries because they can never succeed as they are (schema-invalid)."""
    return event_processing.list_permanently_parked(raw_events())


@router.post("/admin/events/dlq/redrive", tags=["events"])
def redrive(body: Annotated[RedriveInput, Body()]) -> ParkedEvent:
    """Move one parked event back to the events queue (deleted from the DLQ only after the send)."""
    return redrive_event(event_id=body.event_id, provider=body.provider)


@router.get("/admin/events/<provider>/<event_id>", tags=["events"])
def show_event(provider: ProviderPath, event_id: EventIdPath) -> EventStatus:
    """What processing made of a received webhook event: processed (and how), failing, or parked."""
    record = raw_events().processing_state(provider=provider, event_id=event_id)
    return event_processing.status_of(provider, event_id, record)
