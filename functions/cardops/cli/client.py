"""How the CLI finds and calls the admin API: the sandbox's outputs file or a deployed stack.

A deployed stage is found from its CloudFormation outputs and called with SigV4 (the admin API
is IAM-authorized); the sandbox is called directly on 127.0.0.1.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import urllib3

DEFAULT_OUTPUTS = Path(".cardops/local-outputs.json")


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        if message is None and isinstance(body, dict):
            message = body.get("message")
        super().__init__(f"HTTP {status}: {message or body}")
        self.status = status
        self.body = body


class AdminClient:
    def __init__(self, outputs: dict[str, str], *, sign: bool = False, session: Any = None) -> None:
        self.outputs = outputs
        self.base = outputs["ApiUrl"].rstrip("/")
        self._sign = sign
        self._session = session
        self._http = urllib3.PoolManager()

    @property
    def session(self) -> Any:
        """The boto3 session of a deployed target (None for the sandbox)."""
        return self._session

    @property
    def is_sandbox(self) -> bool:
        return not self._sign

    def request(
        self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201, 202)
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        url = f"{self.base}{path}"
        if self._sign:
            headers = self._signed_headers(method, url, data, headers)
        response = self._http.request(method, url, body=data, headers=headers, timeout=30.0)
        try:
            payload = json.loads(response.data or b"null")
        except ValueError:
            payload = response.data.decode(errors="replace")
        if response.status not in ok:
            raise ApiError(response.status, payload)
        return payload

    def _signed_headers(
        self, method: str, url: str, data: bytes | None, headers: dict[str, str]
    ) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        credentials = self._session.get_credentials()
        region = self.outputs.get("AwsRegion") or self._session.region_name
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(credentials, "execute-api", region).add_auth(request)
        return dict(request.headers.items())


def load_outputs(
    outputs: Path | None, stack: str | None, profile: str | None, region: str | None
) -> AdminClient:
    if stack:
        import boto3

        session = boto3.session.Session(profile_name=profile, region_name=region)
        described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        values = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        return AdminClient(values, sign=True, session=session)
    path = outputs or DEFAULT_OUTPUTS
    if not path.exists():
        raise click.ClickException(
            f"{path} not found: start the sandbox with `make local`, or pass --stack NAME"
        )
    values = json.loads(path.read_text(encoding="utf-8"))
    host = urlsplit(values["ApiUrl"]).hostname
    return AdminClient(values, sign=host not in ("127.0.0.1", "localhost"))


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --outputs/--stack/--profile/--region/--json and passes ``client`` and ``as_json``."""

    @click.option(
        "--outputs", type=click.Path(dir_okay=False, path_type=Path), default=None, help="sandbox outputs"
    )
    @click.option("--stack", default=None, help="deployed stack name, e.g. cardops-prod")
    @click.option("--profile", default=None, help="AWS profile for --stack")
    @click.option("--region", default=None, help="AWS region for --stack")
    @click.option("--json", "as_json", is_flag=True, help="machine-readable output")
    @functools.wraps(command)
    def wrapper(
        outputs: Path | None, stack: str | None, profile: str | None, region: str | None, **kwargs: Any
    ) -> Any:
        return command(client=load_outputs(outputs, stack, profile, region), **kwargs)

    return wrapper


def call(client: AdminClient, method: str, path: str, body: Any = None) -> Any:
    """An admin API call whose failure becomes a CLI error (exit code 1, the API's message)."""
    try:
        return client.request(method, path, body)
    except ApiError as exc:
        raise click.ClickException(str(exc)) from exc


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
