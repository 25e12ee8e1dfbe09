"""The gateway's inbound message: validation names each bad field; ids are stable across retries."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contactcenter.common.v1 import common_pb2
from gateway.domain.inbound import MAX_TEXT_BYTES, Accepted, InboundMessage, provisional_customer_id, validate

GOOD = InboundMessage(
    tenant_id="acme",
    brand_id="acme-retail",
    channel=common_pb2.CHANNEL_KIND_SMS,
    from_kind=common_pb2.IDENTIFIER_KIND_PHONE,
    from_value="+4915123456789",
    entry_point="+4930111111",
    text="Hello, where is my order?",
    provider_message_id="SM-0001",
)


def test_a_complete_message_has_no_problems() -> None:
    assert validate(GOOD) == []
    assert validate(replace(GOOD, text="", entry_point="", brand_id="")) == []
    assert validate(replace(GOOD, text="x" * MAX_TEXT_BYTES, provider_message_id="p" * 256)) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"channel": common_pb2.CHANNEL_KIND_UNSPECIFIED}, "channel"),
        ({"from_kind": common_pb2.IDENTIFIER_KIND_UNSPECIFIED}, "from"),
        ({"from_value": ""}, "from"),
        ({"from_value": "   "}, "from"),
        ({"provider_message_id": ""}, "provider_message_id"),
        ({"provider_message_id": "   "}, "provider_message_id"),
        ({"provider_message_id": "p" * 257}, "provider_message_id"),
        ({"text": "x" * (MAX_TEXT_BYTES + 1)}, "text"),
        # The limit is in bytes: 3-byte characters reach it with a third of the characters.
        ({"text": "€" * (MAX_TEXT_BYTES // 3 + 1)}, "text"),
    ],
)
def test_each_bad_field_is_named(changes: dict[str, object], field: str) -> None:
    problems = validate(replace(GOOD, **changes))  # type: ignore[arg-type]
    assert len(problems) == 1
    assert problems[0].startswith(f"{field}: ")


def test_every_problem_is_reported_at_once() -> None:
    bad = replace(
        GOOD,
        channel=0,
        from_kind=0,
        provider_message_id="",
        text="x" * (MAX_TEXT_BYTES + 1),
    )
    assert [problem.split(":", 1)[0] for problem in validate(bad)] == [
        "channel",
        "from",
        "provider_message_id",
        "text",
    ]


def test_message_id_is_stable_for_a_retry_and_differs_per_tenant_channel_and_provider_id() -> None:
    retry = replace(GOOD, text="resent body", entry_point="elsewhere")
    assert retry.message_id() == GOOD.message_id()
    assert retry.idempotency_token() == GOOD.idempotency_token()
    others = [
        replace(GOOD, tenant_id="globex"),
        replace(GOOD, channel=common_pb2.CHANNEL_KIND_WHATSAPP),
        replace(GOOD, provider_message_id="SM-0002"),
    ]
    assert len({GOOD.message_id(), *(other.message_id() for other in others)}) == 4
    assert GOOD.idempotency_token() != others[1].idempotency_token()
    assert GOOD.idempotency_token() != others[2].idempotency_token()


def test_idempotency_token_is_a_kv_key_token() -> None:
    token = replace(GOOD, provider_message_id="weird id.with*wildcards>and spaces").idempotency_token()
    assert len(token) == 40
    assert all(c in "0123456789abcdef" for c in token)


def test_accepted_round_trips_through_json() -> None:
    accepted = Accepted(contact_id="c1", message_id="m1", customer_id="u1", contact_created=True)
    assert Accepted.from_json(accepted.to_json()) == accepted


def test_provisional_customer_ids_are_subject_tokens_without_personal_data() -> None:
    remote = provisional_customer_id(
        home_region="eu", reference="ab.cd*ef>12", from_kind=1, from_value="+4930"
    )
    assert remote == "remote-eu-abcdef12"
    unresolved = provisional_customer_id(home_region="", reference="", from_kind=2, from_value=" Jane@X.org ")
    assert unresolved.startswith("unresolved-") and "jane" not in unresolved
    # The same sender, however it is spelled, keeps one provisional id.
    assert unresolved == provisional_customer_id(
        home_region="", reference="", from_kind=2, from_value="jane@x.org"
    )
