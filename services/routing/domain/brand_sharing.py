"""Which brands' agents serve a queue: the tenant's `brandSharing`, narrowed by the queue (pure).

A tenant whose `brandSharing` is `shared` has one agent pool for all its brands: an agent of any
of its brands may take a contact of any other. A queue may narrow that to its own brand (and
the brands it lists in `shared_brands`) with `brand_sharing: isolated`; it can never open what
the tenant isolates, since brand isolation is an access boundary.
"""

from __future__ import annotations

from routing.domain.agents import AcdInputError

#: A queue's setting: "" follows the tenant, "isolated" narrows the queue to its brand.
QUEUE_SETTINGS = ("", "isolated")


def parse_queue_setting(value: str, field_name: str = "queue.brand_sharing") -> str:
    setting = value.strip().lower()
    if setting not in QUEUE_SETTINGS:
        raise AcdInputError(
            field_name,
            f"unknown brand sharing {value!r}: empty (follow the tenant's brandSharing) or 'isolated'",
        )
    return setting


def open_to_all_brands(queue_setting: str, tenant_sharing: str) -> bool:
    """Whether agents of every brand of the tenant serve the queue."""
    return queue_setting != "isolated" and tenant_sharing == "shared"
