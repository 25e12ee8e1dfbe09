"""Resolve a set of channel identifiers to one customer, creating the customer if none matches.

The tenant's matching rules decide: the first identifier (in the caller's order) owned under
an `exact` rule decides the customer; owners found under `suggest` rules are only reported.
Identifiers nobody owns are attached to the resolved customer. Identifiers owned by different
customers are NOT merged here: merging is an explicit, audited operation.

Residency: when nothing matches locally, the identifiers are claimed for this region in the
global index (keyed hashes only) before anything is created here, so the home is decided first
and no other region creates the same person meanwhile; a claim that fails names the region that
has the identifier. When one is homed in another region, the claims just made are withdrawn, that
region answers (`ask_home`) and nothing is created here. Identifiers attached here later are
entered into the global index with this region after they are claimed locally.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from identity.domain.customer import Customer
from identity.domain.identifiers import Identifier
from identity.domain.matching import MatchingRules, Suggestion, decide
from identity.service_layer.metrics import DEFAULT, IdentityMetrics
from identity.service_layer.ports import GlobalDirectory, Profiles

_ATTEMPTS = 5


class ResolveConflict(RuntimeError):
    """Concurrent writers kept changing the same identifiers; the caller may retry."""


@dataclass(frozen=True)
class RemoteAnswer:
    home_region: str
    reference: str
    #: The home region's profile, only when its policy lets personal data cross to this region.
    customer: Customer | None


AskHome = Callable[[str, list[Identifier]], Awaitable[RemoteAnswer]]


@dataclass(frozen=True)
class Resolution:
    customer: Customer | None
    created: bool
    suggestions: tuple[Suggestion, ...] = ()
    remote: RemoteAnswer | None = None
    #: Stored revision of the local profile (0 for a remote or absent customer).
    revision: int = 0


@dataclass
class ResolveContext:
    store: Profiles
    tenant_id: str
    scope: str
    region: str
    rules: MatchingRules = field(default_factory=MatchingRules)
    global_index: GlobalDirectory | None = None
    ask_home: AskHome | None = None
    metrics: IdentityMetrics = DEFAULT


async def resolve_customer(
    ctx: ResolveContext, identifiers: list[Identifier], attributes: Mapping[str, str] | None = None
) -> Resolution:
    if not identifiers:
        raise ValueError("at least one identifier is required")
    unique = list(dict.fromkeys(identifiers))
    store, scope = ctx.store, ctx.scope
    for _ in range(_ATTEMPTS):
        # Independent reads, sent together.
        found_owners = await asyncio.gather(*(store.owner(scope, identifier) for identifier in unique))
        owners = dict(zip(unique, found_owners, strict=True))
        decision = decide(ctx.rules, owners)
        if decision.customer_id is None:
            homed: frozenset[Identifier] = frozenset()
            if not any(owners.values()):
                home = await _home_here(ctx, unique)
                if isinstance(home, RemoteAnswer):
                    ctx.metrics.resolutions.add(1, {"outcome": "remote"})
                    return Resolution(home.customer, False, (), home)
                homed = home
            if not decision.unclaimed:
                # Every identifier belongs to someone the rules only suggest: nothing to create.
                ctx.metrics.resolutions.add(1, {"outcome": "suggested"})
                return Resolution(None, False, decision.suggestions)
            made = await _create(ctx, list(decision.unclaimed), dict(attributes or {}), homed)
            if made is not None:
                created, revision = made
                ctx.metrics.resolutions.add(1, {"outcome": "created"})
                for suggestion in decision.suggestions:
                    ctx.metrics.matches.add(1, {"rule": suggestion.rule})
                return Resolution(created, True, decision.suggestions, revision=revision)
            continue  # someone claimed one of the identifiers meanwhile: resolve again
        customer_id = decision.customer_id
        found = await store.get(scope, customer_id)
        customer, revision = found if found else (_repair(ctx, customer_id, owners), 0)
        if found is None:
            # The owner's profile may be in flight rather than lost: merge, never overwrite or fail.
            customer, revision = await store.add_identifiers(customer, list(customer.identifiers))
        claimed = [i for i in decision.unclaimed if await store.claim(scope, i, customer_id)]
        if claimed:
            customer, revision = await store.add_identifiers(customer, claimed)
            await _enter_global(ctx, claimed)
        if len(claimed) == len(decision.unclaimed):
            ctx.metrics.resolutions.add(1, {"outcome": "matched"})
            ctx.metrics.matches.add(1, {"rule": decision.rule})
            return Resolution(customer, False, decision.suggestions, revision=revision)
    raise ResolveConflict(f"identifiers kept changing owner during {_ATTEMPTS} attempts")


async def _home_here(
    ctx: ResolveContext, identifiers: list[Identifier]
) -> RemoteAnswer | frozenset[Identifier]:
    """Claim the identifiers' home for this region, the claims sent together. The identifiers this
    call homed here, or the answer of the region that has one of them (the first in the caller's
    order), after this call's claims are withdrawn: nothing of the person stays pointing here."""
    if ctx.global_index is None or ctx.ask_home is None:
        return frozenset()
    index = ctx.global_index
    homes = await asyncio.gather(
        *(index.claim_home(ctx.tenant_id, ctx.scope, identifier, ctx.region) for identifier in identifiers)
    )
    homed = frozenset(i for i, home in zip(identifiers, homes, strict=True) if home is None)
    elsewhere = next((home for home in homes if home is not None and home != ctx.region), None)
    if elsewhere is None:
        return homed
    await asyncio.gather(*(index.forget(ctx.tenant_id, ctx.scope, i, ctx.region) for i in homed))
    answer = await ctx.ask_home(elsewhere, identifiers)
    kind = "personal" if answer.customer is not None else "pseudonymous"
    ctx.metrics.cross_region_lookups.add(1, {"crossed": kind, "home_region": elsewhere})
    return answer


