"""Read config-plane documents from YAML or JSON files and validate them against `models.KINDS`.

A file may hold several documents (YAML `---`, or a JSON array). Every problem in every file
is collected and raised together as one `ConfigFileError`, each line naming the file, the
document (1-based, with its kind and name when known) and the camelCase field path:

    examples/eu.yaml: document 1 (ContactCenter "eu"): spec.tenants[0].brands[1].id: ...

Callers store nothing unless `load_files` returns, which makes an apply all-or-nothing.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from ccmesh.configplane.models import API_VERSION, KINDS, Model, ObjectMeta

#: Longest input value quoted back in an error message; longer ones are cut.
_MAX_QUOTED_INPUT = 60


class ConfigFileError(ValueError):
    """One or more documents are unreadable or invalid; `problems` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class SourcedDocument:
    """A validated document and where it came from."""

    source: str
    #: Position of the document in its file, counting from 1.
    index: int
    document: Model

    @property
    def kind(self) -> str:
        return kind_of(self.document)

    @property
    def name(self) -> str:
        return metadata_of(self.document).name


def kind_of(document: Model) -> str:
    return str(getattr(document, "kind", type(document).__name__))


def metadata_of(document: Model) -> ObjectMeta:
    """The metadata every kind in `KINDS` carries (the base `Model` does not declare it)."""
    metadata = getattr(document, "metadata", None)
    if not isinstance(metadata, ObjectMeta):
        raise TypeError(f"{type(document).__name__} has no ObjectMeta metadata")
    return metadata


def with_metadata(document: Model, **changes: Any) -> Model:
    """A copy of `document` with the given metadata fields (snake_case) replaced."""
    return document.model_copy(update={"metadata": metadata_of(document).model_copy(update=changes)})


def load_files(paths: Sequence[str | Path]) -> list[SourcedDocument]:
    """Validate every document of every file; raise `ConfigFileError` listing all problems."""
    documents: list[SourcedDocument] = []
    problems: list[str] = []
    for path in paths:
        try:
            documents.extend(load_file(path))
        except ConfigFileError as err:
            problems.extend(err.problems)
    problems.extend(_duplicates(documents))
    if problems:
        raise ConfigFileError(problems)
    return documents


def load_file(path: str | Path) -> list[SourcedDocument]:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise ConfigFileError([f"{source}: cannot read file: {reason}"]) from None
    return parse_documents(text, source, as_json=Path(path).suffix.lower() == ".json")


def parse_documents(text: str, source: str, *, as_json: bool = False) -> list[SourcedDocument]:
    """Validate the documents in `text`; `source` names the file in error messages."""
    raw_documents = _parse_json(text, source) if as_json else _parse_yaml(text, source)
    documents: list[SourcedDocument] = []
    problems: list[str] = []
    for index, raw in enumerate(raw_documents, start=1):
        if raw is None:
            continue  # an empty YAML document, e.g. after a trailing `---`
        try:
            documents.append(SourcedDocument(source, index, validate_document(raw)))
        except DocumentError as err:
            where = f"{source}: document {index}{_label(raw)}"
            problems.extend(f"{where}: {problem}" for problem in err.problems)
    if not documents and not problems:
        problems.append(f"{source}: no documents found")
    if problems:
        raise ConfigFileError(problems)
    return documents


class DocumentError(ValueError):
    """One document is invalid; `problems` are `<field path>: <message>` lines.

    `paths` lists just the offending field paths, for logs that must not repeat stored values.
    """

    def __init__(self, problems: list[str], paths: list[str] | None = None) -> None:
        self.problems = problems
        self.paths = paths if paths is not None else [p.split(":", 1)[0] for p in problems]
        super().__init__("\n".join(problems))


def validate_document(raw: object) -> Model:
    """Validate one parsed document against the model of its `kind`."""
    if not isinstance(raw, dict):
        raise DocumentError(
            [f"expected a mapping with apiVersion, kind, metadata and spec, got {_type_name(raw)}"],
            ["(document)"],
        )
    known_kinds = ", ".join(sorted(KINDS))
    kind = raw.get("kind")
    if kind is None:
        raise DocumentError([f"kind: required field is missing; known kinds: {known_kinds}"])
    if not isinstance(kind, str) or kind not in KINDS:
        raise DocumentError([f"kind: unknown kind {_quote(kind)}; known kinds: {known_kinds}"])
    model = KINDS[kind]
    expected_version = _api_version_of(model)
    api_version = raw.get("apiVersion")
    if api_version != expected_version:
        got = "it is missing" if api_version is None else f"got {_quote(api_version)}"
        raise DocumentError([f"apiVersion: expected {expected_version!r} for kind {kind}, {got}"])
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        errors = err.errors(include_url=False)
        raise DocumentError(
            [_describe(error) for error in errors],
            [field_path(error["loc"]) or "(document)" for error in errors],
        ) from None


def field_path(loc: Iterable[int | str]) -> str:
    """`('spec', 'tenants', 0, 'time_zone')` -> `spec.tenants[0].timeZone`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            # Only snake_case field names are converted; pydantic's own tags (e.g. `function-after[...]`)
            # are kept as they are.
            name = to_camel(part) if part.isidentifier() else part
            path += ("." if path else "") + name
    return path


def _describe(error: ErrorDetails) -> str:
    path = field_path(error["loc"])
    message = _message(error)
    return f"{path}: {message}" if path else message


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (not part of the schema; check the spelling and the camelCase name)"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if kind != "value_error" and (isinstance(value, str | int | float | bool) or value is None):
        message += f", got {_quote(value)}"
    return message


def _parse_yaml(text: str, source: str) -> list[object]:
    try:
        return list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = " ".join(part for part in (err.context, err.problem) if part)
        raise ConfigFileError([f"{source}: {where}invalid YAML: {problem}"]) from None
    except yaml.YAMLError as err:
        raise ConfigFileError([f"{source}: invalid YAML: {err}"]) from None


def _parse_json(text: str, source: str) -> list[object]:
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise ConfigFileError(
            [f"{source}: line {err.lineno}, column {err.colno}: invalid JSON: {err.msg}"]
        ) from None
    # A JSON file holds one document, or several as an array (what `ccctl get -o json` prints).
    return list(parsed) if isinstance(parsed, list) else [parsed]


def _duplicates(documents: list[SourcedDocument]) -> list[str]:
    seen: dict[tuple[str, str], SourcedDocument] = {}
    problems = []
    for doc in documents:
        first = seen.setdefault((doc.kind, doc.name), doc)
        if first is not doc:
            problems.append(
                f'{doc.source}: document {doc.index} ({doc.kind} "{doc.name}"): '
                f"same kind and name as {first.source} document {first.index}; "
                "each resource may appear only once per apply"
            )
    return problems


def _api_version_of(model: type[Model]) -> str:
    field = model.model_fields.get("api_version")
    choices = typing.get_args(field.annotation) if field is not None else ()
    return str(choices[0]) if choices else API_VERSION


def _label(raw: object) -> str:
    if not isinstance(raw, dict):
        return ""
    kind = raw.get("kind")
    metadata = raw.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if isinstance(kind, str) and isinstance(name, str):
        return f' ({kind} "{name}")'
    if isinstance(kind, str):
        return f" ({kind})"
    return ""


def _quote(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_QUOTED_INPUT:
        text = text[: _MAX_QUOTED_INPUT - 4] + "...'"
    return text


def _type_name(value: object) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
