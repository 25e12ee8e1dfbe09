"""The channel vocabulary is one table: every `ChannelKind` has one name and back, earlier
spellings still read, unknown names are refused naming the field, and configuration, flows,
routing and the gateway's tenant API accept exactly the same names."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ccflow.journey import Journey
from ccflow.model import CallbackNode, Selector
from ccflow.overlays import matches
from ccflow.simulator import Scenario
from ccflow.validate import channel_name_problems
from ccmesh import channels
from ccmesh.channels import Channel, UnknownChannelError
from ccmesh.configplane.channels import PROVIDER_OF_CHANNEL
from ccmesh.configplane.models import ChannelEndpoint
from contactcenter.common.v1 import common_pb2
from gateway.entrypoints.http import parse_message
from routing.domain.agents import AcdInputError, parse_channel

ALIASES = {"chat": Channel.WEBCHAT, "generic": Channel.API}
#: Every spelling anyone may write, with the channel it means.
SPELLINGS = {**{name: Channel(name) for name in channels.NAMES}, **ALIASES}


def test_every_channel_kind_but_unspecified_maps_both_ways() -> None:
    kinds = [k for k in common_pb2.ChannelKind.values() if k != common_pb2.CHANNEL_KIND_UNSPECIFIED]
    assert sorted(channels.to_kind(channels.from_kind(kind)) for kind in kinds) == sorted(kinds)
    assert {channels.from_kind(kind) for kind in kinds} == set(Channel)
    for channel in Channel:
        assert channels.from_kind(channels.to_kind(channel)) is channel
        assert channels.name_of_kind(channels.to_kind(channel)) == channel.value
    assert tuple(c.value for c in Channel) == channels.NAMES


def test_unspecified_and_unknown_kinds_are_refused_or_absent() -> None:
    with pytest.raises(UnknownChannelError, match=r"^contact\.channel: unknown channel 0"):
        channels.from_kind(common_pb2.CHANNEL_KIND_UNSPECIFIED, "contact.channel")
    assert channels.from_kind_or_none(common_pb2.CHANNEL_KIND_UNSPECIFIED) is None
    assert channels.from_kind_or_none(999) is None
    assert channels.name_of_kind(999) == "unknown"


def test_earlier_spellings_read_as_todays_names() -> None:
    for alias, channel in ALIASES.items():
        assert channels.parse(alias) is channel
        assert channels.parse(f" {alias.upper()} ") is channel
    assert channels.stored_name("generic") == "api"
    assert channels.stored_name("") == ""  # a record without a channel stays without one
    assert channels.stored_name("pager") == "pager"  # read back as stored, never lost


def test_an_unknown_name_is_refused_naming_the_field_and_the_valid_names() -> None:
    with pytest.raises(UnknownChannelError) as caught:
        channels.parse("fax", "spec.channel")
    assert caught.value.field == "spec.channel"
    assert str(caught.value) == (
        "spec.channel: unknown channel 'fax'; one of voice, sms, whatsapp, email, webchat, task, api"
    )
    with pytest.raises(UnknownChannelError, match=r"channels\[1\]"):
        channels.parse_many(["sms", "fax"])


def _endpoint(channel: str) -> dict[str, Any]:
    known = SPELLINGS.get(channel)
    provider = PROVIDER_OF_CHANNEL.get(known, "twilio") if known is not None else "twilio"
    credentials: dict[str, Any] = {
        "twilio": {"twilio": {"accountSid": "AC" + "0" * 32, "authToken": "t" * 16}},
        "whatsapp_cloud": {
            "whatsapp": {"phoneNumberId": "123", "appSecret": "s" * 8, "verifyToken": "v" * 8}
        },
        "generic": {"generic": {"signingSecret": "s" * 16}},
    }.get(provider, {})
    address = {"sms": "+442071838750", "voice": "+442071838750", "email": "help@acme.example"}
    return {
        "apiVersion": "contactcenter.dev/v1alpha1",
        "kind": "ChannelEndpoint",
        "metadata": {"name": "acme-entry"},
        "spec": {
            "region": "eu",
            "tenant": "acme",
            "channel": channel,
            "provider": provider,
            "address": address.get(known.value, "entry") if known is not None else "x",
            "queue": "support",
            **credentials,
        },
    }


def test_configuration_accepts_every_name_and_stores_todays() -> None:
    for name, channel in SPELLINGS.items():
        if channel is Channel.TASK:
            continue  # tasks come from integrations; no endpoint serves them (next test)
        endpoint = ChannelEndpoint.model_validate(_endpoint(name))
        assert endpoint.spec.channel is channel
        assert endpoint.model_dump(mode="json")["spec"]["channel"] == channel.value


def test_configuration_refuses_an_unknown_name_and_a_channel_no_endpoint_serves() -> None:
    with pytest.raises(ValidationError) as unknown:
        ChannelEndpoint.model_validate(_endpoint("fax"))
    assert "spec.channel" in str(unknown.value) and "unknown channel 'fax'" in str(unknown.value)
    with pytest.raises(ValidationError, match="no endpoint serves channel task"):
        ChannelEndpoint.model_validate(_endpoint("task"))


def test_flows_accept_every_name_and_store_todays() -> None:
    for name, channel in SPELLINGS.items():
        node = CallbackNode.model_validate(
            {"id": "cb", "kind": "callback", "queue": "q", "channel": name, "next": "n"}
        )
        assert node.channel is channel
        assert Selector.model_validate({"channel": name}).channel is channel
        assert Scenario.model_validate({"name": "s", "channel": name}).channel is channel
        # An overlay written with any spelling applies to a journey on that channel.
        assert matches(Selector.model_validate({"channel": name}), {"channel": channel.value})
        # A journey started (or stored) with any spelling runs under today's name.
        assert Journey(journey_id="j", flow="f", channel=name).channel == channel.value
        assert Journey.from_dict(Journey(journey_id="j", flow="f", channel=name).to_dict()).channel == channel
    with pytest.raises(ValidationError, match="unknown channel 'fax'"):
        CallbackNode.model_validate(
            {"id": "cb", "kind": "callback", "queue": "q", "channel": "fax", "next": "n"}
        )
    with pytest.raises(ValidationError, match="unknown channel 'fax'"):
        Selector.model_validate({"channel": "fax"})


def test_a_flow_condition_comparing_the_channel_with_a_name_it_never_has_is_refused() -> None:
    assert channel_name_problems('channel == "webchat" || channel in ["sms", "api"]') == []
    assert channel_name_problems('channel == "chat"') == [
        "compares channel with 'chat', which it never is: the journey's channel is 'webchat'"
    ]
    (problem,) = channel_name_problems("'fax' != channel")
    assert "one of voice, sms" in problem
    assert channel_name_problems('attributes.channel == "chat"') == []


def test_routing_accepts_every_name_and_refuses_an_unknown_one() -> None:
    # Imported here: the hand-off lives in routing's entrypoints, which import the whole service.
    from routing.entrypoints.acd_events import journey_hand_off

    for name, channel in SPELLINGS.items():
        assert parse_channel(name) is channel
        hand_off = journey_hand_off("support", 50, name, "en", "", {})
        assert hand_off.channel == channels.to_kind(channel)
    with pytest.raises(AcdInputError, match="fax"):
        parse_channel("fax")
    assert journey_hand_off("support", 50, "fax", "en", "", {}).channel == common_pb2.CHANNEL_KIND_UNSPECIFIED


def test_the_tenant_api_accepts_every_name_and_refuses_an_unknown_one() -> None:
    body = {"from": {"kind": "phone", "value": "+447700900001"}, "providerMessageId": "p-1"}
    for name, channel in SPELLINGS.items():
        assert parse_message("acme", {**body, "channel": name}).channel == channels.to_kind(channel)
    with pytest.raises(Exception, match=r"channel: unknown channel 'fax'"):
        parse_message("acme", {**body, "channel": "fax"})
