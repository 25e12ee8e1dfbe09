"""Ai service settings (env prefix CC_)."""

from ccmesh.config import MeshConfig


class AiConfig(MeshConfig):
    pass
