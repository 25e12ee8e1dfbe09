"""`ccctl ai`: train a tenant's intent model and load its knowledge base, over the mesh.

    ccctl ai train-intents acme examples.yaml --region eu
    ccctl ai kb-load acme articles.yaml --region eu [--replace]

The files are read and checked here first (errors name the file and the entry); the ai
service of the region then validates, trains or indexes, and stores them in the region.
The call carries an admin token for the tenant, minted with the platform's auth secret
($CC_AUTH_SECRET or .data/auth-secret).

Training file (YAML or JSON)::

    intents:
      order_status: [where is my order, dónde está mi pedido]
      refund: [I want my money back]

Knowledge-base file::

    articles:
      - {id: returns, title: Returns, language: en, body: "You can return ..."}
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

import yaml

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccctl.commands.token import load_secret
from ccmesh.auth import TokenAuthority
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub

#: Training embeds every example with the sentence encoder: a CLINC150-size set (15,000
#: examples) takes about two minutes on a busy replica.
TIMEOUT_SECONDS = 600.0


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ai", help="train intent models and load knowledge bases", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="ai_command", required=True, metavar="AI_COMMAND")
    train = commands.add_parser("train-intents", help="train the tenant's intent model from a YAML file")
    train.add_argument("tenant", help="tenant id")
    train.add_argument("file", type=Path, help="YAML/JSON with `intents: {name: [examples...]}`")
    train.add_argument(
        "--threshold", type=float, default=None, help="out-of-scope threshold (default: the service's)"
    )
    train.set_defaults(handler=run_train)
    kb = commands.add_parser("kb-load", help="load knowledge-base articles for the tenant")
    kb.add_argument("tenant", help="tenant id")
    kb.add_argument("file", type=Path, help="YAML/JSON with `articles: [{id, title, body, language}]`")
    kb.add_argument("--replace", action="store_true", help="replace the whole knowledge base")
    kb.set_defaults(handler=run_kb_load)
    for sub in (train, kb):
        sub.add_argument(
            "--region",
            default=os.environ.get("CC_REGION", "eu"),
            help="region whose ai service to call (default: $CC_REGION, else %(default)s)",
        )
        add_nats_url_option(sub)


def _read(path: Path, key: str) -> Any:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise CommandError(f"{path}: cannot read: {err.strerror}", EXIT_USAGE) from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise CommandError(f"{path}: not valid YAML/JSON: {err}", EXIT_USAGE) from None
    if not isinstance(document, dict) or key not in document:
        raise CommandError(f"{path}: expected a mapping with a top-level `{key}` key", EXIT_USAGE)
    return document[key]


def training_request(tenant: str, path: Path, threshold: float | None) -> ai_pb2.TrainIntentsRequest:
    intents = _read(path, "intents")
    if not isinstance(intents, dict) or not intents:
        raise CommandError(f"{path}: `intents` must map intent names to lists of examples", EXIT_USAGE)
    request = ai_pb2.TrainIntentsRequest(tenant_id=tenant)
    for name, examples in intents.items():
        if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
            raise CommandError(f"{path}: intent {name!r}: examples must be a list of strings", EXIT_USAGE)
        request.intents.append(ai_pb2.IntentExamples(intent=str(name), examples=examples))
    if threshold is not None:
        request.out_of_scope_threshold = threshold
    return request


def knowledge_request(tenant: str, path: Path, replace: bool) -> ai_pb2.LoadKnowledgeRequest:
    articles = _read(path, "articles")
    if not isinstance(articles, list) or not articles:
        raise CommandError(f"{path}: `articles` must be a non-empty list", EXIT_USAGE)
    request = ai_pb2.LoadKnowledgeRequest(tenant_id=tenant, replace=replace)
    for index, article in enumerate(articles, start=1):
        if not isinstance(article, dict) or not {"id", "body"} <= set(article):
            raise CommandError(f"{path}: article {index}: needs at least `id` and `body`", EXIT_USAGE)
        request.articles.append(
            ai_pb2.Article(
                article_id=str(article["id"]),
                title=str(article.get("title", "")),
                body=str(article["body"]),
                language=str(article.get("language", "")),
            )
        )
    return request


def _token(tenant: str) -> str:
    secret = load_secret()
    if secret is None:
        raise CommandError(
            "no auth secret: set CC_AUTH_SECRET or run `make run` once to create .data/auth-secret"
        )
    try:
        return TokenAuthority(secret).mint(tenant, "admin", "ccctl-ai", 600)
    except ValueError as err:
        raise CommandError(f"cannot mint a token: {err}", EXIT_USAGE) from None


async def _call(options: argparse.Namespace, method: str, request: Any) -> Any:
    async with connected(options.nats_url) as nc:
        channel = MeshChannel(
            nc, options.region, token=_token(options.tenant), default_timeout=TIMEOUT_SECONDS
        )
        ai = mesh_stub(AiServiceStub, channel)
        try:
            return await getattr(ai, method)(request)
        except RpcError as err:
            raise CommandError(
                f"ai service in region {options.region}: {err.code.name}: {err.message}"
            ) from None


def run_train(options: argparse.Namespace) -> int:
    request = training_request(options.tenant, options.file, options.threshold)
    reply = asyncio.run(_call(options, "TrainIntents", request))
    for warning in reply.warnings:
        print(f"warning: {warning}")
    print(
        f"intent model {reply.version} for {options.tenant}: "
        f"{reply.intents} intents, {reply.examples} examples"
    )
    return 0


def run_kb_load(options: argparse.Namespace) -> int:
    request = knowledge_request(options.tenant, options.file, options.replace)
    reply = asyncio.run(_call(options, "LoadKnowledge", request))
    print(f"knowledge base of {options.tenant}: {reply.loaded} article(s) loaded, {reply.total} in total")
    return 0
