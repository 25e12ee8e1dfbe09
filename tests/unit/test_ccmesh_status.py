"""gRPC status carried in NATS headers (ccmesh.status): no I/O."""

from __future__ import annotations

import grpc
import pytest

from ccmesh.status import (
    MESSAGE_HEADER,
    MICRO_CODE_HEADER,
    MICRO_ERROR_HEADER,
    STATUS_HEADER,
    RpcError,
    code_from_number,
    error_from_headers,
    error_headers,
)


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK])
def test_every_error_code_round_trips(code: grpc.StatusCode) -> None:
    error = error_from_headers(error_headers(code, "it failed"))
    assert isinstance(error, RpcError)
    assert error.code == code
    assert error.message == "it failed"
    assert error.details() == "it failed"


def test_headers_carry_grpc_and_micro_names() -> None:
    headers = error_headers(grpc.StatusCode.NOT_FOUND, "no contact c1")
    assert headers == {
        STATUS_HEADER: "5",
        MESSAGE_HEADER: "no contact c1",
        MICRO_CODE_HEADER: "5",
        MICRO_ERROR_HEADER: "no contact c1",
    }


def test_multi_line_messages_are_flattened_to_one_line() -> None:
    headers = error_headers(grpc.StatusCode.INTERNAL, "first line\nsecond\r\n\tthird  ")
    for name in (MESSAGE_HEADER, MICRO_ERROR_HEADER):
        assert headers[name] == "first line second third"
        assert "\n" not in headers[name] and "\r" not in headers[name]
    error = error_from_headers(headers)
    assert error is not None and error.message == "first line second third"


def test_long_messages_are_capped() -> None:
    headers = error_headers(grpc.StatusCode.INTERNAL, "x" * 5000)
    assert len(headers[MESSAGE_HEADER]) == 1024


@pytest.mark.parametrize("headers", [None, {}, {"Other": "1"}, {STATUS_HEADER: "0"}])
def test_no_status_or_zero_means_ok(headers: dict[str, str] | None) -> None:
    assert error_from_headers(headers) is None


@pytest.mark.parametrize("raw", ["99", "not-a-number"])
def test_unknown_or_garbled_status_is_unknown(raw: str) -> None:
    error = error_from_headers({STATUS_HEADER: raw})
    assert error is not None
    assert error.code == grpc.StatusCode.UNKNOWN
    assert error.message == ""


def test_code_from_number_matches_grpc_numbering() -> None:
    assert code_from_number(4) == grpc.StatusCode.DEADLINE_EXCEEDED
    assert code_from_number(14) == grpc.StatusCode.UNAVAILABLE


def test_rpc_error_text_names_the_code() -> None:
    assert str(RpcError(grpc.StatusCode.UNAVAILABLE, "down")) == "UNAVAILABLE: down"
