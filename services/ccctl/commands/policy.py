"""`ccctl policy test [-f RULES] --samples SAMPLES`: evaluate a compliance rule set against samples.

RULES is a ContactCenter document (its `spec.compliance`) or a bare compliance block
(`version`, `rules`); without `-f`, the rules applied to the region (`--region`, default
$CC_REGION) are read from the config plane. SAMPLES is a YAML or JSON list of sample contacts
(see `ccpolicy.samples`).
Prints one line per sample: ALLOW, or REFUSE with the rule's name and reason, and whether that is
what the sample expected. Exit 0 when every expectation holds, 1 when one does not, 2 when a
file is malformed (the problem is named, nothing is evaluated).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccmesh.configplane.compliance import ComplianceSettings
from ccmesh.configplane.contactcenter import ContactCenter
from ccmesh.configplane.store import ConfigStore, ConfigStoreError
from ccpolicy import RuleSet
from ccpolicy.samples import SampleError, parse_samples, run


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "policy", help="compliance rules", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="policy_command", required=True, metavar="POLICY_COMMAND")
    test = commands.add_parser("test", help="evaluate a rule set against sample contacts")
    test.add_argument(
        "-f", "--filename", type=Path, metavar="RULES", help="rule set file (default: the applied rules)"
    )
    test.add_argument("--samples", type=Path, required=True, metavar="FILE", help="sample contacts")
    test.add_argument(
        "--region",
        default=os.environ.get("CC_REGION", ""),
        help="whose applied rules to test without -f (default: $CC_REGION)",
    )
    add_nats_url_option(test)
    test.set_defaults(handler=run_test)


def _load(path: Path) -> Any:
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror or error}", EXIT_USAGE) from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise CommandError(f"{path}: not YAML or JSON: {error}", EXIT_USAGE) from None
    return documents


def rules_from(path: Path) -> RuleSet:
    documents = _load(path)
    compliance: Any = None
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "ContactCenter":
            compliance = (document.get("spec") or {}).get("compliance", {})
            break
    else:
        if len(documents) == 1 and isinstance(documents[0], dict) and "kind" not in documents[0]:
            compliance = documents[0]
    if compliance is None:
        raise CommandError(f"{path}: no ContactCenter document and no compliance block", EXIT_USAGE)
    try:
        return ComplianceSettings.model_validate(compliance).rule_set
    except ValidationError as error:
        problems = "; ".join(
            f"compliance.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise CommandError(f"{path}: {problems}", EXIT_USAGE) from None


async def applied_rules(url: str, region: str) -> RuleSet:
    """The compliance rules of the region's applied ContactCenter."""
    if not region:
        raise CommandError("name a rule set file (-f) or the region whose applied rules to test (--region)")
    async with connected(url) as nc:
        store = await ConfigStore.existing(nc.jetstream())
        try:
            document = await store.get("ContactCenter", region) if store is not None else None
        except ConfigStoreError as error:
            raise CommandError(str(error)) from None
    if not isinstance(document, ContactCenter):
        raise CommandError(f"no ContactCenter {region!r} is applied at {url}")
    return document.spec.compliance.rule_set


def run_test(args: argparse.Namespace) -> int:
    if args.filename is not None:
        rules = rules_from(args.filename)
    else:
        rules = asyncio.run(applied_rules(args.nats_url, args.region))
    documents = _load(args.samples)
    try:
        samples = parse_samples(documents[0] if len(documents) == 1 else documents)
    except SampleError as error:
        raise CommandError(f"{args.samples}: {error}", EXIT_USAGE) from None
    outcomes = run(rules, samples)
    width = max(len(o.sample.name) for o in outcomes)
    for outcome in outcomes:
        decision = outcome.decision
        verdict = "ALLOW" if decision.allowed else f"REFUSE by {decision.rule}: {decision.reason}"
        mark = "ok  " if outcome.as_expected else "FAIL"
        expected = ""
        if not outcome.as_expected:
            wanted = outcome.sample.expect or "any"
            rule = f" by {outcome.sample.expect_rule}" if outcome.sample.expect_rule else ""
            expected = f"  (expected {wanted}{rule})"
        print(f"{mark} {outcome.sample.name:<{width}}  {outcome.sample.action.value:<16} {verdict}{expected}")
    failed = sum(not o.as_expected for o in outcomes)
    print(f"{len(outcomes) - failed} of {len(outcomes)} sample(s) as expected")
    return 1 if failed else 0
