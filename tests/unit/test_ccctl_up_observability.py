"""`ccctl up --observability`: the local Prometheus's scrape configuration, and clear errors
when it cannot start. (tests/e2e/test_prometheus_dashboards.py runs it for real.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ccctl import up_observability
from ccctl.launcher import LaunchPlan
from ccctl.main import main
from ccctl.up_observability import ObservabilityError, scrape_config, start_prometheus


@dataclass
class Process:
    name: str
    metrics_port: int | None


def test_one_job_per_service_with_every_process_as_a_target() -> None:
    config = scrape_config(
        [Process("routing", 9101), Process("routing", 9102), Process("ai", 9103)],
        scrape_seconds=5,
        rule_files=[Path("/rules.yaml")],
    )
    assert config["global"] == {"scrape_interval": "5s", "evaluation_interval": "5s"}
    assert config["rule_files"] == ["/rules.yaml"]
    assert config["scrape_configs"] == [
        {"job_name": "routing", "static_configs": [{"targets": ["127.0.0.1:9101", "127.0.0.1:9102"]}]},
        {"job_name": "ai", "static_configs": [{"targets": ["127.0.0.1:9103"]}]},
    ]


def test_a_process_without_a_metrics_port_is_named() -> None:
    with pytest.raises(ObservabilityError, match="gateway was started without a /metrics port"):
        scrape_config([Process("gateway", None)])


def test_no_prometheus_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(up_observability.shutil, "which", lambda _: None)
    with pytest.raises(ObservabilityError, match="make prometheus"):
        start_prometheus(tmp_path, [Process("ai", 9103)], port=9090)
    assert not (tmp_path / "prometheus.yml").exists()


def test_the_shipped_alert_rules_are_loaded() -> None:
    assert up_observability.ALERT_RULES.is_file()


def test_observability_implies_metrics_and_takes_a_free_port_for_tests(tmp_path: Path) -> None:
    person = LaunchPlan(data_dir=tmp_path, regions=["eu"], examples_dir=tmp_path, observability=True)
    assert person.metrics and person.prometheus_port == up_observability.PROMETHEUS_PORT
    tests = LaunchPlan(
        data_dir=tmp_path, regions=["eu"], examples_dir=tmp_path, observability=True, grpc_base_port=0
    )
    assert tests.metrics and tests.prometheus_port not in (0, up_observability.PROMETHEUS_PORT)
    plain = LaunchPlan(data_dir=tmp_path, regions=["eu"], examples_dir=tmp_path)
    assert not plain.metrics


def test_a_bad_prometheus_port_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="--prometheus-port must be a port number"):
        main(["up", "--observability", "--prometheus-port", "70000"])
