"""The whole install of two regions, exactly as README's "Deploy on Kubernetes" runs it.

The NATS chart is a dependency fetched by `helm dependency build`; offline, the tests put the copy
of the official chart kept in ../shared/charts/nats where that command would, then render each
README command with helm-python-sdk and validate every object (kubernetes-validate --strict for
1.29 and the newest version it knows; the ContactCenter against the generated CRD).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helm_python import Chart
from helm_python.errors import HelmRenderError

from ccmesh.natsserver import find_binary
from ccoperator.crd import custom_resource_definition
from ccoperator.testing.crd_validator import validate

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
NATS_CHART_COPY = REPO.parent / "shared/charts/nats"
NATS_REPOSITORY = "https://nats-io.github.io/k8s/helm/charts/"
KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]
REGIONS = ("eu", "us")


@dataclass(frozen=True)
class HelmInstall:
    """One `helm install` line of the README, as the arguments Helm would get."""

    line: str
    release: str
    chart: str
    namespace: str = "default"
    value_files: tuple[str, ...] = ()

    def values(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for path in self.value_files:
            merged = _merge(merged, yaml.safe_load((REPO / path).read_text()) or {})
        return merged


@dataclass
class ReadmeCommands:
    dependency_builds: list[str] = field(default_factory=list)
    installs: list[HelmInstall] = field(default_factory=list)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _install(line: str, args: list[str]) -> HelmInstall:
    positional: list[str] = []
    namespace, files = "default", []
    items = iter(args)
    for arg in items:
        if arg in ("--namespace", "-n"):
            namespace = next(items)
        elif arg in ("-f", "--values"):
            files.append(next(items))
        elif arg == "--create-namespace":
            continue
        elif arg.startswith("-"):
            raise AssertionError(f"README uses a flag the tests do not render: {arg!r} in {line!r}")
        else:
            positional.append(arg)
    assert len(positional) == 2, f"expected `helm install RELEASE CHART`: {line!r}"
    return HelmInstall(line, positional[0], positional[1], namespace, tuple(files))


def readme_commands() -> ReadmeCommands:
    commands = ReadmeCommands()
    section = _section(README.read_text(), "Deploy on Kubernetes")
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if not words or words[0] != "helm":
                continue
            if words[1:3] == ["dependency", "build"]:
                commands.dependency_builds.append(words[3])
            elif words[1] == "install":
                commands.installs.append(_install(line, words[2:]))
    return commands


COMMANDS = readme_commands()
REGION_INSTALLS = [i for i in COMMANDS.installs if i.chart == "charts/contactcenter"]


@pytest.fixture(scope="module")
def charts_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's charts after `helm dependency build`, with the official chart's offline copy."""
    if not NATS_CHART_COPY.exists():
        pytest.skip(
            f"the official NATS chart copy is not at {NATS_CHART_COPY} (the shared/ folder is absent)"
        )
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(REPO / "charts", root / "charts")
    for chart in COMMANDS.dependency_builds:
        shutil.copytree(NATS_CHART_COPY, root / chart / "charts" / "nats")
    return root


