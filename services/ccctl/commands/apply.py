"""`ccctl apply -f FILE...`: validate every document of every file, then store them all.

Validation happens before connecting: if any document is invalid, nothing is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import Any

from ccctl.commands import CommandError, add_nats_url_option, connected
from ccctl.commands.token import load_secret
from ccctl.queue_references import queue_problems
from ccctl.surge_references import surge_policy_problems
from ccmesh.audit import AuditRecord
from ccmesh.audit_config import config_change_records, write_records
from ccmesh.configplane.loader import ConfigFileError, SourcedDocument, load_files
from ccmesh.configplane.models import KINDS
from ccmesh.configplane.references import dangling_references, endpoint_brand_problems, merged
from ccmesh.configplane.store import AppliedResult, ConfigStore, ConfigStoreError
from ccmesh.kv import KVError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "apply",
        help="create or update configuration from files",
        description=(
            "Create or update config-plane documents (YAML or JSON; several per file). "
            "All files are validated first: one bad document and nothing is stored."
        ),
    )
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        required=True,
        metavar="FILE",
        help="file to apply (repeat for several)",
    )
    parser.add_argument(
        "--by",
        default=os.environ.get("CC_ACTOR") or getpass.getuser(),
        help="who applies, as recorded in the audit log (default: $CC_ACTOR or the OS user)",
    )
    add_nats_url_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        documents = load_files(args.files)
    except ConfigFileError as err:
        print(err, file=sys.stderr)
        print(f"ccctl apply: nothing was applied ({len(err.problems)} problem(s))", file=sys.stderr)
        return 1
    asyncio.run(_apply_all(args.nats_url, documents, args.by))
    return 0


async def _apply_all(url: str, documents: list[SourcedDocument], actor: str = "ccctl") -> None:
    async with connected(url) as nc:
        try:
            store = await ConfigStore.open(nc.jetstream())
        except KVError as err:
            raise CommandError(str(err)) from None
        # References between documents resolve against what will be stored: nothing is applied otherwise.
        stored = [document for kind in KINDS for document in await store.list(kind)]
        everything = merged(stored, [s.document for s in documents])
        problems = dangling_references(everything) + endpoint_brand_problems(everything)
        # Queues named by endpoints and overflow rules are routing's: it is asked about them.
        queue_refusals, notes = await queue_problems(nc, load_secret(), [s.document for s in documents])
        problems += queue_refusals
        # Queues and journeys named by fallback policies, too.
        surge_refusals, surge_notes = await surge_policy_problems(
            nc, load_secret(), [s.document for s in documents]
        )
        problems += surge_refusals
        notes += surge_notes
        for note in notes:
            print(f"ccctl apply: {note}", file=sys.stderr)
        if problems:
            raise CommandError(
                "\n".join([*problems, f"ccctl apply: nothing was applied ({len(problems)} problem(s))"])
            )
        centers = [document for document in everything if getattr(document, "kind", "") == "ContactCenter"]
        changes: list[AuditRecord] = []
        try:
            for sourced in documents:
                try:
                    result = await store.apply(sourced.document)
                except (ConfigStoreError, KVError) as err:
                    raise CommandError(f"{sourced.source}: document {sourced.index}: {err}") from None
                # Printed as each one is stored, so that a later failure still shows what was applied.
                print(describe(result), flush=True)
                if result.changed:
                    changes += config_change_records(
                        sourced.document,
                        kind=result.kind,
                        name=result.name,
                        generation=result.generation,
                        actor=actor,
                        contact_centers=centers,
                    )
        finally:
            # What was stored is audited, even when a later document failed.
            for note in await write_records(nc.jetstream(), changes):
                print(f"ccctl apply: {note}", file=sys.stderr)


def describe(result: AppliedResult) -> str:
    resource = f"{result.kind.lower()}/{result.name}"
    if not result.changed:
        return f"{resource} unchanged"
    verb = "created" if result.created else "configured"
    return f"{resource} {verb} (generation {result.generation})"
