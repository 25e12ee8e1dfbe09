"""Flow events offered between the routing instances of a region, over NATS request/reply.

A step waiting in an instance's call for the contact subscribes to
`ccflowwait.<region>.<tenant>.<contact>` while it waits; another instance offering an event sends
a request there. Nobody waiting answers at once with "no responders" (the usual case: the
journey is stored waiting, or waits for something else), so the offer costs one round trip.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from routing.adapters.flow_store import token

log = logging.getLogger(__name__)

#: Takes an event (name, data) for the waiting step: the node id it went to, "" when not taken.
Take = Callable[[str, Mapping[str, str]], str]

SUBJECT_PREFIX = "ccflowwait"
#: A waiting step answers at once; longer means its instance is stuck, and the event is not taken.
OFFER_TIMEOUT_SECONDS = 2.0


class NatsFlowEventRelay:
    def __init__(self, nc: Client, region: str, timeout: float = OFFER_TIMEOUT_SECONDS) -> None:
        self._nc = nc
        self._region = region
        self._timeout = timeout

    def _subject(self, tenant: str, contact_id: str) -> str:
        return f"{SUBJECT_PREFIX}.{self._region}.{token(tenant, 'tenant')}.{token(contact_id, 'contact id')}"

    async def listen(self, tenant: str, contact_id: str, take: Take) -> Callable[[], Awaitable[None]]:
        async def answer(message: Msg) -> None:
            try:
                offered = orjson.loads(message.data)
                node = take(str(offered["event"]), {str(k): str(v) for k, v in offered["data"].items()})
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                log.warning("unreadable flow event offered for contact %s: %s", contact_id, error)
                node = ""
            await message.respond(orjson.dumps({"node": node}))

        subscription = await self._nc.subscribe(self._subject(tenant, contact_id), cb=answer)
        # The server knows the subscription before the step waits: an offer right after finds it.
        await self._nc.flush()
        return subscription.unsubscribe

    async def offer(self, tenant: str, contact_id: str, event_name: str, data: Mapping[str, str]) -> str:
        payload = orjson.dumps({"event": event_name, "data": dict(data)})
        try:
            reply = await self._nc.request(self._subject(tenant, contact_id), payload, timeout=self._timeout)
        except NoRespondersError:
            return ""  # no step of any instance waits in a call for this contact
        except NatsTimeoutError:
            log.warning(
                "flow event %s for contact %s: the waiting instance did not answer", event_name, contact_id
            )
            return ""
        return str(orjson.loads(reply.data).get("node", ""))
