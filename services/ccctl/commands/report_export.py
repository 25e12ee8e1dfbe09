"""`ccctl report export`: a period's contacts from the region's analytics store, as CSV or Parquet.

    ccctl report export --tenant acme --from 2026-03-29 --to 2026-03-30 --format parquet \\
        --file contacts.parquet [--time-zone Europe/Berlin] [--region eu]

The integration service of `--region` reads its own store (ExportContacts, a page at a time):
the rows come from the region that holds them, and only from it. Rows are PII-minimised (no
customer id). Instants are Unix seconds (0: never); `sentiment` is empty where none was measured.
CSV goes to standard output without `--file`; Parquet needs a file.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
from collections.abc import AsyncIterator, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from google.protobuf.descriptor import FieldDescriptor

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccctl.commands.token import local_token
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub

_FIELDS = integration_pb2.ExportedContact.DESCRIPTOR.fields
#: The columns, in the message's order.
COLUMNS = [field.name for field in _FIELDS]

if TYPE_CHECKING:
    import pyarrow as pa


@cache
def arrow_schema() -> pa.Schema:
    # pyarrow loads only for a Parquet export: every other ccctl command starts without it.
    import pyarrow as pa

    types = {
        FieldDescriptor.TYPE_STRING: pa.string(),
        FieldDescriptor.TYPE_DOUBLE: pa.float64(),
        FieldDescriptor.TYPE_UINT32: pa.uint32(),
        FieldDescriptor.TYPE_BOOL: pa.bool_(),
    }
    return pa.schema([(field.name, types[field.type]) for field in _FIELDS])


def register(actions: Any) -> None:
    parser: argparse.ArgumentParser = actions.add_parser(
        "export", help="a period's contacts (PII-minimised) as CSV or Parquet"
    )
    parser.add_argument("--tenant", required=True, help="tenant id")
    parser.add_argument(
        "--from", "--start", dest="start", required=True, help="first day or instant, included"
    )
    parser.add_argument("--to", "--end", dest="end", required=True, help="last day or instant, excluded")
    parser.add_argument("--time-zone", default="UTC", help="IANA time zone of dates without an offset")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--file", type=Path, help="write here (default for CSV: standard output)")
    parser.add_argument("--page-size", type=int, default=0, help="contacts per request (default 5000)")
    parser.add_argument(
        "--region", default=os.environ.get("CC_REGION", "local"), help="region whose store to export"
    )
    add_nats_url_option(parser)
    parser.set_defaults(handler=run)


def record(contact: integration_pb2.ExportedContact) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(contact, name) for name in COLUMNS}
    if not contact.HasField("sentiment"):
        row["sentiment"] = None
    return row


async def pages(args: argparse.Namespace) -> AsyncIterator[list[dict[str, Any]]]:
    token = local_token(args.tenant, "supervisor", "ccctl", 900)
    request = integration_pb2.ExportContactsRequest(
        tenant_id=args.tenant,
        start=args.start,
        end=args.end,
        time_zone=args.time_zone,
        page_size=args.page_size,
    )
    async with connected(args.nats_url) as nc:
        stub = mesh_stub(
            IntegrationServiceStub, MeshChannel(nc, args.region, token=token, default_timeout=60.0)
        )
        while True:
            try:
                reply: integration_pb2.ExportContactsResponse = await stub.ExportContacts(request)
            except RpcError as error:
                code = EXIT_USAGE if error.code.name == "INVALID_ARGUMENT" else 1
                raise CommandError(f"{error.code.name}: {error.message}", code) from None
            yield [record(contact) for contact in reply.contacts]
            if not reply.next_page_token:
                return
            request.page_token = reply.next_page_token


class CsvSink:
    def __init__(self, out: TextIO) -> None:
        self._writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        self._writer.writeheader()

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self._writer.writerows(rows)

    def close(self) -> None:
        pass


class ParquetSink:
    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(path, arrow_schema())

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        import pyarrow as pa

        if rows:
            self._writer.write_table(pa.Table.from_pylist(list(rows), schema=arrow_schema()))

    def close(self) -> None:
        self._writer.close()  # an export of no contacts is still a file with the columns


async def export(args: argparse.Namespace, out: TextIO) -> int:
    if args.page_size < 0:
        raise CommandError("--page-size: must not be negative", EXIT_USAGE)
    if args.format == "parquet" and args.file is None:
        raise CommandError("--file: required for --format parquet", EXIT_USAGE)
    # Written to a neighbour and renamed at the end: a failed export leaves no half a file.
    partial = args.file.with_name(args.file.name + ".partial") if args.file else None
    handle = partial.open("w", newline="", encoding="utf-8") if partial and args.format == "csv" else None
    sink: CsvSink | ParquetSink
    if args.format == "parquet":
        assert partial is not None
        sink = ParquetSink(partial)
    else:
        sink = CsvSink(handle or out)
    count = 0
    try:
        async for rows in pages(args):
            sink.write(rows)
            count += len(rows)
        sink.close()
    except BaseException:
        if handle:
            handle.close()
        if partial:
            partial.unlink(missing_ok=True)
        raise
    if handle:
        handle.close()
    if partial and args.file:
        partial.replace(args.file)
    return count


def run(args: argparse.Namespace) -> int:
    count = asyncio.run(export(args, sys.stdout))
    where = str(args.file) if args.file else "standard output"
    print(f"exported {count} contact{'' if count == 1 else 's'} to {where}", file=sys.stderr)
    return 0
