"""Every program the chart and the operator start is in the image, and the image installs only the lock.

The image runs `python -m <args[0]>` (Dockerfile ENTRYPOINT). A program is "in the image" when it is
a package the image's `pip install .` installs (setuptools' package search over the source roots the
Dockerfile copies), it has a `__main__`, and every third-party module it imports, directly or through
the platform's own modules, comes from a distribution pinned in requirements-runtime.lock.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shlex
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_python import Chart
from packaging.utils import canonicalize_name
from setuptools import find_packages

from ccmesh.configplane.models import ContactCenter
from ccoperator.builders import BuildSettings, Owner, build_desired

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
RUNTIME_LOCK = "requirements-runtime.lock"
PLATFORM_IMAGE = "ghcr.io/contactcenter/platform"
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")
#: Values that turn on every container the chart can start (the NATS subchart's are third-party).
EVERYTHING_ON: dict[str, Any] = {
    "contactCenter": {"create": True, "region": "eu"},
    "opentelemetryCollector": {"create": True},
}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.strip().split(None, 1) for line in joined.splitlines() if line.strip())
    ]


def pip_installs() -> Iterator[tuple[list[str], bool]]:
    """Every `pip install` of a RUN, with whether it runs only when the DEBUG build argument is 1."""
    for instruction, arguments in dockerfile_instructions():
        if instruction != "RUN":
            continue
        debug_only = bool(re.search(r'if \[ "\$DEBUG" = "1" \]', arguments))
        for command in re.split(r"&&|;|\bthen\b|\bfi\b", arguments):
            words = shlex.split(command)
            for index, word in enumerate(words[:-1]):
                if word.endswith("pip") and words[index + 1] == "install":
                    yield words[index + 2 :], debug_only


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in (REPO / RUNTIME_LOCK).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = PINNED.match(line)
        assert match, f"{RUNTIME_LOCK}: not an exact pin: {raw!r}"
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def test_image_installs_from_the_runtime_lock_only() -> None:
    copied = [args for instruction, args in dockerfile_instructions() if instruction == "COPY"]
    assert any(RUNTIME_LOCK in args.split() for args in copied)
    installs = list(pip_installs())
    assert installs
    release = [args for args, debug_only in installs if not debug_only]
    for args in release:
        # --no-deps: nothing comes in that the lock does not name.
        assert "--no-deps" in args, args
        positional = [a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] != "-r"]
        requirement_files = [args[i + 1] for i, a in enumerate(args) if a == "-r"]
        assert requirement_files in ([RUNTIME_LOCK], []), args
        # Besides the lock, only the platform itself (".") is installed.
        assert positional in ([], ["."]), f"installs {positional} outside {RUNTIME_LOCK}"
    assert [RUNTIME_LOCK] in [[args[i + 1] for i, a in enumerate(args) if a == "-r"] for args in release]
    assert ["."] in [[a for a in args if a == "."] for args in release]
    # Debug tooling only with DEBUG=1, which releases do not set.
    assert ("ARG", "DEBUG=0") in dockerfile_instructions()
    assert locked(), f"{RUNTIME_LOCK} pins nothing"


def chart_programs() -> set[str]:
    files = Chart.load(REPO / "charts/contactcenter").render(EVERYTHING_ON, name="cc", namespace="platform")
    documents = [doc for text in files.values() for doc in yaml.safe_load_all(text) if doc]
    return set(_programs(documents))


def operator_programs() -> set[str]:
    cc = ContactCenter.model_validate(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "ContactCenter",
            "metadata": {"name": "eu"},
            "spec": {"region": "eu"},
        }
    )
    settings = BuildSettings(image=f"{PLATFORM_IMAGE}:1", nats_url="nats://nats:4222", new_auth_secret="s")
    desired = build_desired(cc, Owner(name="eu", namespace="regions", uid="u"), settings)
    return set(_programs([d.manifest for d in desired]))


def _programs(documents: list[dict[str, Any]]) -> Iterator[str]:
    for document in documents:
        pod = (document.get("spec") or {}).get("template", {}).get("spec") or {}
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            if not str(container["image"]).startswith(PLATFORM_IMAGE + ":"):
                continue
            # A command would bypass the image's `python -m` entrypoint.
            assert "command" not in container, container["name"]
            yield container["args"][0]


def source_roots() -> list[Path]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    return [REPO / root for root in config["tool"]["setuptools"]["packages"]["find"]["where"]]


def installed_packages() -> dict[str, Path]:
    """Every package `pip install .` puts in the image, with its source directory."""
    copied = {
        args.split()[0].rstrip("/")
        for instruction, args in dockerfile_instructions()
        if instruction == "COPY"
    }
    packages: dict[str, Path] = {}
    for root in source_roots():
        assert root.name in copied, f"the Dockerfile does not copy {root.name}/"
        for package in find_packages(where=str(root)):
            packages[package] = root / package.replace(".", "/")
    return packages


def _runtime_imports(path: Path) -> set[str]:
    """Modules a file imports when it runs: not under `if TYPE_CHECKING`, not optional (ImportError)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        type_only = isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        optional = isinstance(node, ast.Try) and any(
            h.type is not None and re.search(r"ImportError|ModuleNotFoundError", ast.unparse(h.type))
            for h in node.handlers
        )
        if isinstance(node, ast.If | ast.Try) and (type_only or optional):
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    names: set[str] = set()
    package = path.parent
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.parent
                prefix = f"{base}:{node.module + '.' if node.module else ''}"
                names.update(prefix + alias.name for alias in node.names)
                names.add(f"{base}:{node.module or ''}")
            elif node.module:
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
                names.add(node.module)
    return names


