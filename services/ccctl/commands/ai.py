"""`ccctl ai`: train a tenant's intent model and load its knowledge base, over the mesh.

    ccctl ai train-intents acme examples.yaml --region eu
    ccctl ai kb-load acme articles.yaml --region eu [--replace]
    ccctl ai speech-phrases acme phrases.yaml --region eu

The files are read and checked here first (errors name the file and the line); the ai
service of the region then validates, trains or indexes, and stores them in the region.
The call carries an admin token for the tenant, minted with the platform's auth secret
($CC_AUTH_SECRET or .data/auth-secret).

Intent names are checked with the rule the service applies (`ccmesh.intent_labels`): blanks
become `_`, and a name with anything but letters, digits, `_` and `-` is refused, naming its
line. The training set is then uploaded to the region's training object store (a real-size
set does not fit in one request), the service trains it in a worker process while this
command shows its progress, and prints the validation report: the out-of-scope threshold
chosen for `--target-recall` on held-out intents, the accuracy and recall there, the weakest
intents and the most-confused pairs.

Training file (YAML or JSON)::

    intents:
      order_status: [where is my order, dónde está mi pedido]
      refund: [I want my money back]

Knowledge-base file::

    articles:
      - {id: returns, title: Returns, language: en, body: "You can return ..."}

Speech phrase list (what the tenant's callers say most; with the intents' examples and the
knowledge base it makes the tenant's speech language model, from the next call on)::

    phrases: [where is my order, i want to speak to a manager]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from nats.aio.msg import Msg
from nats.js.errors import BucketNotFoundError, NotFoundError

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, ai_batch, connected
from ccctl.commands.token import local_token
from ccmesh.intent_labels import (
    IntentLabelError,
    check_example,
    normalise_intent_name,
    pack_training_set,
    upload_object,
)
from ccmesh.naming import ai_training_bucket, ai_training_progress_subject
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub

#: Training embeds every example with the sentence encoder: a CLINC150-size set (15,000
#: examples) takes about two minutes on a busy replica.
TIMEOUT_SECONDS = 600.0
#: A 100,000-example set with the sentence encoder takes far longer: the default wait of
#: `train-intents` (--timeout).
TRAINING_TIMEOUT_SECONDS = 3600.0


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ai", help="train intent models and load knowledge bases", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="ai_command", required=True, metavar="AI_COMMAND")
    train = commands.add_parser("train-intents", help="train the tenant's intent model from a YAML file")
    train.add_argument("tenant", help="tenant id")
    train.add_argument("file", type=Path, help="YAML/JSON with `intents: {name: [examples...]}`")
    train.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="out-of-scope threshold (default: chosen by validation for --target-recall)",
    )
    train.add_argument(
        "--target-recall",
        type=float,
        default=None,
        help="out-of-scope recall (0-1) on held-out intents the threshold is chosen for "
        "(default: the service's)",
    )
    train.add_argument(
        "--timeout",
        type=float,
        default=TRAINING_TIMEOUT_SECONDS,
        help="seconds to wait for the training (default: %(default)s)",
    )
    train.set_defaults(handler=run_train)
    kb = commands.add_parser("kb-load", help="load knowledge-base articles for the tenant")
    kb.add_argument("tenant", help="tenant id")
    kb.add_argument("file", type=Path, help="YAML/JSON with `articles: [{id, title, body, language}]`")
    kb.add_argument("--replace", action="store_true", help="replace the whole knowledge base")
    kb.set_defaults(handler=run_kb_load)
    phrases = commands.add_parser("speech-phrases", help="set the tenant's speech phrase list")
    phrases.add_argument("tenant", help="tenant id")
    phrases.add_argument("file", type=Path, help="YAML/JSON with `phrases: [...]` (an empty list clears it)")
    phrases.set_defaults(handler=run_speech_phrases)
    ai_batch.register(commands)
    for sub in (train, kb, phrases):
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


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def read_training_set(path: Path) -> dict[str, list[str]]:
    """The file's training set, intent names normalised; `CommandError` naming the file's line
    of the first name or example the service would refuse."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CommandError(f"{path}: cannot read: {err.strerror}", EXIT_USAGE) from None
    except UnicodeDecodeError as err:
        raise CommandError(f"{path}: not valid YAML/JSON: {err}", EXIT_USAGE) from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as err:
        raise CommandError(f"{path}: not valid YAML/JSON: {err}", EXIT_USAGE) from None
    intents = None
    if isinstance(document, yaml.MappingNode):
        intents = next((v for k, v in document.value if k.value == "intents"), None)
    if intents is None:
        raise CommandError(f"{path}: expected a mapping with a top-level `intents` key", EXIT_USAGE)
    if not isinstance(intents, yaml.MappingNode) or not intents.value:
        raise CommandError(
            f"{path}:{_line(intents)}: `intents` must map intent names to lists of examples", EXIT_USAGE
        )
    examples: dict[str, list[str]] = {}
    for key, value in intents.value:
        where = f"{path}:{_line(key)}"
        if not isinstance(key, yaml.ScalarNode):
            raise CommandError(f"{where}: an intent name must be text", EXIT_USAGE)
        try:
            name = normalise_intent_name(key.value)
        except IntentLabelError as err:
            raise CommandError(f"{where}: {err}", EXIT_USAGE) from None
        if not isinstance(value, yaml.SequenceNode) or not all(
            isinstance(item, yaml.ScalarNode) for item in value.value
        ):
            raise CommandError(
                f"{where}: intent {key.value!r}: examples must be a list of strings", EXIT_USAGE
            )
        kept = examples.setdefault(name, [])
        for item in value.value:
            try:
                usable = check_example(item.value)
            except IntentLabelError as err:
                raise CommandError(f"{path}:{_line(item)}: intent {name!r}: {err}", EXIT_USAGE) from None
            if usable is not None:
                kept.append(usable)
    return examples


