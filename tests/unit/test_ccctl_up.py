"""`ccctl up` (`make run`): the example workspace it loads, and where it tells a person to look."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccctl.launcher import LaunchError, LaunchPlan, Platform, parse_replicas, summary
from ccctl.main import main
from ccctl.workspace_seed import SeedError, load_workspace


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
