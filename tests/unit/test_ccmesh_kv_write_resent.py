"""A bucket write that no server takes is sent again, under one message id, so it is stored once.

The stream here is a fake that keeps what JetStream keeps for this: each subject's last sequence,
and the message ids it stored (answering a repeated id with the first store's sequence, as the
server does within the duplicate window).
"""

from __future__ import annotations

import nats.errors
import pytest
from nats.js import api
from nats.js.errors import APIError, KeyWrongLastSequenceError, NoStreamResponseError

from ccmesh import kv
from ccmesh.kv import KV_STREAM_PREFIX, ReadYourWritesKV

NO_RESPONDERS = "no responders"
ANSWER_LOST = "stored, answer lost"
DROPPED = "dropped"


class Stream:
    def __init__(self, *failures: str) -> None:
        self.failures = list(failures)
        self.sent: list[dict[str, str]] = []
        self.sequence = 0
        self.last: dict[str, int] = {}
        self.stored: list[tuple[str, bytes]] = []
        self.by_id: dict[str, int] = {}

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float | None = None,
        stream: str | None = None,
        headers: dict[str, str] | None = None,
        msg_ttl: float | None = None,
    ) -> api.PubAck:
        headers = dict(headers or {})
        self.sent.append(headers)
        failure = self.failures.pop(0) if self.failures else None
        if failure == NO_RESPONDERS:
            raise NoStreamResponseError
        if failure == DROPPED:
            raise nats.errors.TimeoutError
        msg_id = headers[api.Header.MSG_ID.value]
        if msg_id in self.by_id:
            return api.PubAck(stream="KV_t", seq=self.by_id[msg_id], duplicate=True)
        expected = headers.get(api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value)
        if expected is not None and int(expected) != self.last.get(subject, 0):
            raise APIError(code=400, err_code=10071, description="wrong last sequence")
        self.sequence += 1
        self.last[subject] = self.by_id[msg_id] = self.sequence
        self.stored.append((subject, payload))
        if failure == ANSWER_LOST:
            raise nats.errors.TimeoutError
        return api.PubAck(stream="KV_t", seq=self.sequence)


def bucket(stream: Stream) -> ReadYourWritesKV:
    return ReadYourWritesKV("t", f"{KV_STREAM_PREFIX}t", "$KV.t.", stream, replicas=3, direct=False)  # type: ignore[arg-type]


async def test_a_write_nobody_takes_is_sent_again_until_the_new_leader_stores_it() -> None:
    stream = Stream(NO_RESPONDERS, NO_RESPONDERS, DROPPED)
    assert await bucket(stream).put("contact.c1", b"queued") == 1
    assert stream.stored == [("$KV.t.contact.c1", b"queued")]
    assert len(stream.sent) == 4
    assert len({sent[api.Header.MSG_ID.value] for sent in stream.sent}) == 1


async def test_a_conditional_write_stored_but_unanswered_is_stored_once_and_not_refused() -> None:
    # Without the message id the second send would be refused (the key is no longer at 0) and
    # the writer, thinking it lost a race, would apply its change a second time.
    stream = Stream(ANSWER_LOST)
    handle = bucket(stream)
    assert await handle.create("contact.c1", b"queued") == 1
    assert stream.stored == [("$KV.t.contact.c1", b"queued")]
    assert handle.known("contact.c1") == (b"queued", 1)
    assert await handle.update("contact.c1", b"offered", last=1) == 2
    assert len({sent[api.Header.MSG_ID.value] for sent in stream.sent}) == 2


async def test_a_refused_condition_is_raised_at_once() -> None:
    stream = Stream()
    handle = bucket(stream)
    await handle.put("contact.c1", b"queued")
    with pytest.raises(KeyWrongLastSequenceError):
        await handle.update("contact.c1", b"offered", last=7)
    assert len(stream.sent) == 2


async def test_a_stream_that_never_takes_the_write_fails_it_after_the_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kv, "_LEADERLESS_SECONDS", 0.05)
    stream = Stream(*[NO_RESPONDERS] * 1000)
    with pytest.raises(NoStreamResponseError):
        await bucket(stream).put("contact.c1", b"queued")
    assert stream.stored == []


async def test_deletions_and_purges_are_markers_remembered_as_absent() -> None:
    stream = Stream(NO_RESPONDERS)
    handle = bucket(stream)
    await handle.put("contact.c1", b"queued")
    await handle.delete("contact.c1")
    assert handle.known("contact.c1") is None and handle.known_revision("contact.c1") == 2
    await handle.purge("contact.c1")
    assert handle.known_revision("contact.c1") == 3
    assert [sent.get("KV-Operation") for sent in stream.sent] == [None, None, "DEL", "PURGE"]
