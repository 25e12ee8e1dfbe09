"""The published JSON Schema of flow documents (`examples/flows/flow.schema.json`).

Regenerate with `python -m ccflow.schema > examples/flows/flow.schema.json`; a unit test fails
when the file is stale.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter

from ccflow.model import Flow, FlowCatalog, FlowOverlay, FlowPolicy

SCHEMA_ID = "https://contactcenter.dev/schemas/flow.schema.json"


def flow_schema() -> dict[str, Any]:
    adapter: TypeAdapter[Flow | FlowOverlay | FlowCatalog | FlowPolicy] = TypeAdapter(
        Flow | FlowOverlay | FlowCatalog | FlowPolicy
    )
    schema = adapter.json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    return orjson.dumps(flow_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
