"""Gateway settings (env prefix CC_)."""

from pydantic import Field

from ccmesh.config import MeshConfig


class GatewayConfig(MeshConfig):
    #: Port of the HTTP side (health, provider APIs); -1 turns it off, 0 picks a free port.
    http_port: int = Field(default=-1, ge=-1, le=65535)
    http_host: str = "127.0.0.1"
