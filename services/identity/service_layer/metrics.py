"""OpenTelemetry metrics of the identity service (exported with the process's meter provider)."""

from __future__ import annotations

from opentelemetry import metrics

_meter = metrics.get_meter("identity")

#: Every ResolveCustomer, by outcome: created, matched, remote, suggested.
resolutions = _meter.create_counter(
    "contactcenter.identity.resolutions", unit="{resolution}", description="Customer resolutions by outcome."
)
#: Matches by the rule that decided, e.g. exact:phone or suggest:email.
matches = _meter.create_counter(
    "contactcenter.identity.matches", unit="{match}", description="Identifier matches by matching rule."
)
#: Merges and unmerges.
merges = _meter.create_counter(
    "contactcenter.identity.merges", unit="{merge}", description="Customer merges and unmerges by action."
)
#: Lookups that went to another region, by what crossed: personal, pseudonymous or none.
cross_region_lookups = _meter.create_counter(
    "contactcenter.identity.cross_region_lookups",
    unit="{lookup}",
    description="Resolutions answered by another (home) region, by what crossed.",
)
