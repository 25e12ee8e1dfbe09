"""Capacities travel as configured from the workspace file to routing: per channel (sms and
whatsapp apart) and, where the file declares one, a capacity group over several channels; each
hop keeps them (ccctl seed -> identity's agent -> the agent socket's copy -> routing's profile)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccctl.workspace_seed import SeedError, _agent, load_workspace
from ccmesh.channels import Channel
from gateway.domain.workspace_state import routing_agent
from identity.domain.agents import InvalidAgent
from identity.entrypoints.convert import agent_from, agent_to
from routing.domain.agents import CapacityGroup
from routing.entrypoints.acd_rpc import agent_profile

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "workspace" / "eu.yaml"
GROUPED = """
tenant: acme
agents:
  - id: carol
    channels: {sms: 2, whatsapp: 2, voice: 1}
    capacityGroups: [{name: messaging, channels: [sms, whatsapp], capacity: 3}]
"""


def routing_profile_of(path: Path, agent_id: str) -> object:
    workspace = load_workspace(path)
    (example,) = [a for a in workspace.agents if a.id == agent_id]
    sent = _agent(workspace.tenant, "eu", example)
    stored = agent_from(sent, "eu").validate(set(example.brands))
    again = agent_from(agent_to(stored, 1), "eu")
    assert again == stored  # identity keeps what it was given
    assert type(stored).from_json(stored.to_json()) == stored
    return agent_profile(routing_agent(agent_to(stored, 1)))


def test_the_example_agent_holds_two_sms_and_two_whatsapp_apart() -> None:
    profile = routing_profile_of(EXAMPLE, "alice")
    capacity = profile.capacity  # type: ignore[attr-defined]
    assert (capacity[Channel.SMS], capacity[Channel.WHATSAPP], capacity[Channel.VOICE]) == (2, 2, 1)
    assert profile.groups == ()  # type: ignore[attr-defined]


def test_a_declared_capacity_group_reaches_routing(tmp_path: Path) -> None:
    path = tmp_path / "workspace.yaml"
    path.write_text(GROUPED)
    profile = routing_profile_of(path, "carol")
    assert profile.groups == (  # type: ignore[attr-defined]
        CapacityGroup("messaging", frozenset({Channel.SMS, Channel.WHATSAPP}), 3),
    )


@pytest.mark.parametrize(
    ("group", "named"),
    [
        ("{name: messaging, channels: [sms, fax], capacity: 3}", "fax"),
        ("{name: messaging, channels: [], capacity: 3}", "capacityGroups.0.channels"),
        ("{name: messaging, channels: [sms], capacity: 0}", "capacityGroups.0.capacity"),
    ],
)
def test_a_bad_capacity_group_names_the_field(tmp_path: Path, group: str, named: str) -> None:
    path = tmp_path / "workspace.yaml"
    path.write_text(f"tenant: acme\nagents: [{{id: carol, capacityGroups: [{group}]}}]\n")
    with pytest.raises(SeedError) as error:
        load_workspace(path)
    assert named in str(error.value)


def test_identity_refuses_a_group_without_channels() -> None:
    workspace = load_workspace(EXAMPLE)
    sent = _agent(workspace.tenant, "eu", workspace.agents[0])
    del sent.capacity_groups[:]
    sent.capacity_groups.add(name="messaging", capacity=3)
    with pytest.raises(InvalidAgent, match=r"agent.capacity_groups\[0\].channels"):
        agent_from(sent, "eu").validate(set(workspace.agents[0].brands))
