"""Gateway service settings (env prefix CC_)."""

from ccmesh.config import MeshConfig


class GatewayConfig(MeshConfig):
    pass
