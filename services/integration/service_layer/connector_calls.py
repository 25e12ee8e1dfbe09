"""Call the connector that answers a journey's `integration` step, within the step's time.

The tenant's enabled connector whose `flowIntegrations` names the integration is asked with a
GET built from the contact (its customer's identifier, read from the contact's opening event so
routing never holds it) and the journey's inputs; its JSON answer becomes the journey's fields.
The call carries personal data, so it goes only to a system in a region the tenant's residency
allows for this region's contacts, as event delivery does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ccmesh.configplane.models import IntegrationConnector, Tenant
from integration.adapters.webhook_sender import SendResult
from integration.domain.connectors import MappingError
from integration.domain.flow_calls import (
    ContactFacts,
    FlowCall,
    FlowCallError,
    answer_fields,
    flow_call_of,
    request_path,
)
from integration.domain.residency import may_receive_personal_data

log = logging.getLogger(__name__)

#: Used when the caller gives no timeout.
DEFAULT_TIMEOUT_SECONDS = 5.0
#: At most this share of the time goes to waiting for the contact's opening event to be taken.
OPENING_WAIT_SHARE = 0.5
OPENING_POLL_SECONDS = 0.05


class UnknownIntegration(LookupError):
    """No enabled connector of the tenant answers the integration."""


class CallRefused(ValueError):
    """The call may not or cannot be made (residency, tenant not served, no identifier)."""


class ConnectorFailed(RuntimeError):
    """The business system failed or its answer could not be mapped."""


class ConnectorTimedOut(TimeoutError):
    """The business system did not answer in time."""


@dataclass(frozen=True)
class ConnectorAnswer:
    connector: str
    found: bool
    fields: dict[str, str] = field(default_factory=dict)


class ConnectorDirectory(Protocol):
    def connectors(self) -> Iterable[IntegrationConnector]: ...

    def tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant as this region serves it; None when it is not served here."""
        ...


class ContactOpenings(Protocol):
    async def facts(self, tenant_id: str, contact_id: str) -> ContactFacts | None:
        """What the contact's opening event says; None until that event has been taken."""
        ...


class ConnectorHttp(Protocol):
    async def get(self, base_url: str, token: str, path: str, timeout: float) -> tuple[SendResult, Any]: ...


class ConnectorCalls:
    def __init__(
        self,
        directory: ConnectorDirectory,
        openings: ContactOpenings,
        http: ConnectorHttp,
        region: str,
        *,
        local_mode: bool,
    ) -> None:
        self._directory = directory
        self._openings = openings
        self._http = http
        self._region = region
        self._local_mode = local_mode

    def find(self, tenant_id: str, integration: str) -> FlowCall:
        """The tenant's connector answering `integration`; UnknownIntegration when none does."""
        for document in self._directory.connectors():
            if document.spec.tenant != tenant_id:
                continue
            try:
                call = flow_call_of(document, integration, local_mode=self._local_mode)
            except FlowCallError as error:
                raise CallRefused(str(error)) from None
            if call is not None:
                return call
        raise UnknownIntegration(f"no connector of tenant {tenant_id!r} answers integration {integration!r}")

    async def invoke(
        self,
        tenant_id: str,
        contact_id: str,
        integration: str,
        inputs: Mapping[str, str],
        timeout: float = 0.0,
    ) -> ConnectorAnswer:
        call = self.find(tenant_id, integration)
        tenant = self._directory.tenant(tenant_id)
        if tenant is None:
            raise CallRefused(f"tenant {tenant_id!r} is not served in region {self._region!r}")
        if not may_receive_personal_data(tenant, self._region, call.endpoint_region):
            raise CallRefused(
                f"connector {call.connector!r} runs in {call.endpoint_region!r}: the residency of tenant "
                f"{tenant_id!r} keeps personal data of region {self._region!r} out of it"
            )
        budget = timeout if timeout > 0 else DEFAULT_TIMEOUT_SECONDS
        deadline = time.monotonic() + budget
        contact = await self._contact(tenant_id, contact_id, call, budget * OPENING_WAIT_SHARE)
        try:
            path = request_path(call, contact, tenant_id, inputs)
        except FlowCallError as error:
            raise CallRefused(str(error)) from None
        except MappingError as error:
            raise ConnectorFailed(f"connector {call.connector!r}: params: {error}") from None
        left = deadline - time.monotonic()
        try:
            result, answer = await asyncio.wait_for(
                self._http.get(call.base_url, call.token, path, left), max(0.0, left)
            )
        except TimeoutError:
            result, answer = SendResult(False, 0, "timed out"), None
        if not result.delivered:
            # The path may hold the customer's identifier: only the connector and the reason are logged.
            log.info("connector %s (%s) failed: %s", call.connector, integration, result.reason)
            if result.status == 0 and result.reason == "timed out":
                raise ConnectorTimedOut(f"connector {call.connector!r}: no answer within {budget:.1f}s")
            raise ConnectorFailed(f"connector {call.connector!r}: {result.reason}")
        if result.status == 404:
            return ConnectorAnswer(call.connector, False)
        try:
            fields = answer_fields(call, answer)
        except MappingError as error:
            raise ConnectorFailed(f"connector {call.connector!r}: fields: {error}") from None
        return ConnectorAnswer(call.connector, True, fields)

    async def _contact(self, tenant_id: str, contact_id: str, call: FlowCall, wait: float) -> ContactFacts:
        """The contact's facts; a contact whose opening event is not taken yet is waited for a
        little (the journey can ask before the integration service has read that event)."""
        until = time.monotonic() + wait
        while True:
            facts = await self._openings.facts(tenant_id, contact_id)
            if facts is not None or not call.needs_identifier or time.monotonic() >= until:
                return facts or ContactFacts(contact_id)
            await asyncio.sleep(OPENING_POLL_SECONDS)
