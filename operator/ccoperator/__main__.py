"""`python -m ccoperator`: run the operator (the image's `operator` entrypoint)."""

from __future__ import annotations

import kopf

from ccoperator import main as handlers
from ccoperator.config import Config


def run() -> None:
    config = Config.from_env()
    assert handlers.RESOURCE  # importing registered the handlers
    kopf.run(
        standalone=True,
        clusterwide=not config.namespaces,
        namespaces=list(config.namespaces),
        liveness_endpoint="http://0.0.0.0:8080/healthz",
    )


if __name__ == "__main__":
    run()
