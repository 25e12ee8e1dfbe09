"""`ccctl flow`: flows as code: render, test, diff, publish and alias.

    ccctl flow render examples/flows/support --flow support --region eu --brand acme-bank
    ccctl flow test examples/flows/support examples/flows/scenarios/*.yaml
    ccctl flow diff examples/flows/support other/support --region eu          # two trees
    ccctl flow diff v3 v4 --flow support --tenant acme                         # published versions
    ccctl flow publish examples/flows/support --flow support --tenant acme [--alias live]
    ccctl flow alias live 4 --flow support --tenant acme [--canary-version 5 --canary-percent 10]
    ccctl flow policy apply examples/flows/policies/surge.yaml --tenant acme  # into running journeys
    ccctl flow policy remove surge --tenant acme

render/test/diff of files need no server; publish, alias and diff of versions call the
routing service (token minted from CC_AUTH_SECRET or .data/auth-secret).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import re
import sys
import time
from pathlib import Path
from typing import Any

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccctl.commands.token import local_token
from ccflow.diff import diff_flows, to_yaml
from ccflow.errors import FlowError
from ccflow.loader import Bundle, bundle_from_sources, load_paths, read_sources
from ccflow.overlays import render, validate_bundle
from ccflow.simulator import Simulator, load_scenarios
from ccmesh import channels
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

_VERSION_REF = re.compile(r"^v?([0-9]+)$")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("flow", help="render, test, diff, publish and alias journey flows")
    actions = parser.add_subparsers(dest="flow_command", required=True, metavar="ACTION")

    def context_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--flow", default="", help="flow name (default: the only Flow in the files)")
        sub.add_argument("--region", default=None, help="context: region (selects overlays)")
        sub.add_argument("--brand", default=None, help="context: brand")
        sub.add_argument(
            "--channel",
            default=None,
            type=_channel_name,
            help=f"context: channel ({', '.join(channels.NAMES)})",
        )
        sub.add_argument("--language", default=None, help="context: language")

    def remote_options(sub: argparse.ArgumentParser) -> None:
        add_nats_url_option(sub)
        sub.add_argument("--tenant", default="", help="tenant that owns the flow")
        sub.add_argument(
            "--mesh-region", default="local", help="region of the routing service (default local)"
        )

    render_parser = actions.add_parser("render", help="print the effective flow for a context")
    render_parser.add_argument("paths", nargs="+", type=Path, help="flow files or folders")
    context_options(render_parser)
    render_parser.add_argument("--diff", action="store_true", help="print what the overlays change instead")
    render_parser.set_defaults(handler=run_render)

    test_parser = actions.add_parser("test", help="run scenario files through the flows (exit 1 on failure)")
    test_parser.add_argument("flow_path", type=Path, help="flow files folder (or one file)")
    test_parser.add_argument("scenarios", nargs="+", type=Path, help="FlowScenarios files")
    test_parser.add_argument("-q", "--quiet", action="store_true", help="print failures and the summary only")
    test_parser.set_defaults(handler=run_test)

    diff_parser = actions.add_parser("diff", help="what changed between two flow trees or published versions")
    diff_parser.add_argument("old", help="folder/file, or a published version (v3)")
    diff_parser.add_argument("new", help="folder/file, or a published version (v4)")
    context_options(diff_parser)
    remote_options(diff_parser)
    diff_parser.set_defaults(handler=run_diff)

    publish_parser = actions.add_parser("publish", help="validate and publish a new immutable version")
    publish_parser.add_argument("paths", nargs="+", type=Path, help="flow files or folders")
    publish_parser.add_argument("--flow", default="", help="flow name (default: the only Flow in the files)")
    publish_parser.add_argument("--alias", default="", help="then point this alias at the version")
    remote_options(publish_parser)
    publish_parser.set_defaults(handler=run_publish)

    alias_parser = actions.add_parser("alias", help="point an alias at a version (rollback: point it back)")
    alias_parser.add_argument("alias", help="alias name, e.g. live or canary")
    alias_parser.add_argument("version", type=int, help="version number")
    alias_parser.add_argument("--flow", required=True, help="flow name")
    alias_parser.add_argument(
        "--canary-version", type=int, default=0, help="version taking a share of contacts"
    )
    alias_parser.add_argument(
        "--canary-percent", type=float, default=0.0, help="share of new contacts, 0..100"
    )
    remote_options(alias_parser)
    alias_parser.set_defaults(handler=run_alias)

    policy_parser = actions.add_parser("policy", help="apply or remove a run-time FlowPolicy")
    policy_parser.add_argument("policy_action", choices=("apply", "remove"))
    policy_parser.add_argument("target", help="FlowPolicy file (apply) or policy name (remove)")
    remote_options(policy_parser)
    policy_parser.set_defaults(handler=run_policy)


def _load(paths: list[Path]) -> Bundle:
    try:
        bundle = load_paths(paths)
        validate_bundle(bundle)
    except FlowError as error:
        raise CommandError("invalid flow:\n  " + "\n  ".join(str(p) for p in error.problems)) from None
    return bundle


def _flow_name(bundle: Bundle, wanted: str) -> str:
    if wanted:
        if wanted not in bundle.flows:
            raise CommandError(f"no flow named {wanted!r}; flows: {sorted(bundle.flows)}", EXIT_USAGE)
        return wanted
    if len(bundle.flows) != 1:
        raise CommandError(f"several flows {sorted(bundle.flows)}: choose one with --flow", EXIT_USAGE)
    return next(iter(bundle.flows))


def _channel_name(value: str) -> str:
    try:
        return channels.parse(value, "--channel").value
    except channels.UnknownChannelError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _context(options: argparse.Namespace) -> dict[str, str | None]:
    return {k: getattr(options, k) for k in ("region", "brand", "channel", "language")}


def run_render(options: argparse.Namespace) -> int:
    bundle = _load(options.paths)
    name = _flow_name(bundle, options.flow)
    flow, applied = render(bundle, name, _context(options))
    if options.diff:
        print(f"# overlays applied: {', '.join(applied) or 'none'}")
        for line in diff_flows(bundle.flow(name), flow):
            print(line)
        return 0
    print(f"# effective flow {name!r}; overlays applied: {', '.join(applied) or 'none'}")
    print(to_yaml(flow), end="")
    return 0


def run_test(options: argparse.Namespace) -> int:
    bundle = _load([options.flow_path])
    simulator = Simulator(bundle)
    total = failed = 0
    started = time.perf_counter()
    for path in options.scenarios:
        try:
            scenarios = load_scenarios(path.read_text(encoding="utf-8"), str(path))
        except OSError as error:
            raise CommandError(f"{path}: cannot read: {error.strerror}") from None
        except FlowError as error:
            raise CommandError(
                "invalid scenario file:\n  " + "\n  ".join(str(p) for p in error.problems)
            ) from None
        if scenarios.flow not in bundle.flows:
            raise CommandError(f"{path}: flow {scenarios.flow!r} is not in {options.flow_path}")
        for result in simulator.run(scenarios):
            total += 1
            if result.passed:
                if not options.quiet:
                    print(f"PASS {path.name}: {result.name}")
            else:
                failed += 1
                print(f"FAIL {path.name}: {result.name}")
                for failure in result.failures:
                    print(f"     {failure}")
    elapsed = time.perf_counter() - started
    print(f"{total - failed} passed, {failed} failed ({total} scenarios in {elapsed:.3f}s)")
    return 1 if failed else 0


async def _call(options: argparse.Namespace, method: str, request: Any) -> Any:
    if not options.tenant:
        raise CommandError("--tenant is required to talk to the routing service", EXIT_USAGE)
    token = local_token(options.tenant, "admin", "ccctl-flow")
    async with connected(options.nats_url) as nc:
        stub = mesh_stub(
            RoutingServiceStub, MeshChannel(nc, options.mesh_region, token=token, default_timeout=10)
        )
        try:
            return await getattr(stub, method)(request)
        except RpcError as error:
            raise CommandError(f"{method}: {error.code.name}: {error.message}") from None


def _remote_bundle(options: argparse.Namespace, version: int) -> Bundle:
    request = routing_pb2.GetFlowVersionRequest(tenant_id=options.tenant, flow=options.flow, version=version)
    reply = asyncio.run(_call(options, "GetFlowVersion", request))
    return bundle_from_sources([(f"v{version}:{f.name}", f.content) for f in reply.files])


def _side(options: argparse.Namespace, ref: str) -> tuple[Bundle, str]:
    match = _VERSION_REF.match(ref)
    if match and not Path(ref).exists():
        if not options.flow:
            raise CommandError("--flow is required to diff published versions", EXIT_USAGE)
        return _remote_bundle(options, int(match.group(1))), f"v{match.group(1)}"
    return _load([Path(ref)]), ref


def run_diff(options: argparse.Namespace) -> int:
    old_bundle, old_label = _side(options, options.old)
    new_bundle, new_label = _side(options, options.new)
    name = _flow_name(old_bundle, options.flow)
    context = _context(options)
    old_flow, _ = render(old_bundle, name, context)
    new_flow, _ = render(new_bundle, _flow_name(new_bundle, name), context)
    lines = diff_flows(old_flow, new_flow)
    print(f"# {name}: {old_label} -> {new_label}; context { ({k: v for k, v in context.items() if v}) }")
    for line in lines:
        print(line)
    if lines:
        print("# rendered YAML:")
        sys.stdout.writelines(
            difflib.unified_diff(
                to_yaml(old_flow).splitlines(keepends=True),
                to_yaml(new_flow).splitlines(keepends=True),
                fromfile=old_label,
                tofile=new_label,
            )
        )
    else:
        print("# no changes")
    return 0


def run_publish(options: argparse.Namespace) -> int:
    try:
        sources = read_sources(options.paths)
    except FlowError as error:
        raise CommandError(str(error)) from None
    name = options.flow or _flow_name(_load(options.paths), "")
    request = routing_pb2.PublishFlowRequest(
        tenant_id=options.tenant,
        flow=name,
        files=[routing_pb2.FlowSourceFile(name=file, content=text) for file, text in sources],
    )
    reply = asyncio.run(_call(options, "PublishFlow", request))
    state = "published" if reply.created else "unchanged (identical sources)"
    print(f"flow {name} version {reply.version} {state}")
    if options.alias:
        alias_request = routing_pb2.SetFlowAliasRequest(
            tenant_id=options.tenant, flow=name, alias=options.alias, version=reply.version
        )
        asyncio.run(_call(options, "SetFlowAlias", alias_request))
        print(f"alias {options.alias} -> version {reply.version}")
    return 0


def run_alias(options: argparse.Namespace) -> int:
    request = routing_pb2.SetFlowAliasRequest(
        tenant_id=options.tenant,
        flow=options.flow,
        alias=options.alias,
        version=options.version,
        canary_version=options.canary_version,
        canary_percent=options.canary_percent,
    )
    reply = asyncio.run(_call(options, "SetFlowAlias", request))
    alias = reply.alias
    canary = f" (canary v{alias.canary_version} at {alias.canary_percent:g}%)" if alias.canary_version else ""
    print(f"alias {alias.alias} -> version {alias.version}{canary}")
    return 0


def run_policy(options: argparse.Namespace) -> int:
    if options.policy_action == "remove":
        remove = routing_pb2.RemoveFlowPolicyRequest(tenant_id=options.tenant, name=options.target)
        removed = asyncio.run(_call(options, "RemoveFlowPolicy", remove))
        state = "removed" if removed.removed else "was not in force"
        print(f"policy {options.target} {state}; in force: {', '.join(removed.active) or 'none'}")
        return 0
    path = Path(options.target)
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"{path}: cannot read: {error.strerror}") from None
    apply = routing_pb2.ApplyFlowPolicyRequest(
        tenant_id=options.tenant, file=routing_pb2.FlowSourceFile(name=str(path), content=content)
    )
    applied = asyncio.run(_call(options, "ApplyFlowPolicy", apply))
    print(f"policy {applied.name} in force; in force: {', '.join(applied.active)}")
    return 0
