"""Prometheus exposition of the OpenTelemetry metrics, beside OTLP.

A service serves `GET /metrics` in the Prometheus text format (version 0.0.4) when
`OTEL_EXPORTER_PROMETHEUS_PORT` is set (`OTEL_EXPORTER_PROMETHEUS_HOST` picks the address,
`localhost` unless set: the chart sets `0.0.0.0` so Prometheus can reach the pod). The reader
is an SDK `MetricReader`, so each scrape collects the same instruments OTLP exports.

Names follow the OpenTelemetry-to-Prometheus rules the upstream exporter uses: dots become
underscores, the unit becomes a suffix (`s` -> `_seconds`, `1` -> `_ratio` on gauges, `{x}`
annotations are dropped), monotonic sums end in `_total`. Every series carries `region` and
`service` from the resource, so dashboards can group by region without relabelling.
`prometheus_name` is the one translation: the metric catalogue and the dashboard checks use it.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.sdk.metrics.export import (
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricReader,
    MetricsData,
    NumberDataPoint,
    Sum,
)
from opentelemetry.sdk.resources import Resource

PORT_VARIABLE = "OTEL_EXPORTER_PROMETHEUS_PORT"
HOST_VARIABLE = "OTEL_EXPORTER_PROMETHEUS_HOST"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: OTel unit -> Prometheus suffix (the subset of UCUM units the platform uses, and the common rest).
UNIT_SUFFIXES = {
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "%": "percent",
}
_INVALID = re.compile(r"[^a-zA-Z0-9_:]+")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]+")


class ExpositionConfigError(ValueError):
    """The exposition variables are set but unusable."""


def _sanitize(name: str, pattern: re.Pattern[str]) -> str:
    cleaned = pattern.sub("_", name).strip("_")
    cleaned = re.sub(r"__+", "_", cleaned)
    return f"_{cleaned}" if cleaned[:1].isdigit() else cleaned


def label_name(attribute: str) -> str:
    """`rpc.service` -> `rpc_service`."""
    return _sanitize(attribute, _INVALID_LABEL)


def prometheus_name(name: str, unit: str, kind: str) -> str:
    """The series name for an OTel instrument; `kind` is `counter`, `gauge` or `histogram`
    (an up-down counter is a gauge, an observable counter a counter)."""
    base = _sanitize(name, _INVALID)
    unit = re.sub(r"\{[^}]*\}", "", unit or "").strip()
    suffix = UNIT_SUFFIXES.get(unit, _sanitize(unit, _INVALID) if unit and unit != "1" else "")
    if unit == "1" and kind == "gauge":
        suffix = "ratio"
    if suffix and not base.endswith(f"_{suffix}"):
        base = f"{base}_{suffix}"
    if kind == "counter" and not base.endswith("_total"):
        base = f"{base}_total"
    return base


def kind_of(data: Any) -> str:
    if isinstance(data, Histogram):
        return "histogram"
    if isinstance(data, Sum) and data.is_monotonic:
        return "counter"
    return "gauge"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _labels(pairs: Iterable[tuple[str, Any]]) -> str:
    rendered = ",".join(f'{name}="{_escape(str(value))}"' for name, value in pairs)
    return f"{{{rendered}}}" if rendered else ""


@dataclass
class _Family:
    name: str
    kind: str
    help: str
    lines: list[str]


def render(data: MetricsData | None, constant_labels: Mapping[str, str]) -> str:
    """The text exposition of one collection; attributes win over constant labels of the same name."""
    families: dict[str, _Family] = {}
    for resource_metrics in data.resource_metrics if data else []:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                _add(families, metric, constant_labels)
    out: list[str] = []
    for family in families.values():
        if family.help:
            out.append(f"# HELP {family.name} {_escape(family.help)}")
        out.append(f"# TYPE {family.name} {family.kind}")
        out.extend(family.lines)
    return "\n".join(out) + "\n" if out else ""


def _add(families: dict[str, _Family], metric: Metric, constant_labels: Mapping[str, str]) -> None:
    kind = kind_of(metric.data)
    name = prometheus_name(metric.name, metric.unit or "", kind)
    family = families.setdefault(name, _Family(name, kind, metric.description or "", []))
    for point in metric.data.data_points:
        labels = {label_name(k): str(v) for k, v in constant_labels.items()}
        labels.update({label_name(k): str(v) for k, v in (point.attributes or {}).items()})
        pairs = sorted(labels.items())
        if isinstance(point, HistogramDataPoint):
            cumulative = 0
            for bound, count in zip(point.explicit_bounds, point.bucket_counts, strict=False):
                cumulative += count
                family.lines.append(
                    f"{name}_bucket{_labels([*pairs, ('le', _number(float(bound)))])} {cumulative}"
                )
            family.lines.append(f"{name}_bucket{_labels([*pairs, ('le', '+Inf')])} {point.count}")
            family.lines.append(f"{name}_sum{_labels(pairs)} {_number(point.sum)}")
            family.lines.append(f"{name}_count{_labels(pairs)} {point.count}")
        elif isinstance(point, NumberDataPoint):
            family.lines.append(f"{name}{_labels(pairs)} {_number(point.value)}")


class PrometheusReader(MetricReader):
    """Collects on demand (each scrape) and renders the text exposition."""

    def __init__(self, constant_labels: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._constant_labels = dict(constant_labels or {})
        self._latest: MetricsData | None = None
        self._lock = threading.Lock()

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._latest = metrics_data

    def exposition(self) -> str:
        with self._lock:  # one collection at a time: concurrent scrapes would interleave
            self.collect()
            return render(self._latest, self._constant_labels)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def constant_labels_of(resource: Resource) -> dict[str, str]:
    attributes = resource.attributes
    return {
        "region": str(attributes.get("cloud.region", "")),
        "service": str(attributes.get("service.name", "")),
    }


class MetricsEndpoint:
    """`GET /metrics` on a background thread (scrapes must not wait for the service's event loop)."""

    def __init__(self, reader: PrometheusReader, host: str, port: int) -> None:
        exposition = reader.exposition

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404, "only /metrics is served here")
                    return
                body = exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a scrape every few seconds would flood the service's log

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as error:
            raise ExpositionConfigError(
                f"cannot serve /metrics on {host}:{port} ({HOST_VARIABLE}/{PORT_VARIABLE}): {error}"
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-endpoint", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def endpoint_address(environ: Mapping[str, str]) -> tuple[str, int] | None:
    """(host, port) from the environment, None when the port is unset; a clear error when unusable."""
    raw = environ.get(PORT_VARIABLE, "").strip()
    if not raw:
        return None
    try:
        port = int(raw)
    except ValueError:
        raise ExpositionConfigError(f"{PORT_VARIABLE} must be a port number, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ExpositionConfigError(f"{PORT_VARIABLE} must be between 0 and 65535, got {port}")
    return environ.get(HOST_VARIABLE, "").strip() or "localhost", port


__all__ = [
    "ExpositionConfigError",
    "MetricsEndpoint",
    "PrometheusReader",
    "constant_labels_of",
    "endpoint_address",
    "kind_of",
    "label_name",
    "prometheus_name",
    "render",
]