def training_request(tenant: str, path: Path, threshold: float | None) -> ai_pb2.TrainIntentsRequest:
    """The training set inside the request: for small sets (a demo's), checked as `read_training_set`."""
    request = ai_pb2.TrainIntentsRequest(tenant_id=tenant)
    for name, examples in read_training_set(path).items():
        request.intents.append(ai_pb2.IntentExamples(intent=name, examples=examples))
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
    return local_token(tenant, "admin", "ccctl-ai", 600)


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


def _progress_printer() -> Callable[[Msg], Awaitable[None]]:
    """Prints a training's progress: each new stage, then about every tenth of it."""
    last: list[tuple[str, int]] = [("", -1)]

    async def show(msg: Msg) -> None:
        progress = ai_pb2.TrainingProgress.FromString(msg.data)
        tenth = progress.done * 10 // progress.total if progress.total > 1 else 0
        if (progress.stage, tenth) == last[0]:
            return
        last[0] = (progress.stage, tenth)
        shown = f" {progress.done}/{progress.total}" if progress.total > 1 else ""
        print(f"training: {progress.stage}{shown}", flush=True)

    return show


async def _upload_and_train(options: argparse.Namespace, examples: dict[str, list[str]]) -> Any:
    job = uuid.uuid4().hex
    request = ai_pb2.TrainIntentsRequest(tenant_id=options.tenant, upload_job=job)
    if options.threshold is not None:
        request.out_of_scope_threshold = options.threshold
    if options.target_recall is not None:
        request.target_out_of_scope_recall = options.target_recall
    async with connected(options.nats_url) as nc:
        try:
            store = await nc.jetstream().object_store(ai_training_bucket(options.region))
        except (BucketNotFoundError, NotFoundError):
            raise CommandError(
                f"region {options.region} has no intent training store: is its ai service running?"
            ) from None
        name = upload_object(options.tenant, job)
        await store.put(name, pack_training_set(examples))
        print(f"uploaded {sum(map(len, examples.values()))} examples of {len(examples)} intents", flush=True)
        progress = await nc.subscribe(
            ai_training_progress_subject(options.region, job), cb=_progress_printer()
        )
        channel = MeshChannel(
            nc, options.region, token=_token(options.tenant), default_timeout=options.timeout
        )
        try:
            return await mesh_stub(AiServiceStub, channel).TrainIntents(request)
        except RpcError as err:
            raise CommandError(
                f"ai service in region {options.region}: {err.code.name}: {err.message}"
            ) from None
        finally:
            await progress.unsubscribe()
            # The service deletes it once read; not when the call failed before that.
            with contextlib.suppress(NotFoundError):
                await store.delete(name)


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def print_training_report(tenant: str, reply: ai_pb2.TrainIntentsResponse) -> None:
    for warning in reply.warnings:
        print(f"warning: {warning}")
    print(f"intent model {reply.version} for {tenant}: {reply.intents} intents, {reply.examples} examples")
    validation = reply.validation
    if not validation.calibrated:
        print(f"out-of-scope threshold {reply.out_of_scope_threshold:.3f}; not validated: {validation.note}")
    else:
        print(
            f"out-of-scope threshold {reply.out_of_scope_threshold:.3f} "
            f"(target out-of-scope recall {_percent(validation.target_out_of_scope_recall)})"
        )
        print(
            f"validation on {validation.in_scope_examples} held-back examples and "
            f"{validation.out_of_scope_examples} examples of held-out intents: "
            f"accuracy {_percent(validation.accuracy)}, "
            f"out-of-scope recall {_percent(validation.out_of_scope_recall)}"
        )
        if validation.weakest:
            weakest = ", ".join(
                f"{w.intent} {_percent(w.accuracy)} of {w.examples}" for w in validation.weakest
            )
            print(f"weakest intents: {weakest}")
        if validation.confused:
            confused = ", ".join(f"{c.intent} -> {c.taken_for} ({c.times})" for c in validation.confused)
            print(f"most confused: {confused}")
    print(
        f"trained in {reply.training_seconds:.1f} s, "
        f"peak memory {reply.peak_memory_bytes / (1024 * 1024):.0f} MiB"
    )


def run_train(options: argparse.Namespace) -> int:
    examples = read_training_set(options.file)
    if not examples:
        raise CommandError(f"{options.file}: no intents", EXIT_USAGE)
    reply = asyncio.run(_upload_and_train(options, examples))
    print_training_report(options.tenant, reply)
    return 0


def run_kb_load(options: argparse.Namespace) -> int:
    request = knowledge_request(options.tenant, options.file, options.replace)
    reply = asyncio.run(_call(options, "LoadKnowledge", request))
    print(f"knowledge base of {options.tenant}: {reply.loaded} article(s) loaded, {reply.total} in total")
    return 0


def phrases_request(tenant: str, path: Path) -> ai_pb2.SetSpeechPhrasesRequest:
    phrases = _read(path, "phrases")
    if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
        raise CommandError(f"{path}: `phrases` must be a list of texts", EXIT_USAGE)
    return ai_pb2.SetSpeechPhrasesRequest(tenant_id=tenant, phrases=phrases)


def run_speech_phrases(options: argparse.Namespace) -> int:
    reply = asyncio.run(_call(options, "SetSpeechPhrases", phrases_request(options.tenant, options.file)))
    print(f"speech phrases of {options.tenant}: {reply.phrases} kept, used from the next call on")
    return 0
