"""Integration service settings (env prefix CC_)."""

from ccmesh.config import MeshConfig


class IntegrationConfig(MeshConfig):
    pass
