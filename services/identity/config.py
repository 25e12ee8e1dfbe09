"""Identity service settings (env prefix CC_)."""

from ccmesh.config import MeshConfig


class IdentityConfig(MeshConfig):
    pass
