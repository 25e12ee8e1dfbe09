"""Manage webhook subscriptions through the contract: validate, then store in the config plane."""

from __future__ import annotations

from ccmesh.configplane.loader import DocumentError, validate_document
from ccmesh.configplane.models import API_VERSION, WebhookSubscription
from ccmesh.configplane.store import AppliedResult, ConfigStore
from contactcenter.integration.v1 import integration_pb2
from integration.domain.subscriptions import SubscriptionError, check

KIND = "WebhookSubscription"


def document_of(subscription: integration_pb2.Subscription) -> WebhookSubscription:
    """The config-plane document for `subscription`; SubscriptionError naming every bad field."""
    raw = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": subscription.name},
        "spec": {
            "tenant": subscription.tenant_id,
            "endpointRegion": subscription.endpoint_region,
            "url": subscription.url,
            "secret": subscription.secret,
            "eventTypes": list(subscription.event_types),
            "filter": subscription.filter,
            "enabled": subscription.enabled,
        },
    }
    try:
        document = validate_document(raw)
    except DocumentError as error:
        raise SubscriptionError(subscription.name, error.problems) from None
    assert isinstance(document, WebhookSubscription)
    return document


def contract_of(document: WebhookSubscription) -> integration_pb2.Subscription:
    spec = document.spec
    return integration_pb2.Subscription(
        name=document.metadata.name,
        tenant_id=spec.tenant,
        endpoint_region=spec.endpoint_region,
        url=spec.url,
        event_types=spec.event_types,
        filter=spec.filter,
        enabled=spec.enabled,
    )


class Subscriptions:
    def __init__(self, store: ConfigStore, *, local_mode: bool) -> None:
        self._store = store
        self._local_mode = local_mode

    async def apply(self, subscription: integration_pb2.Subscription) -> AppliedResult:
        document = document_of(subscription)
        check(document.metadata.name, document.spec, local_mode=self._local_mode)
        existing = await self._store.get(KIND, document.metadata.name)
        if isinstance(existing, WebhookSubscription) and existing.spec.tenant != document.spec.tenant:
            # Names are global: one tenant must not overwrite (or learn about) another's subscription.
            raise SubscriptionError(
                document.metadata.name, ["metadata.name: already taken; choose another name"]
            )
        return await self._store.apply(document)

    async def list(self, tenant_id: str) -> list[WebhookSubscription]:
        return [
            doc
            for doc in await self._store.list(KIND)
            if isinstance(doc, WebhookSubscription) and doc.spec.tenant == tenant_id
        ]

    async def get(self, tenant_id: str, name: str) -> WebhookSubscription | None:
        document = await self._store.get(KIND, name)
        if isinstance(document, WebhookSubscription) and document.spec.tenant == tenant_id:
            return document
        return None

    async def delete(self, tenant_id: str, name: str) -> bool:
        if await self.get(tenant_id, name) is None:
            return False
        return await self._store.delete(KIND, name)
