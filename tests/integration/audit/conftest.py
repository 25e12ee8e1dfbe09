"""Lets these tests import the shared integration helpers (`_platform`, `_mesh`) from the parent folder."""

from __future__ import annotations

import sys
from pathlib import Path

_HELPERS = str(Path(__file__).resolve().parent.parent)
if _HELPERS not in sys.path:
    sys.path.insert(0, _HELPERS)
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