def render(
    charts_root: Path, install: HelmInstall, values: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    key = (str(charts_root), install.line)
    if values is None and key in _RENDERED:
        return _RENDERED[key]
    chart = Chart.load(charts_root / install.chart)
    files = chart.render(
        install.values() if values is None else values, name=install.release, namespace=install.namespace
    )
    documents = [doc for text in files.values() for doc in yaml.safe_load_all(text) if doc]
    if values is None:
        _RENDERED[key] = documents
    return documents


#: Renders of unchanged README commands, shared by the tests (each test only reads them).
_RENDERED: dict[tuple[str, str], list[dict[str, Any]]] = {}


def one(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def nats_conf(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """nats.conf as the chart renders it: JSON, except the server name variable and unit sizes."""
    text = one(documents, "ConfigMap", "nats-config")["data"]["nats.conf"]
    quoted = re.sub(r"(:\s*)(\$[A-Z_]+|\d+[KMGT]i?)(\s*,?)$", r'\1"\2"\3', text, flags=re.M)
    return dict(json.loads(quoted))


def install_id(install: HelmInstall) -> str:
    return f"{install.release}-{Path(install.value_files[-1]).stem if install.value_files else 'defaults'}"


def test_readme_installs_the_crds_then_one_release_per_region() -> None:
    assert COMMANDS.dependency_builds == ["charts/contactcenter"]
    charts = [i.chart for i in COMMANDS.installs]
    assert charts == ["charts/contactcenter-crds", "charts/contactcenter"] * len(REGIONS)
    assert [i.value_files for i in REGION_INSTALLS] == [(f"examples/helm/{r}.yaml",) for r in REGIONS]
    for install in REGION_INSTALLS:
        assert install.values()["contactCenter"]["region"] == Path(install.value_files[0]).stem


def test_readme_shows_the_columns_kubectl_prints() -> None:
    section = _section(README.read_text(), "Deploy on Kubernetes")
    header = next(line for line in section.splitlines() if line.startswith("# NAME "))
    columns = custom_resource_definition()["spec"]["versions"][0]["additionalPrinterColumns"]
    assert header[2:].split() == ["NAME", *(c["name"].upper() for c in columns)]


def test_chart_declares_the_official_nats_chart_and_the_copy_satisfies_it() -> None:
    chart = yaml.safe_load((REPO / "charts/contactcenter/Chart.yaml").read_text())
    assert chart["dependencies"] == [
        {"name": "nats", "version": "2.14.x", "repository": NATS_REPOSITORY, "condition": "nats.enabled"}
    ]
    if NATS_CHART_COPY.exists():
        copy = yaml.safe_load((NATS_CHART_COPY / "Chart.yaml").read_text())
        assert copy["name"] == "nats"
        assert copy["version"].startswith("2.14."), copy["version"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "install", COMMANDS.installs, ids=[f"{i.chart}:{install_id(i)}" for i in COMMANDS.installs]
)
def test_every_object_of_the_readme_install_is_valid(
    charts_root: Path, install: HelmInstall, version: str
) -> None:
    documents = render(charts_root, install)
    assert documents
    crd = custom_resource_definition()
    for document in documents:
        if document["kind"] == "ContactCenter":
            assert validate(document, crd) == [], document["metadata"]["name"]
        else:
            kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize("install", REGION_INSTALLS, ids=[install_id(i) for i in REGION_INSTALLS])
def test_region_nats_has_jetstream_the_region_tag_a_cluster_and_gateways(
    charts_root: Path, install: HelmInstall
) -> None:
    documents = render(charts_root, install)
    cc = one(documents, "ContactCenter", install.values()["contactCenter"]["region"])
    region = cc["spec"]["region"]
    conf = nats_conf(documents)

    assert conf["jetstream"]["store_dir"] == "/data"
    assert conf["server_tags"] == [f"region:{region}"]
    assert conf["cluster"]["name"] == region
    assert len(conf["cluster"]["routes"]) == 3
    assert conf["gateway"]["name"] == region
    assert {g["name"] for g in conf["gateway"]["gateways"]} == set(REGIONS)
    assert conf["http_port"] == 8222  # monitoring, which KEDA's JetStream scaler reads

    statefulset = one(documents, "StatefulSet", "nats")
    assert statefulset["spec"]["replicas"] == 3
    assert (
        statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    )
    pod = statefulset["spec"]["template"]
    # The region's NetworkPolicy admits NATS pods by these labels (the ContactCenter's serverLabels).
    assert pod["metadata"]["labels"]["contactcenter.dev/region"] == region
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "nats"
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    spread = pod["spec"]["topologySpreadConstraints"][0]
    assert (spread["topologyKey"], spread["maxSkew"]) == ("topology.kubernetes.io/zone", 1)
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == cc["spec"]["nodeRegions"]
    # Every stream keeps a replica on each of the region's servers.
    assert cc["spec"]["nats"]["streamReplicas"] == statefulset["spec"]["replicas"]
    # The operator's default NATS URL is the chart's client Service.
    assert one(documents, "Service", "nats")["spec"]["ports"][0]["port"] == 4222
    operator = one(documents, "Deployment", f"{install.release}-operator")
    env = {e["name"]: e["value"] for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CCOP_NATS_URL"] == "nats://nats:4222"
    gateway = one(documents, "Service", "nats-gateway")
    assert gateway["spec"]["selector"] == {
        "app.kubernetes.io/name": "nats",
        "app.kubernetes.io/instance": install.release,
        "app.kubernetes.io/component": "nats",
    }
    assert gateway["spec"]["ports"][0]["port"] == 7222


@pytest.mark.parametrize("install", REGION_INSTALLS, ids=[install_id(i) for i in REGION_INSTALLS])
def test_a_real_nats_server_accepts_the_rendered_configuration(
    charts_root: Path, install: HelmInstall, tmp_path: Path
) -> None:
    text = one(render(charts_root, install), "ConfigMap", "nats-config")["data"]["nats.conf"]
    config = tmp_path / "nats.conf"
    config.write_text(text)
    # The StatefulSet sets SERVER_NAME from the pod name; `-t` checks the file and exits.
    checked = subprocess.run(
        [find_binary(), "-t", "-c", str(config)],
        env={**os.environ, "SERVER_NAME": "nats-0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "is valid" in checked.stdout + checked.stderr


def test_the_regions_form_one_supercluster(charts_root: Path) -> None:
    gateways = {
        install.values()["contactCenter"]["region"]: nats_conf(render(charts_root, install))["gateway"]
        for install in REGION_INSTALLS
    }
    assert set(gateways) == set(REGIONS)
    # Every region lists the same gateways (itself included), so each reaches each.
    listed = [sorted(json.dumps(g, sort_keys=True) for g in conf["gateways"]) for conf in gateways.values()]
    assert all(entry == listed[0] for entry in listed)


def _break(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    broken: dict[str, Any] = json.loads(json.dumps(values))
    *parents, last = path.split(".")
    node = broken
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return broken


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("nats.config.merge.server_tags", ["region:us"], 'server_tags must contain "region:eu"'),
        ("nats.config.cluster.merge.name", "nats", 'cluster.merge.name must be the region "eu"'),
        ("nats.config.gateway.merge.name", "us", 'gateway.merge.name must be the region "eu"'),
        ("nats.podTemplate.merge.metadata.labels", {}, "contactcenter.dev/region: eu"),
    ],
)
def test_a_region_whose_nats_values_contradict_it_is_refused(
    charts_root: Path, path: str, value: Any, named: str
) -> None:
    eu = next(i for i in REGION_INSTALLS if i.values()["contactCenter"]["region"] == "eu")
    with pytest.raises(HelmRenderError, match=re.escape(named)):
        render(charts_root, eu, _break(eu.values(), path, value))


def skaffold_installs() -> Iterator[HelmInstall]:
    document = yaml.safe_load((REPO / "skaffold.yaml").read_text())
    releases = list(document["deploy"]["helm"]["releases"])
    for profile in document["profiles"]:
        releases += ((profile.get("deploy") or {}).get("helm") or {}).get("releases") or []
    for release in releases:
        yield HelmInstall(
            f"skaffold {release['name']}",
            release["name"],
            release["chartPath"],
            release.get("namespace", "default"),
            tuple(release.get("valuesFiles") or ()),
        )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_skaffold_dev_region_renders_valid_with_its_own_nats(charts_root: Path, version: str) -> None:
    for install in skaffold_installs():
        documents = render(charts_root, install)
        for document in documents:
            if document["kind"] != "ContactCenter":
                kubernetes_validate.validate(document, version, strict=True)
        if install.chart == "charts/contactcenter":
            assert nats_conf(documents)["server_tags"] == ["region:eu"]
            assert "jetstream" in nats_conf(documents)
            pod = one(documents, "StatefulSet", "nats")["spec"]["template"]["spec"]
            assert "topologySpreadConstraints" not in pod  # one server: a zone label is not required


def test_nats_stays_out_unless_enabled(charts_root: Path) -> None:
    documents = render(charts_root, HelmInstall("defaults", "cc", "charts/contactcenter", "platform"))
    assert not [d for d in documents if d["metadata"]["name"].startswith("nats")]
