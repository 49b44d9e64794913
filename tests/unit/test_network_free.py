"""Unit tests cannot reach the network: the guard of ``tests/unit/conftest.py`` is on."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketBlockedError


def test_a_unit_test_cannot_open_an_inet_socket() -> None:
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_a_unit_test_cannot_reach_aws_by_accident() -> None:
    """boto3 without moto would resolve and connect: both are refused before any packet leaves."""
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)


def test_unix_sockets_stay_allowed() -> None:
    left, right = socket.socketpair()
    left.close()
    right.close()
