"""Write a region's business configuration into the config plane, exactly as `ccctl apply` does.

`ccctl apply` goes through `ccmesh.configplane.store.ConfigStore`; so does this, so the operator and the
CLI can never disagree on keys, revisions or validation.
"""

from __future__ import annotations

from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.configplane.models import ContactCenter
from ccmesh.configplane.store import ConfigStore


async def apply_document(js: JetStreamContext, document: ContactCenter) -> None:
    store = await ConfigStore.open(js, naming.CONFIG_BUCKET)
    await store.apply(document)
