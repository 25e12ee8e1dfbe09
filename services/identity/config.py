"""Identity service settings (env prefix CC_)."""

from __future__ import annotations

import hashlib
import hmac

from pydantic import Field

from ccmesh.config import SECRET_MARK, MeshConfig


class IdentityConfig(MeshConfig):
    #: Secret behind the global index's keyed hashes (per-tenant keys are derived from it). Must be
    #: the same in every region. Empty: derived from the auth secret. Never logged.
    index_secret: str = Field(default="", json_schema_extra={SECRET_MARK: True})
    #: Seconds to wait for another region's identity service when resolving across regions.
    remote_deadline_seconds: float = Field(default=3.0, gt=0)

    def index_key(self) -> bytes:
        if self.index_secret:
            if len(self.index_secret) < 16:
                raise ValueError("CC_INDEX_SECRET must be at least 16 characters")
            return self.index_secret.encode()
        return hmac.new(self.auth_secret.encode(), b"identity-global-index", hashlib.sha256).digest()
