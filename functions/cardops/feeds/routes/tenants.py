"""Tenants, employees, card error data and card lines (SPEC §7, §8 contract 5)."""

from __future__ import annotations

import base64
from datetime import date
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cardops.feeds.domain.diagnosis import Diagnosis
from cardops.feeds.domain.models import Employee, Settlement
from cardops.feeds.use_cases.card_lines import (
    AppliedFix,
    CardErrorView,
    CardLineConflict,
    ImportResult,
    LineView,
    RematchResult,
    TenantView,
)
from cardops.feeds.wiring import card_lines
from cardops.kernel import clock
from cardops.kernel.identity import caller

router = Router()  # type: ignore[no-untyped-call]

TenantPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
EmployeePath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
LinePath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
ReportId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]


class TenantInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    corporate_number: str | None = Field(default=None, max_length=32)


class EmployeeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_kana: str = Field(min_length=1, max_length=128)
    card_linkage_code: str = Field(min_length=1, max_length=64)
    card_company_employee_code: str | None = Field(default=None, max_length=64)
    settlement: Settlement = "corporate"


class EmployeeImport(BaseModel):
    """The master CSV: as text (UTF-8), or base64 of the file's bytes (UTF-8 or CP932)."""

    model_config = ConfigDict(extra="forbid")

    csv: str | None = Field(default=None, max_length=5_000_000)
    csv_base64: str | None = Field(default=None, max_length=7_000_000)
    file_name: str = Field(default="employees.csv", max_length=200)

    @model_validator(mode="after")
    def _one(self) -> EmployeeImport:
        if (self.csv is None) == (self.csv_base64 is None):
            raise ValueError("give exactly one of csv or csv_base64")
        return self

    def content(self) -> bytes:
        if self.csv is not None:
            try:
                return self.csv.encode("utf-8")
            except UnicodeEncodeError as exc:  # lone surrogates survive JSON decoding
                raise CardLineConflict("invalid_text", "csv is not valid Unicode text") from exc
        try:
            return base64.b64decode(self.csv_base64 or "", validate=True)
        except ValueError as exc:  # binascii.Error, or non-ASCII characters in the string
            raise CardLineConflict("invalid_base64", "csv_base64 is not valid base64") from exc


class AssignInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employee_code: str = Field(min_length=1, max_length=64)


class LinkInput(BaseModel):
    """The report the line belongs to, and the employee who submitted it."""

    model_config = ConfigDict(extra="forbid")

    report_id: ReportId
    employee_code: str = Field(min_length=1, max_length=64)


class SelectInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report_id: ReportId


@router.put("/admin/tenants/<tenant_id>", tags=["tenants"])
def put_tenant(tenant_id: TenantPath, body: Annotated[TenantInput, Body()]) -> TenantView:
    return card_lines().put_tenant(
        tenant_id, body.corporate_number, clock.now(), actor=caller(router.current_event)
    )


@router.get("/admin/tenants/<tenant_id>", tags=["tenants"])
def get_tenant(tenant_id: TenantPath) -> TenantView:
    return card_lines().get_tenant(tenant_id)


@router.put("/admin/tenants/<tenant_id>/employees/<employee_code>", tags=["tenants"])
def put_employee(
    tenant_id: TenantPath, employee_code: EmployeePath, body: Annotated[EmployeeInput, Body()]
) -> Employee:
    try:
        employee = Employee(employee_code=employee_code, **body.model_dump())
    except ValidationError as exc:  # the master's own rules (e.g. a name that is only blanks): 422
        errors = [{"loc": ("body", *e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise RequestValidationError(errors) from exc
    return card_lines().put_employee(tenant_id, employee)


@router.get("/admin/tenants/<tenant_id>/employees/<employee_code>", tags=["tenants"])
def get_employee(tenant_id: TenantPath, employee_code: EmployeePath) -> Employee:
    return card_lines().employee(tenant_id, employee_code)


@router.post("/admin/tenants/<tenant_id>/employees/import", tags=["tenants"])
def import_employees(tenant_id: TenantPath, body: Annotated[EmployeeImport, Body()]) -> ImportResult:
    return card_lines().import_employees(tenant_id, body.content(), body.file_name)


@router.get("/admin/tenants/<tenant_id>/card-errors", tags=["card lines"])
def card_errors(tenant_id: TenantPath) -> list[CardErrorView]:
    return card_lines().errors(tenant_id)


@router.post("/admin/tenants/<tenant_id>/card-errors/<line_id>/apply-fix", tags=["card lines"])
def apply_fix(tenant_id: TenantPath, line_id: LinePath) -> AppliedFix:
    return card_lines().apply_fix(tenant_id, line_id)


@router.post("/admin/tenants/<tenant_id>/card-errors/<line_id>/assign", tags=["card lines"])
def assign(tenant_id: TenantPath, line_id: LinePath, body: Annotated[AssignInput, Body()]) -> LineView:
    return card_lines().assign(tenant_id, line_id, body.employee_code, actor=caller(router.current_event))


@router.post("/admin/tenants/<tenant_id>/rematch", tags=["card lines"])
def rematch(tenant_id: TenantPath) -> RematchResult:
    return card_lines().rematch(tenant_id)


@router.post("/admin/tenants/<tenant_id>/card-lines/<line_id>/link", tags=["card lines"])
def link(tenant_id: TenantPath, line_id: LinePath, body: Annotated[LinkInput, Body()]) -> LineView:
    actor = caller(router.current_event)
    return card_lines().link(tenant_id, line_id, body.employee_code, body.report_id, actor=actor)


@router.get("/admin/tenants/<tenant_id>/employees/<employee_code>/card-lines", tags=["card lines"])
def employee_lines(
    tenant_id: TenantPath, employee_code: EmployeePath, selectable: Annotated[bool, Query()] = True
) -> list[LineView]:
    """The employee-facing list: the lines they can pick in a claim (all their lines with false)."""
    return card_lines().employee_lines(tenant_id, employee_code, selectable_only=selectable)


@router.post(
    "/admin/tenants/<tenant_id>/employees/<employee_code>/card-lines/<line_id>/select", tags=["card lines"]
)
def select(
    tenant_id: TenantPath,
    employee_code: EmployeePath,
    line_id: LinePath,
    body: Annotated[SelectInput, Body()],
) -> LineView:
    actor = caller(router.current_event)
    return card_lines().select(tenant_id, employee_code, line_id, body.report_id, actor=actor)


@router.post(
    "/admin/tenants/<tenant_id>/employees/<employee_code>/card-lines/<line_id>/exclude", tags=["card lines"]
)
def exclude(tenant_id: TenantPath, employee_code: EmployeePath, line_id: LinePath) -> LineView:
    return card_lines().exclude(tenant_id, employee_code, line_id, actor=caller(router.current_event))


@router.get("/admin/tenants/<tenant_id>/employees/<employee_code>/diagnosis", tags=["card lines"])
def diagnosis(
    tenant_id: TenantPath,
    employee_code: EmployeePath,
    usage_date: Annotated[date, Query()],
    amount: Annotated[int | None, Query()] = None,
) -> Diagnosis:
    """Why the employee cannot select the line they paid on ``usage_date``."""
    return card_lines().diagnose(tenant_id, employee_code, usage_date, amount, clock.now())
