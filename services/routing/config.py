"""Routing service settings (env prefix CC_)."""

from ccmesh.config import MeshConfig


class RoutingConfig(MeshConfig):
    pass
