"""`ccctl get KIND [NAME] [-o table|yaml|json]`: show stored config-plane documents.

KIND is case-insensitive and may be plural or short (`contactcenter`, `contactcenters`, `cc`).
YAML and JSON output can be edited and applied again; a kept `metadata.resourceVersion`
makes that apply fail if someone changed the document in between.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import yaml

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccmesh.configplane.loader import metadata_of
from ccmesh.configplane.models import KINDS, ContactCenter, Model
from ccmesh.configplane.store import ConfigStore, ConfigStoreError

#: Short names, as `kubectl get cc` would accept them.
SHORT_NAMES: dict[str, list[str]] = {"ContactCenter": ["cc"]}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "get",
        help="show stored configuration",
        description="Show stored config-plane documents of one kind, or one of them by name.",
    )
    parser.add_argument("kind", metavar="KIND", help=f"kind of document: {', '.join(_kind_names())}")
    parser.add_argument("name", nargs="?", metavar="NAME", help="one document (default: all of the kind)")
    parser.add_argument(
        "-o",
        "--output",
        choices=("table", "yaml", "json"),
        default="table",
        help="output format (%(default)s)",
    )
    parser.add_argument(
        "--show-secrets",
        action="store_true",
        help="print signing secrets and tokens instead of masking them",
    )
    add_nats_url_option(parser)
    parser.set_defaults(handler=run)


def resolve_kind(text: str) -> str:
    """The canonical kind for `text` (any case, plural or short name)."""
    wanted = text.lower()
    for kind in KINDS:
        if wanted in (kind.lower(), kind.lower() + "s", *SHORT_NAMES.get(kind, [])):
            return kind
    raise CommandError(f"unknown kind {text!r}; known kinds: {', '.join(_kind_names())}", EXIT_USAGE)


def run(args: argparse.Namespace) -> int:
    kind = resolve_kind(args.kind)
    documents = asyncio.run(_fetch(args.nats_url, kind, args.name))
    if args.name is not None and not documents:
        raise CommandError(f'{kind.lower()} "{args.name}" not found')
    if not documents and args.output == "table":
        print(f"No {kind.lower()}s found.", file=sys.stderr)
        return 0
    shown = render(documents, args.output, single=args.name is not None, show_secrets=args.show_secrets)
    print(shown, end="")
    return 0


async def _fetch(url: str, kind: str, name: str | None) -> list[Model]:
    async with connected(url) as nc:
        store = await ConfigStore.existing(nc.jetstream())
        if store is None:
            return []
        try:
            if name is None:
                return await store.list(kind)
            document = await store.get(kind, name)
        except ConfigStoreError as err:
            raise CommandError(str(err)) from None
        return [document] if document is not None else []


#: Fields that hold credentials; masked in output unless --show-secrets (screens and logs are
#: not where secrets belong, and a masked document fails validation if applied back as is).
SECRET_FIELDS = frozenset(
    {"secret", "token", "authToken", "appSecret", "verifyToken", "accessToken", "signingSecret", "password"}
)
MASK = "<hidden: use --show-secrets>"


def mask_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if k in SECRET_FIELDS and v else mask_secrets(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value


def render(
    documents: list[Model],
    output: str,
    *,
    single: bool,
    now: datetime | None = None,
    show_secrets: bool = False,
) -> str:
    data = [doc.model_dump(mode="json", by_alias=True) for doc in documents]
    if not show_secrets:
        data = [mask_secrets(item) for item in data]
    if output == "json":
        return orjson.dumps(data[0] if single else data, option=orjson.OPT_INDENT_2).decode() + "\n"
    if output == "yaml":
        return "---\n".join(yaml.safe_dump(item, sort_keys=False, allow_unicode=True) for item in data)
    return table(documents, now or datetime.now(UTC))


def table(documents: list[Model], now: datetime) -> str:
    columns: list[tuple[str, Callable[[Model], str]]] = [("NAME", lambda d: metadata_of(d).name)]
    if all(isinstance(d, ContactCenter) for d in documents):
        columns += [
            ("REGION", lambda d: d.spec.region),  # type: ignore[attr-defined]
            ("TENANTS", lambda d: str(len(d.spec.tenants))),  # type: ignore[attr-defined]
        ]
    columns += [
        ("GENERATION", lambda d: str(metadata_of(d).generation)),
        ("AGE", lambda d: age(metadata_of(d).creation_timestamp, now)),
    ]
    rows = [[title for title, _ in columns]] + [[cell(doc) for _, cell in columns] for doc in documents]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = [
        "   ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def age(created: datetime | None, now: datetime) -> str:
    """`kubectl`-style age: 45s, 12m, 5h, 3d."""
    if created is None:
        return "<unknown>"
    seconds = max(0, int((now - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _kind_names() -> list[str]:
    return [", ".join([kind.lower(), kind.lower() + "s", *SHORT_NAMES.get(kind, [])]) for kind in KINDS]
