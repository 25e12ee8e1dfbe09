"""Customer profiles and identifier indexes in the region's identity KV bucket.

Keys never contain personal data: `cust.<scope>.<customer_id>` holds the profile and
`idx.<scope>.<kind>.<digest>` maps a hashed identifier to its customer. Index entries are
claimed with `create`, which fails if the key exists, so two replicas resolving the same new
identifier at once cannot both create a customer.
"""

from __future__ import annotations

from collections.abc import Callable

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from ccmesh.kv import update_with
from identity.domain.customer import Customer
from identity.domain.identifiers import Identifier


class ProfileStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @staticmethod
    def _profile_key(scope: str, customer_id: str) -> str:
        return f"cust.{scope}.{customer_id}"

    @staticmethod
    def _index_key(scope: str, identifier: Identifier) -> str:
        return f"idx.{scope}.{identifier.index_token()}"

    async def owner(self, scope: str, identifier: Identifier) -> str | None:
        try:
            entry = await self._kv.get(self._index_key(scope, identifier))
        except KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None

    async def claim(self, scope: str, identifier: Identifier, customer_id: str) -> bool:
        """Point the identifier at the customer unless another customer already owns it."""
        try:
            await self._kv.create(self._index_key(scope, identifier), customer_id.encode())
        except KeyWrongLastSequenceError:
            # A concurrent resolver may have claimed it for this very customer: that is a success.
            return await self.owner(scope, identifier) == customer_id
        return True

    async def release(self, scope: str, identifier: Identifier) -> None:
        await self._kv.delete(self._index_key(scope, identifier))

    async def get(self, scope: str, customer_id: str) -> tuple[Customer, int] | None:
        try:
            entry = await self._kv.get(self._profile_key(scope, customer_id))
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        return Customer.from_json(entry.value), int(entry.revision or 0)

    async def create(self, customer: Customer) -> int:
        return int(
            await self._kv.create(self._profile_key(customer.scope, customer.customer_id), customer.to_json())
        )

    async def create_or_merge(self, customer: Customer) -> tuple[Customer, int]:
        """Write a profile made just now without reading first (its id is new); only when a
        concurrent resolver has rebuilt it from the claims already is it merged into that one."""
        try:
            return customer, await self.create(customer)
        except KeyWrongLastSequenceError:
            return await self.add_identifiers(customer, list(customer.identifiers))

    async def add_identifiers(self, customer: Customer, extra: list[Identifier]) -> tuple[Customer, int]:
        """Append identifiers with optimistic concurrency (a concurrent update is re-applied, not lost)."""
        result: list[Customer] = []

        def mutate(current: bytes | None) -> bytes:
            base = Customer.from_json(current) if current else customer
            updated = base.with_identifiers(extra)
            result.append(updated)
            return updated.to_json()

        revision = await update_with(
            self._kv, self._profile_key(customer.scope, customer.customer_id), mutate
        )
        return result[-1], revision

    async def update(self, scope: str, customer_id: str, change: Callable[[Customer], Customer]) -> Customer:
        """Apply `change` to the stored profile with optimistic concurrency; KeyError when absent."""
        result: list[Customer] = []

        def mutate(current: bytes | None) -> bytes:
            if current is None:
                raise KeyError(customer_id)
            updated = change(Customer.from_json(current))
            result.append(updated)
            return updated.to_json()

        await update_with(self._kv, self._profile_key(scope, customer_id), mutate)
        return result[-1]

    async def move(self, scope: str, identifier: Identifier, from_id: str, to_id: str) -> bool:
        """Point the identifier at `to_id` if it still points at `from_id`."""
        moved: list[bool] = []

        def mutate(current: bytes | None) -> bytes | None:
            if current is not None and current.decode() == from_id:
                moved.append(True)
                return to_id.encode()
            moved.append(False)
            return current

        await update_with(self._kv, self._index_key(scope, identifier), mutate)
        return moved[-1]

    async def purge_profile(self, scope: str, customer_id: str) -> None:
        await self._kv.purge(self._profile_key(scope, customer_id))

    async def purge_index(self, scope: str, identifier: Identifier) -> None:
        await self._kv.purge(self._index_key(scope, identifier))

    async def put_tombstone(self, scope: str, customer_id: str, record: bytes) -> str:
        key = f"tomb.{scope}.{customer_id}"
        await self._kv.put(key, record)
        return key

    async def has_tombstone(self, scope: str, customer_id: str) -> bool:
        try:
            entry = await self._kv.get(f"tomb.{scope}.{customer_id}")
        except KeyNotFoundError:
            return False
        return bool(entry.value)
