"""Read flow documents from YAML (or JSON) with errors naming the file, the node and the problem.

    bundle = load_paths([Path("examples/flows")])   # every *.yaml / *.yml / *.json below
    flow = bundle.flow("support")

A `Bundle` is what gets published: the catalog, base flows, overlays and policies, each with
the file it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ccflow.errors import FlowError, Problem, fail
from ccflow.model import DOCUMENT_KINDS, Document, Flow, FlowCatalog, FlowOverlay, FlowPolicy

SUFFIXES = (".yaml", ".yml", ".json")
#: Documents that live next to flows but are not part of a bundle (read by the simulator).
IGNORED_KINDS = frozenset({"FlowScenarios"})


@dataclass(frozen=True)
class Sourced:
    file: str
    document: Document


@dataclass
class Bundle:
    catalog: FlowCatalog | None = None
    catalog_file: str = ""
    flows: dict[str, Sourced] = field(default_factory=dict)
    overlays: list[Sourced] = field(default_factory=list)
    policies: list[Sourced] = field(default_factory=list)

    def flow(self, name: str) -> Flow:
        sourced = self.flows.get(name)
        if sourced is None:
            raise fail("", "", f"no flow named {name!r}; flows: {sorted(self.flows)}")
        assert isinstance(sourced.document, Flow)
        return sourced.document

    def file_of(self, flow_name: str) -> str:
        sourced = self.flows.get(flow_name)
        return sourced.file if sourced else ""

    def overlays_of(self, flow_name: str) -> list[tuple[str, FlowOverlay]]:
        found = []
        for sourced in self.overlays:
            overlay = sourced.document
            assert isinstance(overlay, FlowOverlay)
            if overlay.spec.flow == flow_name:
                found.append((sourced.file, overlay))
        return found

    def policy_documents(self) -> list[FlowPolicy]:
        return [s.document for s in self.policies if isinstance(s.document, FlowPolicy)]


def _node_of(raw: Any, loc: Sequence[int | str]) -> tuple[str, str]:
    """(id of the node a pydantic error location points into, the field path inside it)."""
    current: Any = raw
    node = ""
    path = ""
    previous: int | str | None = None
    for key in loc:
        found = (isinstance(current, dict) and key in current) or (
            isinstance(current, list) and isinstance(key, int) and key < len(current)
        )
        current = current[key] if found else None
        if previous == "nodes" and isinstance(current, dict):
            node, path = str(current.get("id", f"#{key}")), ""
        elif isinstance(key, int):
            path += f"[{key}]"
        else:
            path += f".{key}" if path else key
        previous = key
    return node, path


def parse_document(raw: Any, file: str) -> Document:
    if not isinstance(raw, dict):
        raise fail(file, "", f"a document must be a mapping, got {type(raw).__name__}")
    kind = raw.get("kind")
    model = DOCUMENT_KINDS.get(str(kind))
    if model is None:
        raise fail(file, "", f"unknown kind {kind!r}; expected one of {sorted(DOCUMENT_KINDS)}")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            loc = [part for part in item["loc"] if not _is_union_tag(part)]
            node, path = _node_of(raw, loc)
            problems.append(Problem(file, node, f"{path}: {item['msg']}" if path else item["msg"]))
        raise FlowError(problems) from None


def _is_union_tag(part: int | str) -> bool:
    # Discriminated unions add the tag ("collect", "queue"...) to the error location.
    return isinstance(part, str) and part in _NODE_KINDS


_NODE_KINDS = frozenset(
    {
        "condition",
        "set",
        "message",
        "collect",
        "ai",
        "integration",
        "parallel",
        "priority",
        "queue",
        "transfer-flow",
        "callback",
        "end",
        "point",
    }
)


def parse_text(text: str, file: str) -> list[Document]:
    try:
        raws = [raw for raw in yaml.safe_load_all(text) if raw is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise fail(file, "", f"{where}not valid YAML/JSON: {getattr(error, 'problem', error)}") from None
    documents = []
    problems: list[Problem] = []
    for raw in raws:
        if isinstance(raw, dict) and raw.get("kind") in IGNORED_KINDS:
            continue
        try:
            documents.append(parse_document(raw, file))
        except FlowError as error:
            problems.extend(error.problems)
    if problems:
        raise FlowError(problems)
    return documents


def bundle_from_sources(sources: Iterable[tuple[str, str]]) -> Bundle:
    """Parse (file name, text) pairs into one bundle; every problem is reported at once."""
    bundle = Bundle()
    problems: list[Problem] = []
    for file, text in sources:
        try:
            documents = parse_text(text, file)
        except FlowError as error:
            problems.extend(error.problems)
            continue
        for document in documents:
            sourced = Sourced(file, document)
            if isinstance(document, FlowCatalog):
                if bundle.catalog is not None:
                    problems.append(
                        Problem(file, "", f"a second FlowCatalog (first in {bundle.catalog_file})")
                    )
                bundle.catalog, bundle.catalog_file = document, file
            elif isinstance(document, Flow):
                name = document.metadata.name
                if name in bundle.flows:
                    problems.append(
                        Problem(
                            file, "", f"flow {name!r} is defined twice (also in {bundle.flows[name].file})"
                        )
                    )
                bundle.flows[name] = sourced
            elif isinstance(document, FlowOverlay):
                bundle.overlays.append(sourced)
            else:
                bundle.policies.append(sourced)
    if problems:
        raise FlowError(problems)
    return bundle


def source_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix in SUFFIXES and p.is_file() and not p.name.endswith(".schema.json")
                )
            )
        elif path.exists():
            files.append(path)
        else:
            raise fail(str(path), "", "no such file or directory")
    return files


def read_sources(paths: Iterable[Path]) -> list[tuple[str, str]]:
    return [(str(p), p.read_text(encoding="utf-8")) for p in source_files(paths)]


def load_paths(paths: Iterable[Path]) -> Bundle:
    return bundle_from_sources(read_sources(paths))
