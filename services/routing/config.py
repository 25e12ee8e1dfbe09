"""Routing service settings (env prefix CC_)."""

from pydantic import Field

from ccmesh.config import MeshConfig


class RoutingConfig(MeshConfig):
    #: Seconds an agent has to answer an offer before the contact goes back to its queue.
    acd_offer_timeout_seconds: float = Field(default=20.0, gt=0)
    #: Seconds without a presence heartbeat after which an agent is set offline.
    acd_heartbeat_timeout_seconds: float = Field(default=30.0, gt=0)
    #: How often the ACD loop sweeps for timeouts (and routes when nothing changed).
    acd_tick_seconds: float = Field(default=0.5, gt=0)
