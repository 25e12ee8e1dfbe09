"""What makes a webhook subscription deliverable: checked before it is stored and again when it is loaded.

Problems are returned as `<field>: <what is wrong>` lines (camelCase, as in the document), so the
RPC, `ccctl` and the logs all name the field. The secret itself never appears in a message.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import cel

from ccmesh.configplane.models import WebhookSubscriptionSpec

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
#: Shortest key Standard Webhooks recommends (and Svix generates).
MIN_SECRET_BYTES = 24


class SubscriptionError(ValueError):
    """A subscription cannot be accepted; `problems` has one line per problem."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"subscription {name!r} is invalid: " + "; ".join(problems))


@dataclass(frozen=True)
class CompiledFilter:
    """A compiled CEL filter; an empty expression matches every event."""

    source: str
    program: cel.Program | None = field(compare=False)

    def matches(self, body: dict[str, object]) -> bool:
        if self.program is None:
            return True
        try:
            return self.program.execute({"event": body}) is True
        except (KeyError, ValueError, RuntimeError, TypeError):
            # A field the event lacks makes the expression fail: the event does not match.
            return False


def compile_filter(expression: str) -> CompiledFilter:
    """Compile `expression`; raises ValueError with the compiler's message when it does not compile."""
    if not expression.strip():
        return CompiledFilter(expression, None)
    try:
        return CompiledFilter(expression, cel.compile(expression))
    except (ValueError, RuntimeError) as error:
        raise ValueError(" ".join(str(error).split())) from None


def secret_key(secret: str) -> bytes:
    """The signing key inside a `whsec_` secret; ValueError naming the problem otherwise."""
    if not secret:
        raise ValueError("a signing secret is required (whsec_<base64>)")
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"must start with {SECRET_PREFIX!r} followed by base64")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the part after {SECRET_PREFIX!r} is not valid base64") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the key must be at least {MIN_SECRET_BYTES} bytes, got {len(key)}")
    return key


def problems_of(spec: WebhookSubscriptionSpec, *, local_mode: bool) -> list[str]:
    """Every reason the subscription cannot be delivered; empty when it can."""
    problems: list[str] = []
    parts = urlsplit(spec.url)
    allowed = ("https", "http") if local_mode else ("https",)
    if parts.scheme not in allowed:
        hint = "" if local_mode else " (http:// is accepted only in local mode)"
        problems.append(
            f"spec.url: scheme must be {' or '.join(allowed)}, got {parts.scheme or 'none'!r}{hint}"
        )
    elif not parts.hostname:
        problems.append("spec.url: has no host")
    try:
        secret_key(spec.secret)
    except ValueError as error:
        problems.append(f"spec.secret: {error}")
    try:
        compile_filter(spec.filter)
    except ValueError as error:
        problems.append(f"spec.filter: CEL expression does not compile: {error}")
    return problems


def check(name: str, spec: WebhookSubscriptionSpec, *, local_mode: bool) -> None:
    problems = problems_of(spec, local_mode=local_mode)
    if problems:
        raise SubscriptionError(name, problems)
