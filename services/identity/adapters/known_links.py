"""Contact links this process has written or read, kept until a removal is heard of.

A contact's link (which customer it belongs to) is created once and never changed; it only goes
away when erased (a purge by key, from any process) or expired. So a link stored or read once
can answer the contact's later events without another read, as long as every removal reaches
this memory. Removals are heard on the bucket's link subjects themselves (a plain subscription:
each write to `$KV.<bucket>.link.>` is also delivered here, a purge or delete marker included,
from whichever process wrote it): a marker drops its key. A value is remembered only when no
removal arrived while it was being read or written (the removal may be about it), and after a
reconnect (markers may have passed unheard) everything is forgotten. Until `follow` has
subscribed, nothing is remembered.
"""

from __future__ import annotations

from collections import OrderedDict

from nats.aio.client import Client
from nats.aio.msg import Msg

from identity.domain.timeline import ContactLink

#: How many links are remembered (the least recently used are forgotten first).
_REMEMBERED = 16384
_KV_OPERATION = "KV-Operation"


class KnownLinks:
    def __init__(self, bucket: str) -> None:
        self._prefix = f"$KV.{bucket}."
        self._links: OrderedDict[str, ContactLink] = OrderedDict()
        self._nc: Client | None = None
        self._reconnects = 0
        #: Removals heard so far: a read or write that saw this change may have missed one.
        self.removals = 0

    async def follow(self, nc: Client) -> None:
        """Hear the bucket's link removals from now on, and start remembering."""
        self._reconnects = _reconnects(nc)
        await nc.subscribe(f"{self._prefix}link.>", cb=self._heard)
        await nc.flush()  # the server has the subscription before anything is remembered
        self._nc = nc

    def get(self, key: str) -> ContactLink | None:
        if self._nc is None:
            return None
        if _reconnects(self._nc) != self._reconnects:
            # Removals may have passed while the connection was away.
            self._reconnects = _reconnects(self._nc)
            self._links.clear()
            return None
        link = self._links.get(key)
        if link is not None:
            self._links.move_to_end(key)
        return link

    def remember(self, key: str, link: ContactLink, removals_before: int) -> None:
        """`link` is stored under `key` (written or read while `removals` was `removals_before`)."""
        if self._nc is None or self.removals != removals_before:
            return
        self._links[key] = link
        self._links.move_to_end(key)
        while len(self._links) > _REMEMBERED:
            self._links.popitem(last=False)

    def forget(self, key: str) -> None:
        self.removals += 1
        self._links.pop(key, None)

    async def _heard(self, msg: Msg) -> None:
        if msg.headers and msg.headers.get(_KV_OPERATION):
            self.forget(msg.subject.removeprefix(self._prefix))


def _reconnects(nc: Client) -> int:
    return int(nc.stats.get("reconnects", 0))
