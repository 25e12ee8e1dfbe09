"""Back-pressure at the edge: how many contacts may wait before a new one is answered at once.

Set per tenant (`tenants[].backPressure`) in the ContactCenter: a ceiling for all of the
tenant's queues together and ceilings for single queues. A new contact that arrives while a
ceiling it falls under is reached is not queued: the gateway records it, answers it on its own
channel with the deflection message (estimated wait, a self-service link) and closes it.
"""

from __future__ import annotations

import string
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from ccmesh.configplane.base import Model

#: What a deflection message may say about the contact's situation.
PLACEHOLDERS = frozenset({"wait", "wait_minutes", "self_service_url", "callback"})

DEFAULT_MESSAGE = "All our agents are busy right now; the expected wait is {wait}. Please try again later."
DEFAULT_MESSAGE_WITH_LINK = (
    "All our agents are busy right now; the expected wait is {wait}. "
    "You can find answers at {self_service_url}, or try again later."
)


def placeholders_of(template: str) -> set[str]:
    """The `{names}` a message uses; ValueError when it is no valid template."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"not a valid template ({error}); write braces as '{{{{' and '}}}}'") from None
    names: set[str] = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} takes no format or conversion")
        names.add(name)
    return names


class Deflection(Model):
    """What a contact beyond a ceiling is told, on its channel (spoken on a call)."""

    message: str = Field(
        default="",
        max_length=1000,
        description=(
            "Text of the answer. Placeholders: `{wait}` (the wait the contact would have had, in "
            "English, e.g. `about 4 minutes`), `{wait_minutes}` (the same as a number of minutes, "
            "`60+` when unknown or longer; for answers in other languages) and `{self_service_url}` "
            "(selfServiceUrl) and `{callback}` (on SMS and WhatsApp: `Reply CALL ME and we will call "
            "you back when it is your turn.`, a reply the ceiling admits as a queued call back; "
            "elsewhere empty). Empty: a default that gives the wait (the self-service link, when set, "
            "and the call back offer where it can be had). An entry point's `deflection` prompt "
            "(per language, like every prompt) words the answer on that entry point instead."
        ),
    )
    self_service_url: str = Field(
        default="",
        max_length=500,
        description="Where customers can help themselves (an http or https URL); offered in the answer.",
    )

    @field_validator("message")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        unknown = sorted(placeholders_of(value) - PLACEHOLDERS)
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {unknown} in the message; known: {sorted(PLACEHOLDERS)}"
            )
        return value

    @field_validator("self_service_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
            raise ValueError(f"must be an http or https URL, got {value[:80]!r}")
        return value

    @model_validator(mode="after")
    def _link_to_give(self) -> Deflection:
        if "self_service_url" in placeholders_of(self.message) and not self.self_service_url:
            raise ValueError("message uses {self_service_url} but selfServiceUrl is empty")
        return self

    def template(self) -> str:
        """The message to fill in: the configured one, else the default."""
        if self.message:
            return self.message
        return DEFAULT_MESSAGE_WITH_LINK if self.self_service_url else DEFAULT_MESSAGE


class QueueCeiling(Model):
    queue: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_=-]+$",
        description="Queue (as routing names it) whose new contacts this ceiling guards.",
    )
    max_waiting: int = Field(
        ge=0,
        le=1_000_000,
        description=(
            "At most this many contacts wait in the queue: a new contact of an entry point that hands "
            "its contacts to this queue while that many wait is deflected (0: every new contact is)."
        ),
    )
    deflection: Deflection | None = Field(
        default=None, description="This queue's answer to a deflected contact; unset: the tenant's."
    )


class BackPressure(Model):
    """Ceilings of waiting contacts for a tenant and its queues, and what is said beyond them."""

    max_waiting: int | None = Field(
        default=None,
        ge=0,
        le=10_000_000,
        description=(
            "At most this many contacts wait in all of the tenant's queues together: beyond it every new "
            "contact of the tenant (any entry point, journeys too) is deflected. Unset: no tenant ceiling."
        ),
    )
    queues: list[QueueCeiling] = Field(
        default_factory=list,
        description=(
            "Ceilings of single queues; they guard entry points that hand new contacts straight to the "
            "queue (`queue` set, no `flow`)."
        ),
    )
    deflection: Deflection = Field(
        default_factory=Deflection,
        description="The answer to a deflected contact (per queue: `queues[].deflection`).",
    )

    @model_validator(mode="after")
    def _queues_unique(self) -> BackPressure:
        names = [c.queue for c in self.queues]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"queues: each queue may have one ceiling; repeated: {repeated}")
        return self

    @property
    def guards_anything(self) -> bool:
        return self.max_waiting is not None or bool(self.queues)

    def ceiling_of(self, queue: str) -> QueueCeiling | None:
        return next((c for c in self.queues if c.queue == queue), None)
