"""`ccctl up` (`make run`): the example workspace it loads, and where it tells a person to look."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from ccctl.discovery_client import PLATFORM_SERVICES
from ccctl.launcher import (
    LaunchError,
    LaunchPlan,
    Platform,
    RunningService,
    apply_examples,
    parse_replicas,
    summary,
)
from ccctl.main import main
from ccctl.replicas import replicas_asked
from ccctl.workspace_seed import SeedError, load_workspace
from ccmesh.configplane.contactcenter import ContactCenter, ContactCenterSpec


def test_summary_names_the_chat_agent_and_supervisor_pages_and_how_to_get_a_token(tmp_path: Path) -> None:
    platform = Platform(
        LaunchPlan(data_dir=tmp_path, regions=["eu"], examples_dir=tmp_path, gateway_http_port=8080),
        webchat_endpoints=["acme-webchat"],
    )
    printed = summary(platform, ["contactcenter/eu configured (generation 1)"])
    assert "http://127.0.0.1:8080/chat/acme-webchat" in printed
    assert "http://127.0.0.1:8080/agent" in printed
    assert "http://127.0.0.1:8080/supervisor" in printed
    assert "ccctl token --tenant acme --role agent --subject <agent-id>" in printed


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "workspace" / "eu.yaml"


def test_example_workspace_loads() -> None:
    workspace = load_workspace(EXAMPLE)
    assert workspace.tenant == "acme"
    assert "support" in [q.name for q in workspace.queues]  # where the example endpoints send contacts
    assert "alice" in [a.id for a in workspace.agents]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("tenant: ACME!\n", "tenant"),
        ("tenant: acme\nagents: [{id: alice, channels: {pigeon: 1}}]\n", "pigeon"),
        ("tenant: acme\nqueues: [{name: support, colour: red}]\n", "queues.0.colour"),
        ("tenant: [unclosed\n", "workspace.yaml"),
    ],
)
def test_bad_example_workspace_names_the_file_and_field(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "workspace.yaml"
    path.write_text(text)
    with pytest.raises(SeedError) as error:
        load_workspace(path)
    assert named in str(error.value) and str(path) in str(error.value)


def test_every_region_gateway_gets_an_http_and_smtp_port_in_order(tmp_path: Path) -> None:
    plan = LaunchPlan(
        data_dir=tmp_path,
        regions=["eu", "us"],
        examples_dir=tmp_path,
        gateway_http_port=9080,
        gateway_smtp_port=3525,
    )
    assert plan.gateway_http_ports == {"eu": 9080, "us": 9081}
    assert plan.gateway_smtp_ports == {"eu": 3525, "us": 3526}
    printed = summary(Platform(plan), [])
    assert "gateway eu      http://127.0.0.1:9080" in printed
    assert "gateway us      http://127.0.0.1:9081" in printed
    assert "smtp://127.0.0.1:3526" in printed


def test_ports_of_zero_are_chosen_free_and_distinct(tmp_path: Path) -> None:
    plan = LaunchPlan(
        data_dir=tmp_path,
        regions=["eu", "us"],
        examples_dir=tmp_path,
        nats_port=0,
        nats_monitor_port=0,
        grpc_base_port=0,
        gateway_http_port=0,
        gateway_smtp_port=0,
    )
    chosen = [plan.nats_port, plan.nats_monitor_port, *plan.gateway_http_ports.values()]
    chosen += list(plan.gateway_smtp_ports.values())
    assert all(port > 0 for port in chosen)
    assert plan.gateway_http_port == plan.gateway_http_ports["eu"]
    assert len(set(plan.gateway_http_ports.values())) == 2


def test_replicas_parse_and_default_to_one(tmp_path: Path) -> None:
    plan = LaunchPlan(
        data_dir=tmp_path,
        regions=["eu"],
        examples_dir=tmp_path,
        replicas=parse_replicas("routing=2, gateway=3"),
    )
    assert (plan.replicas_of("routing"), plan.replicas_of("gateway"), plan.replicas_of("ai")) == (2, 3, 1)


@pytest.mark.parametrize(
    ("text", "named"),
    [("routing", "routing"), ("routing=two", "routing=two"), ("router=2", "router"), ("routing=0", "1..8")],
)
def test_bad_replicas_name_the_problem(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(LaunchError) as error:
        LaunchPlan(data_dir=tmp_path, regions=["eu"], examples_dir=tmp_path, replicas=parse_replicas(text))
    assert named in str(error.value)


def test_up_refuses_a_bad_port_naming_the_option(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as error:
        main(["up", "--data-dir", str(tmp_path), "--http-port", "70000"])
    assert "--http-port" in str(error.value.code)


SHIPPED_EU = Path(__file__).resolve().parents[2] / "examples" / "eu.yaml"


def _eu_spec(services: dict[str, object] | None = None) -> ContactCenterSpec:
    document = yaml.safe_load(SHIPPED_EU.read_text())
    if services is not None:
        document["spec"]["services"] = services
    return ContactCenter.model_validate(document).spec


def test_the_contact_center_asks_its_fixed_count_or_the_autoscalers_minimum() -> None:
    asked = replicas_asked(_eu_spec(), PLATFORM_SERVICES)
    # identity and integration: `replicas: 2`; routing and gateway: `minReplicas: 2`; ai: 1.
    assert asked == {"identity": 2, "routing": 2, "gateway": 2, "ai": 1, "integration": 2}
    switched_off = replicas_asked(_eu_spec({"routing": {"replicas": 0}}), ["routing", "ai"])
    assert switched_off == {"routing": 0, "ai": 1}


def _plan(tmp_path: Path, **overrides: object) -> LaunchPlan:
    plan = LaunchPlan(data_dir=tmp_path, regions=["eu", "us"], examples_dir=tmp_path, **overrides)  # type: ignore[arg-type]
    plan.asked_replicas["eu"] = replicas_asked(_eu_spec(), PLATFORM_SERVICES)
    plan.asked_replicas["us"] = replicas_asked(
        _eu_spec({"routing": {"replicas": 3}, "ai": {"replicas": 0}}), PLATFORM_SERVICES
    )
    return plan


def test_a_local_run_starts_what_the_contact_center_asks_up_to_the_cap(tmp_path: Path) -> None:
    light = _plan(tmp_path)
    assert {name: light.replicas_of(name, "eu") for name in PLATFORM_SERVICES} == dict.fromkeys(
        PLATFORM_SERVICES, 1
    )
    printed = summary(Platform(light), [])
    assert "routing 1 of 2" in printed and "--replica-cap" in printed
    assert "ai 1 of" not in printed  # asked for one: nothing capped
    two = _plan(tmp_path, replica_cap=2)
    assert (two.replicas_of("routing", "eu"), two.replicas_of("ai", "eu")) == (2, 1)
    assert two.replicas_of("routing", "us") == 2  # us asks 3: capped
    assert two.replicas_of("ai", "us") == 1  # switched off there, yet the local platform needs one
    assert "replicas eu" not in summary(Platform(two), [])


def test_the_command_line_count_overrides_the_contact_center_and_the_cap(tmp_path: Path) -> None:
    plan = _plan(tmp_path, replicas=parse_replicas("routing=1,gateway=3"), replica_cap=2)
    assert [plan.replicas_of(name, "eu") for name in ("routing", "gateway", "identity")] == [1, 3, 2]
    assert not plan.replica_count("gateway", "eu").capped


def test_a_bad_cap_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match=r"replica-cap: must be 1\.\.8, got 0"):
        LaunchPlan(data_dir=tmp_path, regions=["eu"], examples_dir=tmp_path, replica_cap=0)
    with pytest.raises(SystemExit) as error:
        main(["up", "--data-dir", str(tmp_path), "--replica-cap", "9"])
    assert "--replica-cap" in str(error.value.code)


def test_a_bad_count_in_the_contact_center_names_file_and_field_and_starts_nothing(tmp_path: Path) -> None:
    document = yaml.safe_load(SHIPPED_EU.read_text())
    document["spec"]["services"]["routing"] = {"replicas": "two"}
    (tmp_path / "eu.yaml").write_text(yaml.safe_dump(document))
    platform = Platform(LaunchPlan(data_dir=tmp_path, regions=["eu"], examples_dir=tmp_path))
    with pytest.raises(LaunchError) as error:
        asyncio.run(apply_examples(platform))
    message = str(error.value)
    assert "eu.yaml" in message and "services.routing.replicas" in message
    assert platform.plan.asked_replicas == {} and platform.services == []


def test_with_metrics_the_summary_lists_each_process_metrics_url(tmp_path: Path) -> None:
    plan = LaunchPlan(data_dir=tmp_path, regions=["eu"], examples_dir=tmp_path, metrics=True)
    platform = Platform(plan)
    log = tmp_path / "routing.log"
    platform.services.append(
        RunningService("eu", "routing", None, 50052, log, metrics_port=9464)  # type: ignore[arg-type]
    )
    platform.services.append(RunningService("eu", "identity", None, 50051, log))  # type: ignore[arg-type]
    printed = summary(platform, [])
    assert "routing     127.0.0.1:50052  (metrics http://127.0.0.1:9464/metrics)" in printed
    assert "identity    127.0.0.1:50051\n" in printed
