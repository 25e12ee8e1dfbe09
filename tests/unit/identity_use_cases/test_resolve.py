"""`resolve_customer` over fakes: create once, match on exact rules, remote homes, repairs."""

from __future__ import annotations

from fakes.identity_fakes import REGION, TENANT, FakeGlobalIndex, FakeProfiles, email, phone

from identity.domain.identifiers import Identifier
from identity.service_layer.resolve import RemoteAnswer, ResolveContext, resolve_customer


def context(store: FakeProfiles, **extra: object) -> ResolveContext:
    return ResolveContext(store=store, tenant_id=TENANT, scope=TENANT, region=REGION, **extra)  # type: ignore[arg-type]


async def test_an_unknown_identifier_creates_one_customer_and_the_next_resolution_finds_it() -> None:
    store = FakeProfiles()
    first = await resolve_customer(context(store), [phone("+447700900001")], {"tier": "gold"})
    assert first.created and first.customer is not None
    assert first.customer.attributes == {"tier": "gold"} and first.customer.home_region == REGION
    again = await resolve_customer(context(store), [phone("+447700900001")])
    assert not again.created and again.customer is not None
    assert again.customer.customer_id == first.customer.customer_id


async def test_a_new_identifier_given_with_a_known_one_is_attached_to_that_customer() -> None:
    store = FakeProfiles()
    first = await resolve_customer(context(store), [phone("+447700900001")])
    assert first.customer is not None
    both = await resolve_customer(context(store), [phone("+447700900001"), email("Jane@Example.com")])
    assert both.customer is not None and both.customer.customer_id == first.customer.customer_id
    assert email("jane@example.com") in both.customer.identifiers
    assert await store.owner(TENANT, email("jane@example.com")) == first.customer.customer_id


async def test_a_customer_created_here_is_entered_in_the_global_index_with_this_region() -> None:
    store, index = FakeProfiles(), FakeGlobalIndex()
    await resolve_customer(context(store, global_index=index), [phone("+447700900001")])
    assert await index.home_of(TENANT, TENANT, phone("+447700900001")) == REGION


async def test_an_identifier_homed_in_another_region_is_answered_there_and_nothing_is_created_here() -> None:
    store, index = FakeProfiles(), FakeGlobalIndex()
    await index.claim(TENANT, TENANT, phone("+15550100"), "us")
    asked: list[tuple[str, list[Identifier]]] = []

    async def ask_home(home: str, identifiers: list[Identifier]) -> RemoteAnswer:
        asked.append((home, identifiers))
        return RemoteAnswer(home, "psr_ref", None)

    outcome = await resolve_customer(
        context(store, global_index=index, ask_home=ask_home), [phone("+15550100")]
    )
    assert asked == [("us", [phone("+15550100")])]
    assert outcome.remote == RemoteAnswer("us", "psr_ref", None)
    assert not outcome.created and outcome.customer is None
    assert store.profiles == {} and store.index == {}


async def test_an_index_entry_whose_profile_was_never_written_is_repaired_not_failed() -> None:
    store = FakeProfiles()
    await store.claim(TENANT, phone("+447700900001"), "orphan-1")
    outcome = await resolve_customer(context(store), [phone("+447700900001")])
    assert outcome.customer is not None and outcome.customer.customer_id == "orphan-1"
    assert await store.get(TENANT, "orphan-1") is not None


async def test_a_new_customer_is_homed_by_its_global_claim_alone_without_reading_the_index_first() -> None:
    store, index = FakeProfiles(), FakeGlobalIndex()

    async def ask_home(home: str, identifiers: list[Identifier]) -> RemoteAnswer:
        raise AssertionError(f"asked {home} although nothing is homed elsewhere")

    outcome = await resolve_customer(
        context(store, global_index=index, ask_home=ask_home), [phone("+447700900001")]
    )
    assert outcome.created and outcome.customer is not None
    assert index.homes == {(TENANT, TENANT, phone("+447700900001")): REGION}
    # The claim decided the home: no lookup before it, no second write after the creation.
    assert index.calls == {"claim_home": 1}


async def test_claims_made_beside_an_identifier_homed_elsewhere_are_withdrawn_before_asking_there() -> None:
    store, index = FakeProfiles(), FakeGlobalIndex()
    await index.claim(TENANT, TENANT, email("jane@example.com"), "us")
    asked: list[str] = []

    async def ask_home(home: str, identifiers: list[Identifier]) -> RemoteAnswer:
        # By the time the home region is asked, nothing of this person points here any more.
        assert (TENANT, TENANT, phone("+447700900001")) not in index.homes
        asked.append(home)
        return RemoteAnswer(home, "psr_ref", None)

    outcome = await resolve_customer(
        context(store, global_index=index, ask_home=ask_home),
        [phone("+447700900001"), email("jane@example.com")],
    )
    assert asked == ["us"] and outcome.remote == RemoteAnswer("us", "psr_ref", None)
    assert store.profiles == {} and store.index == {}
    assert index.homes == {(TENANT, TENANT, email("jane@example.com")): "us"}


async def test_an_identifier_homed_here_without_a_customer_after_a_crash_gets_one_and_keeps_it() -> None:
    store, index = FakeProfiles(), FakeGlobalIndex()
    # A resolver claimed the home, then stopped before it wrote the customer.
    await index.claim(TENANT, TENANT, phone("+447700900001"), REGION)

    async def ask_home(home: str, identifiers: list[Identifier]) -> RemoteAnswer:
        raise AssertionError("the identifier is homed here")

    outcome = await resolve_customer(
        context(store, global_index=index, ask_home=ask_home), [phone("+447700900001")]
    )
    assert outcome.created and outcome.customer is not None
    assert await store.owner(TENANT, phone("+447700900001")) == outcome.customer.customer_id
    assert index.homes == {(TENANT, TENANT, phone("+447700900001")): REGION}
