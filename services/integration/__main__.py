"""`python -m integration`: run the integration service."""

import sys

from ccmesh.service_host import ServiceDefinition, run_service
from integration.bootstrap import build
from integration.config import IntegrationConfig

DEFINITION = ServiceDefinition(
    name="integration",
    version="0.1.0",
    description="Events out to business systems, actions in",
    config_model=IntegrationConfig,
    build=build,
)

if __name__ == "__main__":
    sys.exit(run_service(DEFINITION))
