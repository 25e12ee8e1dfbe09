"""Mesh RPC over a real nats-server: generated stubs over MeshChannel against MeshServer.

Every bad request is followed by a good call, proving one bad caller cannot stop a service.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import grpc
import nats
import pytest
from _mesh import REGION, ScriptedServicer, assert_echo_works, eventually, meshtest, serving
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from ccmesh import naming
from ccmesh.access import AccessControl
from ccmesh.auth import TokenAuthority
from ccmesh.discovery import EndpointCounters
from ccmesh.rpc_client import MeshChannel
from ccmesh.rpc_server import MeshServer
from ccmesh.status import MESSAGE_HEADER, MICRO_CODE_HEADER, STATUS_HEADER, TIMEOUT_HEADER, RpcError
from ccmesh.testing.meshtest_servicer import DESCRIPTOR
from contactcenter.meshtest.v1 import meshtest_pb2

ECHO_SUBJECT = naming.rpc_subject(REGION, "meshtest", "Echo")


@pytest.fixture
async def server(nc: NATS) -> AsyncIterator[MeshServer]:
    async with serving(nc, max_message_bytes=1024) as running:
        yield running


@pytest.fixture
def stub(nc: NATS) -> Any:
    return meshtest(MeshChannel(nc, REGION, default_timeout=5))


async def raw_request(nc: NATS, subject: str, data: bytes, headers: dict[str, str] | None = None) -> Msg:
    return await nc.request(subject, data, timeout=5, headers=headers)


def status_of(reply: Msg) -> tuple[str | None, str]:
    headers = reply.headers or {}
    return headers.get(STATUS_HEADER), headers.get(MESSAGE_HEADER, "")


async def test_round_trip_with_the_generated_stub(server: MeshServer, stub: Any) -> None:
    reply = await stub.Echo(meshtest_pb2.EchoRequest(payload=b"hello mesh"), timeout=5)
    assert isinstance(reply, meshtest_pb2.EchoResponse)
    assert reply.payload == b"hello mesh"
    slept = await stub.Sleep(meshtest_pb2.SleepRequest(milliseconds=1), timeout=5)
    assert slept.completed is True


async def test_replicas_in_one_queue_group_share_requests_and_answer_each_once(
    nc: NATS, nats_url: str
) -> None:
    connections = [await nats.connect(nats_url) for _ in range(2)]
    servers = []
    try:
        for index, connection in enumerate(connections):
            servers.append(await _start_replica(connection, f"replica-{index}"))
        # Raw requests with our own reply subjects, so a duplicate reply would be seen.
        replies: dict[str, list[bytes]] = {}

        async def collect(msg: Msg) -> None:
            replies.setdefault(msg.subject, []).append(msg.data)

        inbox = nc.new_inbox()
        await nc.subscribe(f"{inbox}.*", cb=collect)
        await nc.flush()
        handled = [s.endpoints[0] for s in servers]
        # Waves until both replicas took some: nats-server may keep routing a connection's
        # publishes to the members it already knew for a moment after a new member joins.
        total = 0
        while not all(c.num_requests for c in handled) and total < 400:
            for _ in range(20):
                request = meshtest_pb2.EchoRequest(payload=f"r{total}".encode()).SerializeToString()
                await nc.publish(
                    ECHO_SUBJECT, request, reply=f"{inbox}.{total}", headers={TIMEOUT_HEADER: "5000"}
                )
                total += 1
            await eventually(partial(handled_exactly, handled, total), what="all handled")
        await eventually(lambda: len(replies) == total, what="all answered")
        for connection in connections:
            await connection.flush()
        await nc.flush()
        assert all(c.num_requests > 0 for c in handled), [c.num_requests for c in handled]
        assert sum(c.num_requests for c in handled) == total
        assert all(len(answers) == 1 for answers in replies.values())
        for i in range(total):
            answer = meshtest_pb2.EchoResponse.FromString(replies[f"{inbox}.{i}"][0])
            assert answer.payload == f"r{i}".encode()
    finally:
        for server in servers:
            await server.stop(1.0)
        for connection in connections:
            await connection.drain()


def handled_exactly(counters: list[EndpointCounters], expected: int) -> bool:
    return sum(c.num_requests for c in counters) == expected


async def _start_replica(connection: NATS, instance_id: str) -> MeshServer:
    server = MeshServer(connection, region=REGION, name="meshtest", version="1.0.0", instance_id=instance_id)
    server.add_servicer(ScriptedServicer(), DESCRIPTOR)
    await server.start()
    return server


async def test_payload_that_is_not_protobuf_is_invalid_argument(
    nc: NATS, server: MeshServer, stub: Any
) -> None:
    reply = await raw_request(nc, ECHO_SUBJECT, b"\x0a\x05ab", {TIMEOUT_HEADER: "2000"})
    code, message = status_of(reply)
    assert code == str(grpc.StatusCode.INVALID_ARGUMENT.value[0])
    assert "contactcenter.meshtest.v1.EchoRequest" in message
    assert reply.headers is not None and reply.headers[MICRO_CODE_HEADER] == code
    await assert_echo_works(stub)


async def test_unknown_method_is_unimplemented_and_names_the_known_ones(
    nc: NATS, server: MeshServer, stub: Any
) -> None:
    reply = await raw_request(nc, naming.rpc_subject(REGION, "meshtest", "Explode"), b"")
    code, message = status_of(reply)
    assert code == str(grpc.StatusCode.UNIMPLEMENTED.value[0])
    assert "'Explode'" in message
    assert "Echo, Sleep" in message
    await assert_echo_works(stub)


async def test_message_over_the_limit_is_resource_exhausted(server: MeshServer, stub: Any) -> None:
    with pytest.raises(RpcError) as caught:
        await stub.Echo(meshtest_pb2.EchoRequest(payload=b"x" * 2000), timeout=5)
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "1024" in caught.value.message
    await assert_echo_works(stub, b"y" * 900)


@pytest.mark.parametrize("timeout_ms", ["0", "-250"])
async def test_already_expired_deadline_is_deadline_exceeded(
    nc: NATS, server: MeshServer, stub: Any, timeout_ms: str
) -> None:
    request = meshtest_pb2.EchoRequest(payload=b"late").SerializeToString()
    reply = await raw_request(nc, ECHO_SUBJECT, request, {TIMEOUT_HEADER: timeout_ms})
    assert status_of(reply)[0] == str(grpc.StatusCode.DEADLINE_EXCEEDED.value[0])
    counters = server.endpoints[0]
    await eventually(lambda: counters.num_errors == 1, what="the expired request counted as an error")
    await assert_echo_works(stub)


@pytest.mark.parametrize("timeout_ms", ["soon", "1.5"])
async def test_non_integer_timeout_header_is_invalid_argument(
    nc: NATS, server: MeshServer, stub: Any, timeout_ms: str
) -> None:
    request = meshtest_pb2.EchoRequest(payload=b"x").SerializeToString()
    reply = await raw_request(nc, ECHO_SUBJECT, request, {TIMEOUT_HEADER: timeout_ms})
    code, message = status_of(reply)
    assert code == str(grpc.StatusCode.INVALID_ARGUMENT.value[0])
    assert TIMEOUT_HEADER in message
    await assert_echo_works(stub)


async def test_handler_slower_than_its_deadline_is_cut_off(nc: NATS, stub: Any) -> None:
    servicer = ScriptedServicer()
    async with serving(nc, servicer) as server:
        with pytest.raises(RpcError) as caught:
            await stub.Sleep(meshtest_pb2.SleepRequest(milliseconds=2000), timeout=0.2)
        assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        # The server enforced the deadline too: the handler was cancelled, not left running.
        counters = server.endpoints[0]
        await eventually(lambda: counters.num_errors == 1, what="server recorded the deadline")
        assert "DEADLINE_EXCEEDED" in counters.last_error
        assert servicer.completed_sleeps == 0
        await eventually(lambda: not server._in_flight, what="no request left in flight")
        await assert_echo_works(stub)


async def test_no_responders_is_unavailable(nc: NATS, server: MeshServer) -> None:
    elsewhere = meshtest(MeshChannel(nc, "nowhere", default_timeout=30))
    # With a 30 s timeout a DEADLINE_EXCEEDED would mean we waited it out (and the test times out).
    with pytest.raises(RpcError) as caught:
        await asyncio.wait_for(elsewhere.Echo(meshtest_pb2.EchoRequest(payload=b"x")), timeout=10)
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert "'nowhere'" in caught.value.message
    # The region override on one call reaches the live service.
    reply = await elsewhere.Echo(meshtest_pb2.EchoRequest(payload=b"here"), region=REGION, timeout=5)
    assert reply.payload == b"here"


async def test_servicer_failures_become_their_status(server: MeshServer, stub: Any) -> None:
    expected = {
        b"rpc-error": (grpc.StatusCode.NOT_FOUND, "no such thing"),
        b"abort": (grpc.StatusCode.FAILED_PRECONDITION, "aborted on purpose"),
        b"crash": (grpc.StatusCode.INTERNAL, "internal error in"),
    }
    for payload, (code, text) in expected.items():
        with pytest.raises(RpcError) as caught:
            await stub.Echo(meshtest_pb2.EchoRequest(payload=payload), timeout=5)
        assert caught.value.code == code
        assert text in caught.value.message
        assert "boom" not in caught.value.message  # internals are not leaked to callers
    await assert_echo_works(stub)


async def test_concurrent_requests_run_concurrently(server: MeshServer, stub: Any) -> None:
    # Ten 300 ms sleeps with a 2 s deadline each only all succeed if they overlap.
    results = await asyncio.gather(
        *(stub.Sleep(meshtest_pb2.SleepRequest(milliseconds=300), timeout=2) for _ in range(10))
    )
    assert all(result.completed for result in results)


class GuardedServicer(ScriptedServicer):
    def __init__(self, access: AccessControl) -> None:
        super().__init__()
        self._access = access

    async def Echo(self, request: meshtest_pb2.EchoRequest, context: Any) -> meshtest_pb2.EchoResponse:
        caller = await self._access.require(context, "acme", {"supervisor"})
        return meshtest_pb2.EchoResponse(payload=f"{caller.tenant_id}/{caller.subject}".encode())


async def test_caller_identity_crosses_the_mesh(nc: NATS) -> None:
    authority = TokenAuthority("mesh-test-secret-0123456789")
    async with serving(nc, GuardedServicer(AccessControl(authority))):
        request = meshtest_pb2.EchoRequest()
        supervisor = MeshChannel(nc, REGION, token=authority.mint("acme", "supervisor", "sam"))
        assert (await meshtest(supervisor).Echo(request, timeout=5)).payload == b"acme/sam"
        service = MeshChannel(nc, REGION, token=lambda: authority.mint("*", "service", "routing"))
        assert (await meshtest(service).Echo(request, timeout=5)).payload == b"*/routing"
        cases = [
            (None, grpc.StatusCode.UNAUTHENTICATED),
            (TokenAuthority("some-other-secret-123456").mint("acme", "supervisor", "s"), None),
            (authority.mint("globex", "supervisor", "g"), grpc.StatusCode.PERMISSION_DENIED),
            (authority.mint("acme", "agent", "a"), grpc.StatusCode.PERMISSION_DENIED),
        ]
        for token, code in cases:
            with pytest.raises(RpcError) as caught:
                await meshtest(supervisor.with_token(token)).Echo(request, timeout=5)
            assert caught.value.code == (code or grpc.StatusCode.UNAUTHENTICATED)