async def _enter_global(ctx: ResolveContext, identifiers: list[Identifier]) -> None:
    if ctx.global_index is None:
        return
    for identifier in identifiers:
        await ctx.global_index.claim(ctx.tenant_id, ctx.scope, identifier, ctx.region)


async def _create(
    ctx: ResolveContext,
    identifiers: list[Identifier],
    attributes: dict[str, str],
    homed: frozenset[Identifier] = frozenset(),
) -> tuple[Customer, int] | None:
    """Claim the identifiers and write the new profile; None when another customer claimed one
    first. `homed`: identifiers whose global index entry this resolution made already."""
    store, scope = ctx.store, ctx.scope
    customer = Customer(
        customer_id=uuid.uuid4().hex,
        tenant_id=ctx.tenant_id,
        scope=scope,
        home_region=ctx.region,
        identifiers=tuple(identifiers),
        attributes=attributes,
        created_at=time.time(),
    )
    claimed: list[Identifier] = []
    # One claim order for every creator: two creating the same customer collide on the first
    # claim, instead of each taking one identifier, rolling back and colliding again forever.
    for identifier in sorted(identifiers, key=Identifier.index_token):
        if not await store.claim(scope, identifier, customer.customer_id):
            for done in claimed:
                await store.release(scope, done)
            return None
        claimed.append(identifier)
    # A concurrent resolver may already have rebuilt this profile from our claims: merge into it.
    # The global entries not made by this resolution (one it found naming this region may be
    # withdrawn by the resolver that made it) go in alongside: independent writes, sent together.
    (merged, revision), _ = await asyncio.gather(
        store.create_or_merge(customer), _enter_global(ctx, [i for i in identifiers if i not in homed])
    )
    return merged, revision


def _repair(ctx: ResolveContext, customer_id: str, owners: Mapping[Identifier, str | None]) -> Customer:
    """An index points at a profile that was never written (a writer died in between): rebuild it."""
    return Customer(
        customer_id=customer_id,
        tenant_id=ctx.tenant_id,
        scope=ctx.scope,
        home_region=ctx.region,
        identifiers=tuple(i for i, owner in owners.items() if owner == customer_id),
        created_at=time.time(),
    )
