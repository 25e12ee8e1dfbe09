"""`ccctl up` (`make run`): the example workspace it loads, and where it tells a person to look."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccctl.launcher import LaunchPlan, Platform, summary
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
    assert [q.name for q in workspace.queues] == ["support"]
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
