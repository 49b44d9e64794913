"""A function's clients share one botocore session, so botocore's endpoint data is read once per cold
start, not once per client (issue 13: the webhook makes three clients on its first request)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.loaders import JSONFileLoader

from cardops.kernel import aws


@pytest.fixture
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }.items():
        monkeypatch.setenv(key, value)
    aws.reset_clients()
    yield
    aws.reset_clients()


def test_the_session_data_is_read_once_for_all_clients(fresh_clients: None) -> None:
    files: list[str] = []
    original = JSONFileLoader.load_file
    this_thread = threading.get_ident()

    def counted(self: JSONFileLoader, file_path: str) -> Any:
        if threading.get_ident() == this_thread:  # not a workflow thread an earlier test left running
            files.append(Path(file_path).name)
        return original(self, file_path)

    with mock.patch.object(JSONFileLoader, "load_file", counted):
        for service in ("secretsmanager", "dynamodb", "sqs"):
            aws.client(service)

    # what every client needs besides its own service model: read from disk once, as one session does
    shared = ("partitions", "sdk-default-configuration")
    assert {name: files.count(name) for name in shared} == dict.fromkeys(shared, 1), files


def test_each_function_signs_with_its_own_session(fresh_clients: None) -> None:
    aws.install_credentials(
        {"webhook": aws.Credentials("AKIAWEBHOOK", "w"), "processor": aws.Credentials("AKIAPROCESSOR", "p")}
    )
    try:
        keys = {}
        for function in ("webhook", "processor"):
            with aws.acting_as(function):
                keys[function] = aws.sqs()._request_signer._credentials.access_key  # type: ignore[attr-defined]
        assert keys == {"webhook": "AKIAWEBHOOK", "processor": "AKIAPROCESSOR"}
    finally:
        aws.clear_credentials()
