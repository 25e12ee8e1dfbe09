"""OpenTelemetry metrics of the identity service (the process's meter provider by default)."""

from __future__ import annotations

from opentelemetry import metrics
from opentelemetry.metrics import Meter


class IdentityMetrics:
    def __init__(self, meter: Meter | None = None) -> None:
        meter = meter or metrics.get_meter("identity")
        #: Every ResolveCustomer, by outcome: created, matched, remote, suggested.
        self.resolutions = meter.create_counter(
            "contactcenter.identity.resolutions",
            unit="{resolution}",
            description="Customer resolutions by outcome.",
        )
        #: Matches by the rule that decided, e.g. exact:phone or suggest:email.
        self.matches = meter.create_counter(
            "contactcenter.identity.matches",
            unit="{match}",
            description="Identifier matches by matching rule.",
        )
        #: Merges and unmerges.
        self.merges = meter.create_counter(
            "contactcenter.identity.merges",
            unit="{merge}",
            description="Customer merges and unmerges by action.",
        )
        #: Lookups answered by another (home) region, by what crossed: personal or pseudonymous.
        self.cross_region_lookups = meter.create_counter(
            "contactcenter.identity.cross_region_lookups",
            unit="{lookup}",
            description="Resolutions answered by another (home) region, by what crossed.",
        )


#: The process-wide instruments (services); tests pass their own IdentityMetrics.
DEFAULT = IdentityMetrics()
