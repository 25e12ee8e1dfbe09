"""How provider webhooks hand a normalised message to the one inbound use case.

Every channel's webhook builds an `InboundMessage` and calls the one `AcceptInbound` bound in
bootstrap; this module turns what can go wrong on the way into HTTP answers.

A stream or bucket electing a new leader (a NATS server lost on a cluster) makes the platform's
own calls time out or find no responder for a few seconds. Every step of accepting a message is
safe to repeat, so such a failure is tried again within the request's deadline
(`RIDE_OUT_SECONDS`) instead of answering 503 at once: an election costs the provider a slower
answer, not a failed delivery.
"""

from __future__ import annotations

import grpc
from nats.errors import Error as NatsError

from ccmesh.status import RpcError
from gateway.adapters.contact_store import StillProcessing
from gateway.domain.inbound import Accepted, InboundMessage, validate
from gateway.entrypoints.edge_middleware import EdgeError
from gateway.service_layer.accept_inbound import AcceptInbound
from gateway.service_layer.workspace import until_settled

__all__ = ["AcceptInbound", "accept_checked", "rpc_failure"]

#: How long one request starts new tries after the platform's transient failures before it
#: answers 503. A stream whose leader died refuses or drops writes until a follower campaigns,
#: 4 to 9 s later (nats-server's fixed raft election timeout), and a try that meets a dropped
#: write waits out its 5 s timeout; this covers an election with such a try in it. A provider
#: that stops waiting first (Twilio after 15 s) retries as after a 503; once this request is
#: done, a retry is answered with its result.
RIDE_OUT_SECONDS = 12.0
#: The first pause between tries; it doubles up to a second.
FIRST_PAUSE_SECONDS = 0.1

_STATUS_OF_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "INVALID_ARGUMENT"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "UNAUTHENTICATED"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "PERMISSION_DENIED"),
    grpc.StatusCode.NOT_FOUND: (404, "NOT_FOUND"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "FAILED_PRECONDITION"),
    grpc.StatusCode.ABORTED: (409, "ABORTED"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "RESOURCE_EXHAUSTED"),
}


def rpc_failure(error: RpcError) -> EdgeError:
    """A failed call to another service: the caller's fault is 4xx, ours is 503 (retry later)."""
    status, code = _STATUS_OF_CODE.get(error.code, (503, "UNAVAILABLE"))
    return EdgeError(status, code, error.message[:500] or error.code.name)


async def accept_checked(accept: AcceptInbound, message: InboundMessage) -> tuple[Accepted, bool]:
    problems = validate(message)
    if problems:
        raise EdgeError(400, "INVALID_ARGUMENT", "; ".join(problems))
    try:
        return await until_settled(
            "accepting an inbound message",
            lambda: accept(message),
            seconds=RIDE_OUT_SECONDS,
            pause=FIRST_PAUSE_SECONDS,
        )
    except StillProcessing as error:
        raise EdgeError(409, "ABORTED", f"{error}; retry shortly", {"Retry-After": "1"}) from None
    except RpcError as error:
        raise rpc_failure(error) from None
    except (TimeoutError, NatsError):
        # The mesh is slow or away: providers retry a 503, and a retry is safe (idempotent).
        raise EdgeError(
            503,
            "UNAVAILABLE",
            "the platform could not take the message now; retry later",
            {"Retry-After": "1"},
        ) from None
