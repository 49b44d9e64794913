"""IAM is enforced for the support functions: each call outside its grants is denied, beside one allowed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cardops.kernel import aws
from cardops.sandbox import moto_iam
from tests.integration.test_iam_enforcement import denied


@pytest.fixture(autouse=True)
def _keep_denials_out_of_the_report(provisioned: Any) -> Iterator[None]:
    before = len(moto_iam.access_log())
    yield
    moto_iam.truncate_access_log(before)


def test_report_function_reads_cases_and_writes_reports_only(provisioned: Any) -> None:
    key = {"pk": {"S": "CASE#x"}, "sk": {"S": "#CASE"}}
    with aws.acting_as("support_report"):
        aws.dynamodb().get_item(TableName=provisioned.table_name, Key=key)  # granted
        aws.s3().put_object(
            Bucket=provisioned.reports_bucket, Key="reports/complaints/2026-05.csv", Body=b"x"
        )
        denied(
            lambda: aws.dynamodb().put_item(
                TableName=provisioned.table_name, Item={**key, "doc": {"S": "{}"}}
            )
        )
        denied(lambda: aws.s3().put_object(Bucket=provisioned.reports_bucket, Key="elsewhere.csv", Body=b"x"))
        denied(
            lambda: aws.s3().get_object(
                Bucket=provisioned.reports_bucket, Key="reports/complaints/2026-05.csv"
            )
        )


def test_case_task_cannot_start_executions_or_write_reports(provisioned: Any) -> None:
    machine = provisioned.state_machine_arns["SupportCase"]
    with aws.acting_as("support_case"):
        aws.dynamodb().put_item(
            TableName=provisioned.table_name,
            Item={"pk": {"S": "CASE#iam"}, "sk": {"S": "#CASE"}, "doc": {"S": "{}"}},
        )  # granted
        denied(lambda: aws.stepfunctions().start_execution(stateMachineArn=machine, name="x", input="{}"))
        denied(
            lambda: aws.s3().put_object(
                Bucket=provisioned.reports_bucket, Key="reports/complaints/2026-05.csv", Body=b"x"
            )
        )


@pytest.mark.parametrize("caller", ["admin", "changes", "capture_deadline"])
def test_hook_callers_may_start_case_executions(provisioned: Any, caller: str) -> None:
    machine = provisioned.state_machine_arns["SupportCase"]
    with aws.acting_as(caller):
        aws.stepfunctions().start_execution(
            stateMachineArn=machine, name=f"iam-{caller}", input='{"case_id": "x"}'
        )
