"""`python -m routing`: run the routing service."""

import sys

from ccmesh.service_host import ServiceDefinition, run_service
from routing.bootstrap import build
from routing.config import RoutingConfig

DEFINITION = ServiceDefinition(
    name="routing",
    version="0.1.0",
    description="Queues, agents, reservations and service-level prediction",
    config_model=RoutingConfig,
    build=build,
)

if __name__ == "__main__":
    sys.exit(run_service(DEFINITION))
