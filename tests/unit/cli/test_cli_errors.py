"""What the CLI prints when something is wrong (issue 17 item 6): one clear line, exit 1, no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from cardops.cli.client import ApiError
from cardops.cli.main import cli


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine with no AWS credentials, config or instance metadata."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def _one_line_error(result: Any) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_stack_without_region(no_aws: None) -> None:
    line = _one_line_error(_run("payments", "show", "payjp", "ch_1", "--stack", "cardops-prod"))
    assert "no AWS region" in line and "--region" in line


def test_stack_without_credentials(no_aws: None) -> None:
    line = _one_line_error(
        _run("payments", "show", "payjp", "ch_1", "--stack", "cardops-prod", "--region", "ap-northeast-1")
    )
    assert "no AWS credentials" in line


def test_stack_with_unknown_profile(no_aws: None) -> None:
    line = _one_line_error(_run("payments", "show", "payjp", "ch_1", "--stack", "s", "--profile", "nope"))
    assert "'nope' not found" in line


def _describe_stacks_fails(monkeypatch: pytest.MonkeyPatch, code: str, message: str) -> None:
    import boto3

    def fail(*_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": code, "Message": message}}, "DescribeStacks")

    class Client:
        describe_stacks = staticmethod(fail)

    monkeypatch.setattr(boto3.session.Session, "client", lambda self, *a, **k: Client())


def test_stack_not_found(no_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _describe_stacks_fails(monkeypatch, "ValidationError", "Stack with id cardops-nope does not exist")
    line = _one_line_error(
        _run("payments", "show", "payjp", "ch_1", "--stack", "cardops-nope", "--region", "ap-northeast-1")
    )
    assert "stack 'cardops-nope' not found" in line


def test_expired_token(no_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _describe_stacks_fails(
        monkeypatch, "ExpiredToken", "The security token included in the request is expired"
    )
    line = _one_line_error(
        _run("payments", "show", "payjp", "ch_1", "--stack", "cardops-prod", "--region", "ap-northeast-1")
    )
    assert "expired" in line and "log in again" in line


def test_validation_errors_name_each_field() -> None:
    body = {
        "error": {
            "code": "invalid_request",
            "message": "request validation failed",
            "details": {
                "errors": [
                    {"loc": ["body", "business_date"], "msg": "Input should be a valid date", "type": "date"},
                    {"loc": ["query", "limit"], "msg": "Input should be less than or equal to 100"},
                ]
            },
        }
    }  # fmt: skip
    text = str(ApiError(422, body))
    assert text.splitlines() == [
        "HTTP 422: request validation failed",
        "  business_date: Input should be a valid date",
        "  query.limit: Input should be less than or equal to 100",
    ]


@pytest.mark.allow_hosts(["127.0.0.1"])  # a refused connection on 127.0.0.1 is what it shows
def test_sandbox_not_running_is_one_line(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"ApiUrl": "http://127.0.0.1:9/"}))
    line = _one_line_error(_run("payments", "show", "payjp", "ch_1", "--outputs", str(outputs)))
    assert "cannot reach the admin API" in line
