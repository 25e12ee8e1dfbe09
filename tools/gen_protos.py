"""Compile `protos/` into the one generated package under `services/contactcenter/`.

`python tools/gen_protos.py` regenerates; `--check` regenerates into a scratch folder and
fails (exit 1, naming the files) when the committed code differs, so CI catches stale code.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT_ROOT = ROOT / "services"
PACKAGE = "contactcenter"
HEADER = '"""Generated from protos/ by tools/gen_protos.py; do not edit."""\n'


def generate(out: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    well_known = Path(protoc.__file__).resolve().parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *protos,
    ]
    # The mypy plugins announce every file they write on stderr: shown only when protoc fails.
    with _stderr_captured() as chatter:
        failed = protoc.main(args) != 0
    if failed:
        chatter.seek(0)
        sys.stderr.write(chatter.read().decode(errors="replace"))
        raise SystemExit("protoc failed; see the messages above")
    for folder in [out / PACKAGE, *(p for p in (out / PACKAGE).rglob("*") if p.is_dir())]:
        (folder / "__init__.py").write_text(HEADER)
    (out / PACKAGE / "py.typed").write_text("")


@contextlib.contextmanager
def _stderr_captured() -> Iterator[IO[bytes]]:
    """File descriptor 2 (ours and the plugins' that protoc starts) goes to a scratch file."""
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield sink
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def differences(left: Path, right: Path) -> list[str]:
    found: list[str] = []
    left_files = {
        p.relative_to(left) for p in left.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    right_files = {
        p.relative_to(right) for p in right.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    for rel in sorted(left_files ^ right_files):
        found.append(f"{rel}: present on one side only")
    for rel in sorted(left_files & right_files):
        if not filecmp.cmp(left / rel, right / rel, shallow=False):
            found.append(f"{rel}: content differs")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the generated code is stale")
    parser.add_argument("--quiet", action="store_true", help="print nothing unless something fails")
    options = parser.parse_args()
    # protoc finds its plugins (protoc-gen-mypy) next to this interpreter, PATH or not.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with tempfile.TemporaryDirectory() as scratch:
        generate(Path(scratch))
        fresh = Path(scratch) / PACKAGE
        committed = OUT_ROOT / PACKAGE
        if options.check:
            stale = (
                differences(fresh, committed) if committed.exists() else ["services/contactcenter missing"]
            )
            if stale:
                print("generated code is stale; run `make gen`:", *stale, sep="\n  ", file=sys.stderr)
                return 1
            print("generated code is up to date")
            return 0
        shutil.rmtree(committed, ignore_errors=True)
        shutil.copytree(fresh, committed)
        if not options.quiet:
            count = sum(1 for _ in committed.rglob("*.py"))
            print(f"generated {count} modules into {committed.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
