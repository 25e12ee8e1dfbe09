"""`ccctl ai batch`: re-run the tenant's AI pipeline over a period's finished contacts.

    ccctl ai batch acme --start 2026-03-01 --end 2026-04-01 [--time-zone Europe/Berlin] \\
        [--steps reclassify,summarise,tag,redact] [--job JOB] [--region eu]

The ai service of the region lists the period's contacts from its analytics store, runs each
customer message through the tenant's current pipeline (the intent model trained last), and
publishes a ContactReanalysed event per contact (intent, sentiment, summary, tags; never text).
The job works in slices; this command asks for one after another and draws a progress bar. It
is resumable: run the same command again (or pass the job id it printed) after an interruption
and it continues with the first contact not yet done. The service paces the job
(CC_BATCH_RATE_PER_SECOND, CC_BATCH_CONCURRENCY) so live traffic keeps its latency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any, TextIO

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccctl.commands.token import local_token
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub

#: Contacts per call: a slice returns within seconds at the default pace (5 per second), so the
#: bar moves and a kill loses little.
SLICE = 10
#: Deadline of one slice (the service paces the job, so a slice may take a while).
SLICE_TIMEOUT_SECONDS = 300.0
BAR_WIDTH = 30
#: Slices in a row refused because another call moved the job on, before giving up.
MAX_CONFLICTS = 10


def register(commands: Any) -> None:
    batch: argparse.ArgumentParser = commands.add_parser(
        "batch",
        help="re-analyse a period's contacts (re-classify, summarise, tag, redact); resumable",
        description=__doc__.split("\n\n")[0],
    )
    batch.add_argument("tenant", help="tenant id")
    batch.add_argument("--start", required=True, help="first day or instant (ISO 8601), included")
    batch.add_argument("--end", required=True, help="last day or instant (ISO 8601), excluded")
    batch.add_argument("--time-zone", default="UTC", help="IANA time zone of start and end (default UTC)")
    batch.add_argument(
        "--steps",
        default="",
        help="comma-separated: reclassify, summarise, tag, redact (default: all of them)",
    )
    batch.add_argument("--job", default="", help="job id (default: derived from tenant, period and steps)")
    batch.add_argument("--slice", type=int, default=SLICE, help=f"contacts per call (default {SLICE})")
    batch.add_argument("--quiet", action="store_true", help="no progress bar, only the final line")
    batch.add_argument(
        "--region", default=os.environ.get("CC_REGION", "local"), help="region whose contacts to process"
    )
    add_nats_url_option(batch)
    batch.set_defaults(handler=run_batch)


def request_of(options: argparse.Namespace) -> ai_pb2.ReanalyseContactsRequest:
    if options.slice < 1:
        raise CommandError(f"--slice: must be at least 1, not {options.slice}", EXIT_USAGE)
    steps = [s.strip() for s in options.steps.split(",") if s.strip()]
    return ai_pb2.ReanalyseContactsRequest(
        tenant_id=options.tenant,
        job_id=options.job,
        start=options.start,
        end=options.end,
        time_zone=options.time_zone,
        steps=steps,
        max_contacts=options.slice,
    )


def progress_bar(processed: int, total: int) -> str:
    share = processed / total if total else 1.0
    filled = round(share * BAR_WIDTH)
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {processed}/{total} {share:.0%}"


async def run_job(
    stub: Any, request: ai_pb2.ReanalyseContactsRequest, out: TextIO | None, retry_pause: float = 1.0
) -> ai_pb2.ReanalyseContactsResponse:
    """Ask for slices until the job is done, drawing the bar on `out` (None: no bar)."""
    conflicts = 0
    while True:
        try:
            reply: ai_pb2.ReanalyseContactsResponse = await stub.ReanalyseContacts(
                request, timeout=SLICE_TIMEOUT_SECONDS
            )
        except RpcError as err:
            # ABORTED: an ai instance still finishing a slice of this job (an earlier run was
            # killed) moved it on meanwhile; the next call continues from there.
            if err.code.name != "ABORTED" or conflicts >= MAX_CONFLICTS:
                raise
            conflicts += 1
            await asyncio.sleep(retry_pause)
            continue
        # Later slices name the job the service chose, so a changed default cannot fork it.
        request.job_id = reply.job_id
        if out is not None:
            out.write(f"\r{reply.job_id} {progress_bar(reply.processed, reply.total)}")
            out.flush()
        if reply.done:
            if out is not None:
                out.write("\n")
            return reply


def _token(tenant: str) -> str:
    return local_token(tenant, "supervisor", "ccctl-ai-batch", 3600)


async def _batch(options: argparse.Namespace) -> ai_pb2.ReanalyseContactsResponse:
    request = request_of(options)
    async with connected(options.nats_url) as nc:
        channel = MeshChannel(
            nc, options.region, token=_token(options.tenant), default_timeout=SLICE_TIMEOUT_SECONDS
        )
        try:
            return await run_job(
                mesh_stub(AiServiceStub, channel), request, None if options.quiet else sys.stderr
            )
        except RpcError as err:
            code = EXIT_USAGE if err.code.name == "INVALID_ARGUMENT" else 1
            raise CommandError(
                f"ai service in region {options.region}: {err.code.name}: {err.message}", code
            ) from None


def run_batch(options: argparse.Namespace) -> int:
    reply = asyncio.run(_batch(options))
    print(
        f"job {reply.job_id}: {reply.processed} of {reply.total} contacts re-analysed"
        f" ({reply.without_messages} without messages left on the stream,"
        f" {reply.refused_by_policy} kept from analysis by a compliance rule)"
    )
    return 0
