"""`python -m identity`: run the identity service."""

import sys

from ccmesh.service_host import ServiceDefinition, run_service
from identity.bootstrap import build
from identity.config import IdentityConfig

DEFINITION = ServiceDefinition(
    name="identity",
    version="0.1.0",
    description="One customer across every channel, tenants and access",
    config_model=IdentityConfig,
    build=build,
)

if __name__ == "__main__":
    sys.exit(run_service(DEFINITION))
