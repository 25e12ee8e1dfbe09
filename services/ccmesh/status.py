"""gRPC status codes carried over NATS.

A reply with no status header is OK. An error reply carries the numeric gRPC code and the
message in `Grpc-Status`/`Grpc-Message`, and the same values in NATS micro's
`Nats-Service-Error-Code`/`Nats-Service-Error`, so micro-aware tools show the failure too.
"""

from __future__ import annotations

import grpc
import nats.errors
import nats.js.errors

STATUS_HEADER = "Grpc-Status"
MESSAGE_HEADER = "Grpc-Message"
MICRO_ERROR_HEADER = "Nats-Service-Error"
MICRO_CODE_HEADER = "Nats-Service-Error-Code"
#: Relative timeout in milliseconds, like gRPC's `grpc-timeout`: relative, so clocks need not agree.
TIMEOUT_HEADER = "Grpc-Timeout-Ms"
AUTHORIZATION_HEADER = "Authorization"

_BY_NUMBER: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}

#: Failures of a NATS or JetStream call that pass when the cluster settles: a timeout during a
#: leader election, no responders while a stream has no leader, a client reconnecting. A server
#: answers them UNAVAILABLE, which tells the caller to try again.
NATS_AWAY_ERRORS: tuple[type[Exception], ...] = (
    TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionReconnectingError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
)


#: The statuses a retry of the same (idempotent) call may turn into success.
RETRYABLE_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED}
)


def retryable(error: BaseException) -> bool:
    """A failure a retry of the same idempotent step may turn into success: the platform's own
    messaging did not answer (a stream electing its leader, a restart) or a call came back with
    a retryable status. It says nothing about the request itself."""
    if isinstance(error, RpcError):
        return error.code in RETRYABLE_CODES
    return isinstance(error, NATS_AWAY_ERRORS)


class RpcError(Exception):
    """An RPC failed with a gRPC status. Raised by clients; servicers may raise it too."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    def details(self) -> str:
        return self.message


def code_from_number(number: int) -> grpc.StatusCode:
    return _BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def error_headers(code: grpc.StatusCode, message: str) -> dict[str, str]:
    # Header values must be one line; a multi-line message would break the NATS header block.
    flat = " ".join(message.split())[:1024]
    number = str(code.value[0])
    return {
        STATUS_HEADER: number,
        MESSAGE_HEADER: flat,
        MICRO_CODE_HEADER: number,
        MICRO_ERROR_HEADER: flat,
    }


def error_from_headers(headers: dict[str, str] | None) -> RpcError | None:
    if not headers:
        return None
    raw = headers.get(STATUS_HEADER)
    if raw is None or raw == "0":
        return None
    try:
        code = code_from_number(int(raw))
    except ValueError:
        code = grpc.StatusCode.UNKNOWN
    return RpcError(code, headers.get(MESSAGE_HEADER, ""))
