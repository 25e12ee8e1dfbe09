"""`brandSharing: shared` shares agents across the tenant's brands unless a queue narrows it."""

import pytest

from ccmesh.channels import Channel
from routing.domain.agent_index import AgentIndex
from routing.domain.agents import AcdInputError, AgentLoad, AgentProfile, AgentState
from routing.domain.brand_sharing import open_to_all_brands, parse_queue_setting
from routing.domain.matching import AgentView, choose_agent
from routing.domain.queueing import QueueSpec, WaitingContact

BANK_AGENT = AgentView(
    AgentProfile("bank1", brands=frozenset({"bank"}), capacity={Channel.WEBCHAT: 1}),
    AgentState.AVAILABLE,
    AgentLoad(),
    0.0,
)
CONTACT = WaitingContact("c1", "retail-chat", Channel.WEBCHAT, 50, 10.0)


def decide(queue: QueueSpec) -> tuple[str, str]:
    index = AgentIndex()
    index.put(BANK_AGENT)
    return choose_agent(CONTACT, queue, [BANK_AGENT], 10.0).agent_id, index.longest_idle(
        CONTACT, queue, 10.0
    ).agent_id


@pytest.mark.parametrize(
    ("queue_setting", "tenant", "shared"),
    [
        ("", "shared", True),
        ("isolated", "shared", False),
        ("", "isolated", False),
        ("isolated", "isolated", False),
    ],
)
def test_the_queue_narrows_what_the_tenant_shares_and_never_opens_more(
    queue_setting: str, tenant: str, shared: bool
) -> None:
    assert open_to_all_brands(queue_setting, tenant) is shared
    queue = QueueSpec(
        "acme", "retail-chat", brand="retail", all_brands=open_to_all_brands(queue_setting, tenant)
    )
    assert decide(queue) == (("bank1", "bank1") if shared else ("", ""))


def test_a_listed_shared_brand_serves_even_an_isolated_tenants_queue() -> None:
    assert decide(QueueSpec("acme", "retail-chat", brand="retail", shared_brands=frozenset({"bank"}))) == (
        "bank1",
        "bank1",
    )


def test_an_unknown_queue_setting_is_refused_naming_the_field() -> None:
    with pytest.raises(AcdInputError) as error:
        parse_queue_setting("everyone")
    assert error.value.field == "queue.brand_sharing"
