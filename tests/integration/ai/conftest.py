"""Lets these tests import the shared integration helpers (`_platform`) from the parent folder,
and puts the third-party component fixture (tests/data/ai) on sys.path.

The folder has no `__init__.py` on purpose: as a package it would be named `ai` and shadow
the ai service's own package.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HELPERS = str(Path(__file__).resolve().parent.parent)
_FIXTURES = str(Path(__file__).resolve().parents[2] / "data/ai")
for _path in (_HELPERS, _FIXTURES):
    if _path not in sys.path:
        sys.path.insert(0, _path)
