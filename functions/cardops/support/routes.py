"""Admin routes of support cases (issue 16), IAM-authorized like every admin route.

Every change names its actor (the IAM caller). Case rules become 409 with the rule's code (a
contact hold refuses customer contact: ``contact_hold``; resolving unacknowledged:
``not_acknowledged``); a case about a payment of another store, an unknown category or a bad month
is a 4xx that says which.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from cardops.kernel import clock
from cardops.kernel.identity import caller
from cardops.support import use_cases
from cardops.support.domain.cases import Case, CaseDraft, Category, Channel, Subject
from cardops.support.domain.report import MonthlyReport, report_csv
from cardops.support.use_cases import CaseDetail
from cardops.support.wiring import support_deps

router = Router()  # type: ignore[no-untyped-call]

CaseIdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
MonthPath = Annotated[str, Path(min_length=1, max_length=32, description="YYYY-MM (Asia/Tokyo)")]


class OpenCaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    summary: str = Field(min_length=1, max_length=2000)
    channel: Channel = "phone"
    subject: Subject


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(min_length=1, max_length=2000)


class CaseList(BaseModel):
    cases: list[Case]


class ReportAnswer(BaseModel):
    report: MonthlyReport
    csv: str
    #: where it was written (POST only)
    written: list[str] = []


def _actor() -> str:
    return caller(router.current_event)


@router.post("/admin/cases", tags=["support"], status_code=201)
def open_case(body: Annotated[OpenCaseBody, Body()]) -> Response[Case]:
    draft = CaseDraft(**body.model_dump())
    case = use_cases.open_case(support_deps(), draft, actor=_actor(), now=clock.now())
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=case)


@router.get("/admin/cases", tags=["support"])
def list_cases(
    status: Annotated[Literal["open", "all"], Query()] = "open",
    month: Annotated[str | None, Query(max_length=32)] = None,
) -> CaseList:
    return CaseList(cases=use_cases.list_cases(support_deps(), status=status, month=month, now=clock.now()))


@router.get("/admin/cases/<case_id>", tags=["support"])
def show_case(
    case_id: CaseIdPath, amount: Annotated[int | None, Query(gt=0, le=10**12)] = None
) -> CaseDetail:
    return use_cases.show(support_deps(), case_id, now=clock.now(), amount=amount)


def _act(case_id: str, action: use_cases.Action, note: str) -> Case:
    return use_cases.act(support_deps(), case_id, action, actor=_actor(), now=clock.now(), note=note)


@router.post("/admin/cases/<case_id>/ack", tags=["support"])
def acknowledge(case_id: CaseIdPath, body: Annotated[NoteBody, Body()]) -> Case:
    return _act(case_id, "acknowledge", body.note)


@router.post("/admin/cases/<case_id>/report", tags=["support"])
def report_to_program(case_id: CaseIdPath, body: Annotated[NoteBody, Body()]) -> Case:
    """A public-body complaint was reported to the card program."""
    return _act(case_id, "report", body.note)


@router.post("/admin/cases/<case_id>/release-hold", tags=["support"])
def release_hold(case_id: CaseIdPath, body: Annotated[NoteBody, Body()]) -> Case:
    """The card program confirmed the complaint: customer contact is allowed again."""
    return _act(case_id, "release_hold", body.note)


@router.post("/admin/cases/<case_id>/contact", tags=["support"])
def contact(case_id: CaseIdPath, body: Annotated[NoteBody, Body()]) -> Case:
    """Record a contact with the customer; refused under a contact hold."""
    return _act(case_id, "contact", body.note)


@router.post("/admin/cases/<case_id>/resolve", tags=["support"])
def resolve(case_id: CaseIdPath, body: Annotated[ResolveBody, Body()]) -> Case:
    return _act(case_id, "resolve", body.resolution)


@router.get("/admin/complaints-reports/<month>", tags=["support"])
def monthly_report(month: MonthPath) -> ReportAnswer:
    built = use_cases.report(support_deps(), month, now=clock.now())
    return ReportAnswer(report=built, csv=report_csv(built))


@router.post("/admin/complaints-reports/<month>", tags=["support"])
def write_monthly_report(month: MonthPath) -> ReportAnswer:
    """Build the month's report and write it to the reports bucket (as the schedule does)."""
    built, keys = use_cases.write_report(support_deps(), month, now=clock.now())
    return ReportAnswer(report=built, csv=report_csv(built), written=keys)
