"""docs/metrics.md is generated from the code and current; dashboards query only catalogued names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboard_queries import (
    CATALOGUED_SERIES,
    METRICS,
    PanelQuery,
    alert_queries,
    as_bool_comparisons,
    catalogue,
    metric_names,
    panel_queries,
    variable_metrics,
)

ROOT = Path(__file__).resolve().parents[2]

#: Attribute keys a metric may carry: bounded values from configuration or fixed vocabularies.
#: A new key must be added here on purpose (never an identifier of a person or a contact).
BOUNDED_ATTRIBUTES = {
    "action",
    "channel",
    "crossed",
    "flow",
    "home_region",
    "http.request.method",
    "http.response.status_code",
    "http.route",
    "messaging.consumer.group.name",
    "messaging.destination.name",
    "node",
    "outcome",
    "pipeline",
    "queue",
    "region",
    "rpc.grpc.status_code",
    "rpc.method",
    "rpc.service",
    "rpc.system",
    "rule",
    "stage",
    "state",
    "subscription",
    "tenant",
    # A call's side: caller or agent.
    "track",
    "version",
}


def test_the_doc_is_current() -> None:
    expected = catalogue.render(METRICS)
    assert (ROOT / "docs" / "metrics.md").read_text() == expected, "run `python tools/metric_catalogue.py`"


def test_the_catalogue_reads_names_units_and_attributes_from_the_code() -> None:
    metrics = {m.name: m for m in METRICS}
    offers = metrics["contactcenter.offers"]
    assert (offers.instrument, offers.prometheus) == ("counter", "contactcenter_offers_total")
    assert offers.attributes == {"tenant", "queue", "channel", "outcome"}
    depth = metrics["contactcenter.queue.depth"]
    assert (depth.instrument, depth.unit, depth.attributes) == (
        "observable gauge",
        "{contact}",
        {"tenant", "queue"},
    )
    assert metrics["rpc.server.requests"].attributes == {"rpc.system", "rpc.service"}  # through a `**` spread
    assert metrics["contactcenter.flow.node.executions"].attributes == {"flow", "version", "region", "node"}
    assert metrics["contactcenter.integration.delivery.latency"].series() == {
        "contactcenter_integration_delivery_latency_seconds_bucket",
        "contactcenter_integration_delivery_latency_seconds_sum",
        "contactcenter_integration_delivery_latency_seconds_count",
    }
    contacts = metrics["contactcenter.contacts"]
    assert (contacts.prometheus, contacts.attributes) == (
        "contactcenter_contacts_total",
        {"tenant", "queue", "channel", "outcome"},
    )
    stages = metrics["contactcenter.ai.stage.duration"]
    assert (stages.kind, stages.attributes) == ("histogram", {"tenant", "pipeline", "stage"})
    lag = metrics["contactcenter.consumer.lag"]
    assert (lag.prometheus, lag.attributes) == (
        "contactcenter_consumer_lag",
        {"messaging.destination.name", "messaging.consumer.group.name"},
    )
    assert (
        metrics["contactcenter.consumer.dead_letters"].prometheus
        == "contactcenter_consumer_dead_letters_total"
    )
    for name in (
        "contactcenter.queue.longest_wait",
        "contactcenter.queue.service_level",
        "contactcenter.agents",
    ):
        assert name in metrics


def test_every_attribute_is_bounded_and_every_metric_documented() -> None:
    for metric in METRICS:
        assert metric.attributes <= BOUNDED_ATTRIBUTES, (metric.name, metric.attributes - BOUNDED_ATTRIBUTES)
        assert metric.description, f"{metric.name} has no description"


def test_promql_names_are_read_from_expressions() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, region) (rate(a_seconds_bucket{region=~"$region"}[5m]))) '
        "/ on (region) b_total > bool 0"
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total"}


@pytest.mark.parametrize("query", panel_queries(), ids=lambda q: f"{q.dashboard}:{q.title}")
def test_dashboards_query_only_catalogued_series(query: PanelQuery) -> None:
    names = metric_names(query.expr)
    assert names, f"{query.dashboard} / {query.title}: no metric in {query.expr!r}"
    unknown = names - CATALOGUED_SERIES
    assert not unknown, f"{query.dashboard} / {query.title} queries names no service emits: {sorted(unknown)}"


@pytest.mark.parametrize(("dashboard", "variable", "metric"), variable_metrics())
def test_dashboard_variables_read_catalogued_series(dashboard: str, variable: str, metric: str) -> None:
    assert metric in CATALOGUED_SERIES, (
        f"{dashboard} variable {variable} reads {metric}, which no service emits"
    )


def test_alert_signals_keep_the_series_whatever_the_threshold() -> None:
    assert as_bool_comparisons('max by (q) (a{x!="p>q", y=~"b"}) > 300') == (
        'max by (q) (a{x!="p>q", y=~"b"}) > bool 300'
    )
    assert (
        as_bool_comparisons("a / b > (14.4 * 0.001) and c >= 0")
        == "a / b > bool (14.4 * 0.001) and c >= bool 0"
    )
    assert as_bool_comparisons("a == bool 2") == "a == bool 2"
    signals = {query.alert: query.signal for query in alert_queries()}
    assert signals, "no alert rules found"
    for alert, signal in signals.items():
        assert metric_names(signal) <= CATALOGUED_SERIES, alert