def third_party_imports(program: str, packages: dict[str, Path]) -> dict[str, str]:
    """Top-level third-party modules reachable from the program's `__main__`, with who imports them."""
    roots = source_roots()
    files = {p for d in packages.values() for p in d.glob("*.py")}
    seen: set[Path] = set()
    todo = [packages[program] / "__main__.py"]
    found: dict[str, str] = {}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _runtime_imports(path):
            if ":" in name:  # relative: resolve to a file of this package
                base, _, module = name.partition(":")
                target = Path(base, *module.split(".")) if module else Path(base)
            else:
                top = name.split(".")[0]
                if top not in packages:
                    if top not in sys.stdlib_module_names and top != "__future__":
                        found.setdefault(top, str(path.relative_to(REPO)))
                    continue
                target = next(r for r in roots if (r / top).is_dir()).joinpath(*name.split("."))
            for candidate in (target.with_suffix(".py"), target / "__init__.py"):
                if candidate in files:
                    todo.append(candidate)
            for parent in target.parents:
                if parent / "__init__.py" in files:
                    todo.append(parent / "__init__.py")
    return found


PROGRAMS = sorted(chart_programs() | operator_programs())


def test_the_chart_and_the_operator_start_the_platforms_programs() -> None:
    assert chart_programs() == {"ccoperator"}
    assert operator_programs() == {"identity", "routing", "gateway", "ai", "integration"}


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_program_is_in_the_image_with_what_it_imports(program: str) -> None:
    packages = installed_packages()
    assert program in packages, f"{program} is not a package the image installs"
    assert (packages[program] / "__main__.py").is_file(), f"{program} has no __main__"
    distributions = importlib.metadata.packages_distributions()
    pins = locked()
    missing = {
        module: importer
        for module, importer in third_party_imports(program, packages).items()
        if not any(canonicalize_name(d) in pins for d in distributions.get(module, []))
    }
    assert missing == {}, f"imported by {program} but not in {RUNTIME_LOCK}"


def test_the_import_walk_finds_third_party_modules() -> None:
    # The check above only means something if the walk reaches the programs' real dependencies.
    imports = third_party_imports("ccoperator", installed_packages())
    assert {"kopf", "nats", "pydantic"} <= set(imports), sorted(imports)
