"""`python -m gateway`: run the gateway service."""

import sys

from ccmesh.service_host import ServiceDefinition, run_service
from gateway.bootstrap import build
from gateway.config import GatewayConfig

DEFINITION = ServiceDefinition(
    name="gateway",
    version="0.1.0",
    description="Every channel in, one contact model out",
    config_model=GatewayConfig,
    build=build,
)

if __name__ == "__main__":
    sys.exit(run_service(DEFINITION))
