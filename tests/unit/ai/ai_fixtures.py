"""Paths and helpers shared by the ai unit tests (a plain module: `conftest` names clash across folders)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CLINC150 = REPO.parent / "shared/datasets/clinc150/data_full.json"
FIXTURES = REPO / "tests/data/ai"

if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))


def grouped(rows: list[list[str]]) -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for text, intent in rows:
        examples.setdefault(intent, []).append(text)
    return examples
