"""Shared fixtures: moto in-process (``aws``), provisioned resources, and the sandbox over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.xdist_groups import pytest_collection_modifyitems  # noqa: F401 - the hook, for this tree

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


#: IAM decisions of this session's handlers, per provisioned stack (``tests/iam_report.py``)
ACCESS_LOG: list[dict[str, Any]] = []
REPORTS = ROOT / "reports"


def pytest_sessionfinish(session: pytest.Session) -> None:
    if ACCESS_LOG:
        from cardops.sandbox import moto_iam

        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        moto_iam.write_access_log(REPORTS / f"iam-access-{worker}.json", ACCESS_LOG)


def sample(relative: str) -> str:
    """A sample from events/ with its placeholders filled in against the business clock."""
    from cardops.cli.samples import render_file
    from cardops.kernel import clock

    return render_file(EVENTS / relative, now=clock.now()).decode("utf-8")


def load_event(relative: str) -> Any:
    return json.loads(sample(relative))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process moto with real Step Functions execution and in-process Lambda handlers."""
    from moto import mock_aws

    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    from cardops.kernel import aws as aws_adapter
    from cardops.kernel.config import reset_settings
    from cardops.payments.store.payments import CONTAINER_MARKERS

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        aws_adapter.reset_clients()
        reset_settings()
        CONTAINER_MARKERS.forget()  # a fresh table: the stores seen listed in the last one are not
        yield
        aws_adapter.reset_clients()
        reset_settings()
    from cardops.sandbox import lambda_runner

    lambda_runner.uninstall()


@pytest.fixture
def provisioned(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The stack's resources in moto, and the functions' environment pointing at them.

    IAM is enforced: every handler of ``resources.FUNCTIONS`` runs with its own role's credentials
    (policies from the synthesized template), so a call its role does not allow fails the test.
    Everything else (the test's own boto3 calls, stores used for set-up) runs as the sandbox operator.
    """
    import importlib

    from cardops import resources
    from cardops.kernel import aws as aws_adapter
    from cardops.kernel.config import reset_settings
    from cardops.kernel.webhook_secrets import clear_cached_secrets
    from cardops.sandbox import moto_iam
    from cardops.sandbox.lambda_runner import run_as
    from cardops.sandbox.provision import provision

    clear_cached_secrets()
    made = provision(dict(resources.SANDBOX_SECRETS), prefix="cardops-test")
    for key, value in made.environment(payjp_api_base="http://127.0.0.1:9").items():
        monkeypatch.setenv(key, value)
    reset_settings()
    for key, spec in resources.FUNCTIONS.items():
        module_name, _, attr = spec.handler.rpartition(".")
        module = importlib.import_module(module_name)
        monkeypatch.setattr(module, attr, run_as(key, getattr(module, attr)))
    aws_adapter.install_credentials(made.credentials)
    moto_iam.install()
    enforcement = moto_iam.Enforcement().start()
    logged = len(moto_iam.access_log())
    from cardops.sandbox.stream_poller import change_feed
    from tests import helpers

    helpers.use_change_feed(change_feed(made))
    try:
        yield made
    finally:
        helpers.use_change_feed(None)
        enforcement.stop()
        ACCESS_LOG.append({"outputs": made.outputs(), "decisions": moto_iam.access_log()[logged:]})
        aws_adapter.clear_credentials()
        clear_cached_secrets()


class SandboxProcess:
    def __init__(self, outputs: dict[str, str], process: subprocess.Popen[bytes]) -> None:
        self.outputs = outputs
        self.process = process

    @property
    def api(self) -> str:
        return self.outputs["ApiUrl"].rstrip("/")


@contextmanager
def running_sandbox(workdir: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """``cardops local`` as a newcomer runs it, in a subprocess on a free port, until the block ends.

    Yields the outputs file (written once the sandbox is ready) and the process.
    """
    from cardops.sandbox import iam

    iam.template_policies()  # synthesize here if infra/ changed, not inside the sandbox's start deadline
    outputs = workdir / "local-outputs.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    env["CARDOPS_IAM_ACCESS_LOG"] = str(REPORTS / f"iam-access-sandbox-{worker}-{workdir.name}.json")
    with (workdir / "sandbox.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cardops.cli.main", "local", "--port", "0", "--outputs", str(outputs)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while not outputs.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    output = (workdir / "sandbox.log").read_text(errors="replace")
                    raise RuntimeError(f"sandbox did not start:\n{output}")
                time.sleep(0.1)
            time.sleep(0.2)
            yield outputs, process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def sandbox_of_its_own(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[dict[str, Any]]:
    """A module's own sandbox (one that moves the sandbox clock, which would disturb the shared one):
    its outputs, plus ``_outputs_file`` for the CLI's ``--outputs``."""
    with running_sandbox(tmp_path_factory.mktemp(name)) as (path, _):
        values = json.loads(path.read_text())
        values["_outputs_file"] = str(path)
        yield values


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """The sandbox shared by the end-to-end tests of a session."""
    with running_sandbox(tmp_path_factory.mktemp("sandbox")) as (outputs, process):
        yield SandboxProcess(json.loads(outputs.read_text()), process)


@pytest.fixture
def emulator(provisioned: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The PAY.JP emulator in-process, with the functions pointed at it (processor and registry)."""
    from cardops import resources
    from cardops.kernel import clock
    from cardops.kernel.config import reset_settings
    from cardops.payments.providers import registry
    from cardops.sandbox.payjp_emulator import PayjpEmulator

    # on the sandbox clock (real time unless a test advances it), as in ``cardops local``
    emu = PayjpEmulator(secret_key=resources.SANDBOX_SECRETS["payjp_secret_key"], clock=clock.now)
    emu.start()
    monkeypatch.setenv("PAYJP_API_BASE", emu.url)
    reset_settings()
    registry.reset()
    yield emu
    emu.stop()
    registry.reset()
