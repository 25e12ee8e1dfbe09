"""`python -m ai`: run the ai service."""

import sys

from ai.bootstrap import build
from ai.config import AiConfig
from ccmesh.service_host import ServiceDefinition, run_service

DEFINITION = ServiceDefinition(
    name="ai",
    version="0.1.0",
    description="Language, intent, sentiment, summaries and PII redaction",
    config_model=AiConfig,
    build=build,
)

if __name__ == "__main__":
    sys.exit(run_service(DEFINITION))
