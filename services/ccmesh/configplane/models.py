"""Typed config-plane documents, in the Kubernetes style (apiVersion, kind, metadata, spec).

These models are the single source of truth: `ccctl apply` validates against them, the
services read them from the config bucket, and the operator generates the ContactCenter
CRD's OpenAPI schema from them. Field names are camelCase on the wire (as Kubernetes
users expect) and snake_case in Python; every field carries a description, because
`kubectl explain` shows it.

The models live in one module per idea (`base`, `contactcenter`, `integrations`, `channels`); this
module names every kind, and is what the rest of the platform imports.
"""

from __future__ import annotations

from ccmesh.configplane.base import API_GROUP as API_GROUP
from ccmesh.configplane.base import API_VERSION as API_VERSION
from ccmesh.configplane.base import Model as Model
from ccmesh.configplane.base import ObjectMeta as ObjectMeta
from ccmesh.configplane.base import RegionName as RegionName
from ccmesh.configplane.base import ResourceId as ResourceId
from ccmesh.configplane.channels import *  # noqa: F403
from ccmesh.configplane.channels import ChannelEndpoint
from ccmesh.configplane.contactcenter import *  # noqa: F403 - re-exported: the public names of the kinds
from ccmesh.configplane.contactcenter import ContactCenter
from ccmesh.configplane.integrations import *  # noqa: F403
from ccmesh.configplane.integrations import IntegrationConnector, WebhookSubscription

#: Every kind the config plane stores, by `kind`. Later issues add theirs here.
KINDS: dict[str, type[Model]] = {
    "ContactCenter": ContactCenter,
    "WebhookSubscription": WebhookSubscription,
    "IntegrationConnector": IntegrationConnector,
    "ChannelEndpoint": ChannelEndpoint,
}
