"""The conversation's consumers as a read-your-writes barrier (`ConversationSync`): the contact's
last customer message and last reply on the stream, and whether the consumers that add them to
the conversation have settled both."""

from __future__ import annotations

from collections.abc import Sequence

from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.consumer_progress import caught_up


class StreamConversationSync:
    def __init__(self, js: JetStreamContext, region: str, followers: Sequence[tuple[str, str]]) -> None:
        """`followers`: (event type, durable consumer that adds it to the conversation)."""
        self._js = js
        self._region = region
        self._followers = list(followers)

    async def caught_up(self, tenant_id: str, contact_id: str, within_seconds: float) -> bool:
        followed = [
            (naming.event_subject(self._region, tenant_id, event_type, contact_id), durable)
            for event_type, durable in self._followers
        ]
        return await caught_up(
            self._js, naming.events_stream(self._region).name, followed, within_seconds=within_seconds
        )
