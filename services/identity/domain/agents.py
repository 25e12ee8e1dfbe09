"""Agent identities and opaque API tokens (stored only as hashes)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import asdict, dataclass, field

import orjson

AGENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
TOKEN_ROLES = frozenset({"admin", "supervisor", "agent", "integration"})
TOKEN_SCOPES = frozenset(
    {"customers:read", "customers:write", "timeline:read", "timeline:write", "agents:read", "agents:write"}
)
TOKEN_PREFIX = "ccat"  # noqa: S105 - the prefix of opaque tokens, not a secret
MIN_TOKEN_TTL = 60
MAX_TOKEN_TTL = 400 * 24 * 3600


class InvalidAgent(ValueError):
    """An agent or token request is malformed; the message names the field."""


@dataclass(frozen=True)
class Agent:
    agent_id: str
    tenant_id: str
    display_name: str
    #: skill name -> proficiency 1..5
    skills: dict[str, int]
    languages: tuple[str, ...]
    #: channel number -> max concurrent contacts
    channels: dict[int, int]
    brands: tuple[str, ...]
    queues: tuple[str, ...]
    home_region: str
    #: (name, channel numbers, limit): contacts of those channels together, at once.
    capacity_groups: tuple[tuple[str, tuple[int, ...], int], ...] = ()

    def validate(self, known_brands: set[str]) -> Agent:
        if not AGENT_ID.match(self.agent_id):
            raise InvalidAgent("agent.agent_id: required, 1-64 letters, digits, '-' or '_'")
        for name, level in self.skills.items():
            if not name or len(name) > 64:
                raise InvalidAgent("agent.skills: names are 1-64 characters")
            if not 1 <= level <= 5:
                raise InvalidAgent(f"agent.skills[{name!r}].proficiency must be 1-5, got {level}")
        for tag in self.languages:
            if not LANGUAGE_TAG.match(tag):
                raise InvalidAgent(f"agent.languages: {tag!r} is not a BCP 47 language tag")
        for channel, limit in self.channels.items():
            if channel <= 0:
                raise InvalidAgent("agent.channels: channel is unspecified")
            if not 1 <= limit <= 50:
                raise InvalidAgent(f"agent.channels[{channel}].max_concurrent must be 1-50, got {limit}")
        for i, (name, channels, limit) in enumerate(self.capacity_groups):
            where = f"agent.capacity_groups[{i}]"
            if not name or len(name) > 64:
                raise InvalidAgent(f"{where}.name: required, 1-64 characters")
            if not channels or any(channel <= 0 for channel in channels):
                raise InvalidAgent(f"{where}.channels: at least one channel, none unspecified")
            if not 1 <= limit <= 100:
                raise InvalidAgent(f"{where}.capacity must be 1-100, got {limit}")
        unknown = sorted(set(self.brands) - known_brands)
        if unknown:
            raise InvalidAgent(f"agent.brands: unknown brand(s) {unknown} in tenant {self.tenant_id!r}")
        return self

    def to_json(self) -> bytes:
        raw = asdict(self)
        raw["channels"] = {str(k): v for k, v in self.channels.items()}
        return orjson.dumps(raw)

    @classmethod
    def from_json(cls, data: bytes) -> Agent:
        raw = orjson.loads(data)
        return cls(
            agent_id=raw["agent_id"],
            tenant_id=raw["tenant_id"],
            display_name=raw["display_name"],
            skills=dict(raw["skills"]),
            languages=tuple(raw["languages"]),
            channels={int(k): int(v) for k, v in raw["channels"].items()},
            brands=tuple(raw["brands"]),
            queues=tuple(raw["queues"]),
            home_region=raw["home_region"],
            capacity_groups=tuple(
                (str(name), tuple(int(c) for c in channels), int(limit))
                for name, channels, limit in raw.get("capacity_groups", ())
            ),
        )


@dataclass(frozen=True)
class ApiToken:
    """What is stored for an opaque token: its hash is the key, the token itself is never kept."""

    token_id: str
    tenant_id: str
    role: str
    subject: str
    scopes: tuple[str, ...]
    expires_at: float
    revoked: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> ApiToken:
        raw = orjson.loads(data)
        raw["scopes"] = tuple(raw["scopes"])
        return cls(**raw)


def new_token() -> tuple[str, str]:
    """(token, token_id): the token is shown once; the id names it for revocation."""
    token_id = secrets.token_hex(8)
    return f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}", token_id


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_opaque_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX + "_")


def check_token_request(role: str, scopes: list[str], ttl_seconds: int) -> None:
    if role not in TOKEN_ROLES:
        raise InvalidAgent(f"role: {role!r} is not one of {sorted(TOKEN_ROLES)}")
    unknown = sorted(set(scopes) - TOKEN_SCOPES)
    if unknown:
        raise InvalidAgent(f"scopes: unknown scope(s) {unknown}; known: {sorted(TOKEN_SCOPES)}")
    if not MIN_TOKEN_TTL <= ttl_seconds <= MAX_TOKEN_TTL:
        raise InvalidAgent(f"ttl_seconds must be {MIN_TOKEN_TTL}-{MAX_TOKEN_TTL}, got {ttl_seconds}")
