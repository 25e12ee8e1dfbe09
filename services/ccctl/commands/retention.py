"""`ccctl retention report`: what expires when in a region, per data class.

    ccctl retention report [--region eu] [-f contactcenter.yaml] [-o table|json]

The retention is the region's ContactCenter `spec.retention` as stored in the config plane (or
as written in `-f FILE`, validated the way `ccctl apply` would: a bad value is refused naming
its field), over the retention table's defaults. For each data class the report shows the
store that keeps it, the rule nats-server enforces (a store's maximum age, a per-key TTL once a
record finishes, or kept until erased), the ContactCenter field that sets it, what the store
holds now and when its oldest record expires; then the same for every store of the region
(dead letters, actions, idempotency records... too), and the legal holds whose copies are kept
past those rules until released (`ccctl retention hold|release|holds`, and `forget|verify` for
signed erasures: `ccctl.commands.retention_holds`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import orjson
from nats.js.client import JetStreamContext

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccctl.commands.retention_holds import register_verbs
from ccmesh.configplane.loader import ConfigFileError, load_file
from ccmesh.configplane.models import ContactCenter
from ccmesh.configplane.store import ConfigStore, ConfigStoreError
from ccmesh.retention import DAY, DEFAULT_POLICY, Enforcement, RetentionPolicy
from ccmesh.retention_holds import LegalHold, LegalHoldStore
from ccmesh.retention_report import (
    ReportRow,
    StoreState,
    StoreStateError,
    observe_stores,
    report_rows,
    store_rows,
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "retention", help="what each data class of a region keeps, and when it expires"
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    report = verbs.add_parser("report", help="per data class: store, rule, setting, stored now, next expiry")
    report.add_argument(
        "--region",
        default=None,
        help="region to report on (default: the -f file's region, else $CC_REGION, else eu)",
    )
    report.add_argument(
        "-f",
        "--filename",
        default=None,
        metavar="FILE",
        help="take the retention from this ContactCenter file instead of the stored one",
    )
    report.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")
    add_nats_url_option(report)
    report.set_defaults(handler=run_report)
    register_verbs(verbs)


def run_report(args: argparse.Namespace) -> int:
    region, policy, source = _policy_from_file(args) if args.filename else (_region(args), None, "")
    policy, source, observed, holds = asyncio.run(_observe(args.nats_url, region, policy, source))
    classes = report_rows(policy, region, observed)
    stores = store_rows(policy, region, observed)
    if args.output == "json":
        document = {
            "region": region,
            "retentionFrom": source,
            "dataClasses": [row.as_json() for row in classes],
            "stores": [row.as_json() for row in stores],
            "legalHolds": [holds_row(hold) for hold in holds],
        }
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(f"region {region}: retention from {source}")
        print(render_table(classes, "DATA CLASS"))
        print(render_table(stores, "STORE KEY"), end="")
        print(render_holds(holds), end="")
    return 0


def holds_row(hold: LegalHold) -> dict[str, Any]:
    return {
        "holdId": hold.hold_id,
        "tenantId": hold.tenant_id,
        "customerId": hold.customer_id,
        "contactId": hold.contact_id,
        "reason": hold.reason,
        "placedBy": hold.placed_by,
        "placedAt": hold.placed_at,
        "held": dict(hold.held),
    }


def render_holds(holds: list[LegalHold]) -> str:
    """The legal holds: their copies are kept, whatever the rules above say, until released."""
    if not holds:
        return "\nno legal holds: every record follows the rules above\n"
    lines = [("LEGAL HOLD", "TENANT", "HOLDS", "KEEPS", "PLACED BY", "REASON")]
    for hold in holds:
        target = f"customer {hold.customer_id}" if hold.customer_id else f"contact {hold.contact_id}"
        keeps = ", ".join(f"{n} {kind}" for kind, n in sorted(hold.held.items())) or "nothing"
        lines.append((hold.hold_id, hold.tenant_id, target, keeps, hold.placed_by, hold.reason))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    table = "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() + "\n"
        for line in lines
    )
    return f"\nlegal holds (copies kept until released, past any rule above):\n{table}"


def _region(args: argparse.Namespace) -> str:
    return str(args.region or os.environ.get("CC_REGION", "eu"))


def _policy_from_file(args: argparse.Namespace) -> tuple[str, RetentionPolicy, str]:
    try:
        documents = [sourced.document for sourced in load_file(args.filename)]
    except ConfigFileError as err:
        raise CommandError(str(err), EXIT_USAGE) from None
    centers = [d for d in documents if isinstance(d, ContactCenter)]
    if args.region:
        centers = [d for d in centers if d.spec.region == args.region]
    if not centers:
        wanted = f" for region {args.region!r}" if args.region else ""
        raise CommandError(f"{args.filename}: no ContactCenter{wanted}", EXIT_USAGE)
    center = centers[0]
    return center.spec.region, center.spec.retention.policy(), f"{args.filename}"


async def _observe(
    url: str, region: str, policy: RetentionPolicy | None, source: str
) -> tuple[RetentionPolicy, str, dict[str, StoreState], list[LegalHold]]:
    async with connected(url) as nc:
        if policy is None:
            policy, source = await _stored_policy(nc.jetstream(), region)
        try:
            observed = await observe_stores(nc, region)
        except StoreStateError as err:
            raise CommandError(str(err)) from None
        holds = await LegalHoldStore(nc.jetstream(), region).holds()
    return policy, source, observed, holds


async def _stored_policy(js: JetStreamContext, region: str) -> tuple[RetentionPolicy, str]:
    store = await ConfigStore.existing(js)
    centers: list[ContactCenter] = []
    if store is not None:
        try:
            documents = await store.list("ContactCenter")
        except ConfigStoreError as err:
            raise CommandError(str(err)) from None
        centers = [d for d in documents if isinstance(d, ContactCenter) and d.spec.region == region]
    if not centers:
        return DEFAULT_POLICY, "the defaults (no ContactCenter stored for the region)"
    return centers[0].spec.retention.policy(), f"contactcenter/{centers[0].metadata.name}"


def render_table(rows: list[ReportRow], first_column: str = "DATA CLASS") -> str:
    header = (first_column, "STORE", "RULE", "KEPT", "STORED", "NEXT EXPIRY", "SET BY")
    lines = [header]
    for row in rows:
        stored = "absent" if row.state is None else f"{row.state.messages} msgs"
        expiry = row.next_expiry.strftime("%Y-%m-%d %H:%M:%SZ") if row.next_expiry else "-"
        lines.append(
            (row.name, row.store, row.enforcement.value, kept_text(row), stored, expiry, row.setting)
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() + "\n"
        for line in lines
    )


def kept_text(row: ReportRow) -> str:
    if row.enforcement is Enforcement.KEPT:
        return "until erased"
    text = duration_text(row.kept_seconds)
    return f"{text} after finish" if row.enforcement is Enforcement.FINISHED_TTL else text


def duration_text(seconds: int) -> str:
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
