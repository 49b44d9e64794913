"""How the CLI finds and calls the admin API: the sandbox's outputs file or a deployed stack.

A deployed stage is found from its CloudFormation outputs and called with SigV4 (the admin API
is IAM-authorized); the sandbox is called directly on 127.0.0.1.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import urllib3
from click.core import ParameterSource

DEFAULT_OUTPUTS = Path(".cardops/local-outputs.json")


#: seconds an admin API call may take before the CLI gives up waiting (the server may still finish)
DEFAULT_TIMEOUT = 30.0


def field_errors(error: Any) -> list[str]:
    """``field.path: message`` for each field a 422 names (``body`` is the implied root)."""
    details = error.get("details") if isinstance(error, dict) else None
    found = details.get("errors") if isinstance(details, dict) else None
    lines = []
    for item in found if isinstance(found, list) else []:
        if not isinstance(item, dict):
            continue
        loc = [str(part) for part in item.get("loc") or []]
        if len(loc) > 1 and loc[0] == "body":
            loc = loc[1:]
        lines.append(f"{'.'.join(loc) or '(request)'}: {item.get('msg') or item.get('type') or 'invalid'}")
    return lines


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        if message is None and isinstance(body, dict):
            message = body.get("message")
        text = f"HTTP {status}: {message or body}"
        fields = field_errors(error)
        if fields:
            text += "".join(f"\n  {line}" for line in fields)
        super().__init__(text)
        self.status = status
        self.body = body


class ApiTimeout(Exception):
    """No answer in time: the server may still be working on the request."""


class ApiUnreachable(Exception):
    """The admin API could not be reached at all (nothing was sent or nothing came back)."""


def _timed_out(exc: Exception) -> bool:
    reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    return isinstance(reason, urllib3.exceptions.ReadTimeoutError | TimeoutError)


class AdminClient:
    def __init__(
        self, outputs: dict[str, str], *, sign: bool = False, session: Any = None, stack: str | None = None
    ) -> None:
        self.outputs = outputs
        self.base = outputs["ApiUrl"].rstrip("/")
        self._sign = sign
        self._session = session
        self._http = urllib3.PoolManager()
        #: the deployed stack's name (None for the sandbox or an outputs file)
        self.stack = stack

    @property
    def target(self) -> str:
        """What a person is told they act on: ``stack cardops-prod`` or the API's address."""
        return f"stack {self.stack}" if self.stack else self.base

    @property
    def session(self) -> Any:
        """The boto3 session of a deployed target (None for the sandbox)."""
        return self._session

    @property
    def is_sandbox(self) -> bool:
        return not self._sign

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        ok: tuple[int, ...] = (200, 201, 202),
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        url = f"{self.base}{path}"
        if self._sign:
            headers = self._signed_headers(method, url, data, headers)
        try:
            response = self._http.request(method, url, body=data, headers=headers, timeout=timeout)
        except urllib3.exceptions.HTTPError as exc:
            if _timed_out(exc):
                raise ApiTimeout(f"{method} {path}: no answer within {timeout:g} s") from exc
            raise ApiUnreachable(
                f"cannot reach the admin API at {self.base}: {exc.__class__.__name__}"
            ) from exc
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
        if credentials is None:
            from botocore.exceptions import NoCredentialsError

            raise NoCredentialsError()
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
        return AdminClient(values, sign=True, session=session, stack=stack)
    path = outputs or DEFAULT_OUTPUTS
    if not path.exists():
        raise click.ClickException(
            f"{path} not found: start the sandbox with `make local`, or pass --stack NAME"
        )
    values = json.loads(path.read_text(encoding="utf-8"))
    host = urlsplit(values["ApiUrl"]).hostname
    return AdminClient(values, sign=host not in ("127.0.0.1", "localhost"))


#: ``--output`` choices; tables are the default (SPEC §8: readable tables, ``--json`` for scripts)
OUTPUT_FORMATS = ("table", "json")
_OUTPUT = "cardops.output"


@dataclass(frozen=True)
class Output:
    """How the running command prints data: its format and the JMESPath ``--query`` applied first."""

    format: str = "table"
    query: str | None = None

    @property
    def as_json(self) -> bool:
        """Whether the command hands its data to ``echo_json`` (a query's result is shown generically)."""
        return self.format == "json" or self.query is not None


def current_output() -> Output:
    ctx = click.get_current_context(silent=True)
    found = ctx.find_root().meta.get(_OUTPUT) if ctx is not None else None
    return found if isinstance(found, Output) else Output()


