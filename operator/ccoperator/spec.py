"""Turn a ContactCenter custom resource into the typed config-plane document, or say which field is wrong.

The same pydantic model validates `ccctl apply`, so the operator accepts exactly what the config plane
accepts; the CRD's schema catches most errors earlier, this catches the rest (and any API server that
skipped the CEL rules).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ccmesh.configplane.models import ContactCenter


@dataclass(frozen=True)
class SpecError(Exception):
    """The resource does not validate; `field` is the dotted path of the first bad field."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def field_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "spec"


def _first_error(error: ValidationError) -> SpecError:
    first = error.errors()[0]
    message = str(first.get("msg", "invalid"))
    # A model validator reports at its model (loc ends at `spec`); its message names the field itself.
    return SpecError(field=field_path(first.get("loc", ())), message=message.removeprefix("Value error, "))


def parse_contactcenter(body: Mapping[str, Any]) -> ContactCenter:
    """Validate a CR body; raises `SpecError` naming the first invalid field."""
    metadata = body.get("metadata") or {}
    document = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {
            "name": metadata.get("name"),
            "namespace": metadata.get("namespace"),
            "labels": dict(metadata.get("labels") or {}),
            "generation": int(metadata.get("generation") or 0),
        },
        "spec": body.get("spec") or {},
    }
    try:
        return ContactCenter.model_validate(document)
    except ValidationError as error:
        raise _first_error(error) from None