def _query(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        jmespath.compile(value)
    except JMESPathError as exc:
        raise click.BadParameter(f"not a JMESPath expression: {exc}") from None
    return value


def choose_output(output: str | None, as_json: bool, query: str | None) -> Output:
    if as_json and output == "table":
        raise click.UsageError("--json and --output table contradict each other")
    return Output(format="json" if as_json else output or "table", query=query)


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the target (--outputs/--stack/--profile/--region) and output (--output/--json/--query)
    options; passes ``client`` and ``as_json`` (true when the command should hand its data to
    ``echo_json``, which applies --query and prints JSON or a table of the result)."""

    @click.option(
        "--outputs", type=click.Path(dir_okay=False, path_type=Path), default=None, help="sandbox outputs"
    )
    @click.option(
        "--stack",
        default=None,
        envvar="CARDOPS_STACK",
        show_envvar=True,
        help="deployed stack name, e.g. cardops-prod (an explicit --outputs wins over CARDOPS_STACK)",
    )
    @click.option("--profile", default=None, help="AWS profile for --stack")
    @click.option("--region", default=None, help="AWS region for --stack")
    @click.option(
        "--output",
        "output_format",
        type=click.Choice(OUTPUT_FORMATS),
        default=None,
        help="table (default) or json",
    )
    @click.option("--json", "as_json", is_flag=True, help="machine-readable output (same as --output json)")
    @click.option(
        "--query",
        default=None,
        callback=_query,
        help="JMESPath applied to the data, e.g. 'payments[].amount'",
    )
    @functools.wraps(command)
    def wrapper(
        outputs: Path | None,
        stack: str | None,
        profile: str | None,
        region: str | None,
        output_format: str | None,
        as_json: bool,
        query: str | None,
        **kwargs: Any,
    ) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        ctx = click.get_current_context()
        if outputs is not None and ctx.get_parameter_source("stack") is ParameterSource.ENVIRONMENT:
            stack = None  # the sandbox file named on the command line, not the stack of the shell
        output = choose_output(output_format, as_json, query)
        ctx.find_root().meta[_OUTPUT] = output
        try:
            return command(
                client=load_outputs(outputs, stack, profile, region), as_json=output.as_json, **kwargs
            )
        except (BotoCoreError, ClientError) as exc:
            raise click.ClickException(aws_error_message(exc, stack=stack, profile=profile)) from exc

    return wrapper


def moves_money(
    describe: Callable[[dict[str, Any]], str],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """For a command that moves money: against a deployed stack it asks first, unless ``--yes``.

    ``describe`` says what will happen from the command's arguments. The local sandbox holds test
    money only and is driven by scripts and tests: it is not asked. Place it under ``target_options``.
    """

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation (deployed stacks ask)")
        @functools.wraps(command)
        def wrapper(client: AdminClient, yes: bool, **kwargs: Any) -> Any:
            if not client.is_sandbox and not yes:
                click.confirm(f"{describe(kwargs)} on {client.target}. Continue?", abort=True, err=True)
            return command(client=client, **kwargs)

        return wrapper

    return decorate


def aws_error_message(exc: Exception, *, stack: str | None, profile: str | None) -> str:
    """One line for an AWS failure the operator can act on, instead of a botocore traceback."""
    from botocore import exceptions as boto

    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return "no AWS credentials: pass --profile, set AWS_PROFILE, or log in (e.g. aws sso login)"
    if isinstance(exc, boto.NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(exc, boto.ProfileNotFound):
        return f"AWS profile {profile!r} not found in your AWS config"
    if isinstance(exc, boto.ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        if code in {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}:
            return "the AWS session has expired: log in again (e.g. aws sso login) and retry"
        if code == "ValidationError" and "does not exist" in message and stack:
            return f"stack {stack!r} not found (check --stack, --region and --profile)"
        if code in {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException"}:
            return f"AWS refused the call ({code}): {message}"
        return f"AWS error {code}: {message}"
    return f"AWS error: {exc}"


def call(
    client: AdminClient, method: str, path: str, body: Any = None, *, timeout: float = DEFAULT_TIMEOUT
) -> Any:
    """An admin API call whose failure becomes a CLI error (exit code 1, the API's message)."""
    try:
        return client.request(method, path, body, timeout=timeout)
    except (ApiError, ApiUnreachable) as exc:
        raise click.ClickException(str(exc)) from exc
    except ApiTimeout as exc:
        raise click.ClickException(
            f"{exc}; the server may still be working on it: check before repeating a change"
        ) from exc


def echo_json(data: Any, *, indent: int | None = 2) -> None:
    """The command's data as the chosen output: --query applied, then JSON or a table of the result."""
    output = current_output()
    if output.query is not None:
        import jmespath

        data = jmespath.search(output.query, data)
        if output.format == "table":
            from cardops.cli.tables import rich_table

            click.echo(rich_table(data), nl=False)
            return
    click.echo(json.dumps(data, ensure_ascii=False, indent=indent, default=str))
