"""`ccctl apply` and `ccctl get` against a real nats-server, in-process and as the installed script."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import orjson
import pytest

from ccctl.main import main
from ccmesh.configplane.loader import load_file
from ccmesh.natsserver import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CCCTL = ROOT / ".venv" / "bin" / "ccctl"
REGIONS = ["eu", "us", "ap-southeast", "latam"]
#: eu's ContactCenter names a default entry point declared here: applied with it, or already stored.
EU_CHANNELS = EXAMPLES / "channels" / "eu.yaml"
#: In the file's order.
EU_ENDPOINTS = [sourced.name for sourced in load_file(EU_CHANNELS)]


def example_files() -> list[str]:
    args: list[str] = []
    for region in REGIONS:
        args += ["-f", str(EXAMPLES / f"{region}.yaml")]
    return args


def apply_eu_channels(nats_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["apply", "-f", str(EXAMPLES / "eu.yaml"), "-f", str(EU_CHANNELS), "--nats-url", nats_url]) == 0
    )
    capsys.readouterr()


def stored_json(nats_url: str, name: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["get", "cc", name, "-o", "json", "--nats-url", nats_url]) == 0
    document = orjson.loads(capsys.readouterr().out)
    assert isinstance(document, dict)
    return document


def test_apply_reports_created_unchanged_and_configured(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply", *example_files(), "-f", str(EU_CHANNELS), "--nats-url", nats_url]) == 0
    assert capsys.readouterr().out.splitlines() == [
        *(f"contactcenter/{r} created (generation 1)" for r in REGIONS),
        *(f"channelendpoint/{name} created (generation 1)" for name in EU_ENDPOINTS),
    ]

    assert main(["apply", "-f", str(EXAMPLES / "eu.yaml"), "--nats-url", nats_url]) == 0
    assert capsys.readouterr().out == "contactcenter/eu unchanged\n"

    edited = tmp_path / "eu.yaml"
    edited.write_text(
        (EXAMPLES / "eu.yaml").read_text().replace("timeZone: Europe/Berlin", "timeZone: Europe/Paris")
    )
    assert main(["apply", "-f", str(edited), "--nats-url", nats_url]) == 0
    assert capsys.readouterr().out == "contactcenter/eu configured (generation 2)\n"


def test_bad_file_after_a_good_apply_leaves_the_stored_document_untouched(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_eu_channels(nats_url, capsys)
    before = stored_json(nats_url, "eu", capsys)

    bad = tmp_path / "eu.yaml"
    bad.write_text(
        (EXAMPLES / "eu.yaml").read_text().replace("pseudonymousRegions: [us,", "pseudonymousRegions: [mars,")
    )
    assert main(["apply", "-f", str(bad), "--nats-url", nats_url]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f'{bad}: document 1 (ContactCenter "eu"): spec:' in captured.err
    assert "pseudonymousRegions names unknown region(s) ['mars']" in captured.err
    assert "nothing was applied" in captured.err

    after = stored_json(nats_url, "eu", capsys)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]  # type: ignore[index]
    assert after == before


def test_one_bad_file_among_several_stores_none_of_them(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "latam.yaml"
    bad.write_text((EXAMPLES / "latam.yaml").read_text().replace("replicas: 2", "replicas: two", 1))
    code = main(["apply", "-f", str(EXAMPLES / "eu.yaml"), "-f", str(bad), "--nats-url", nats_url])
    assert code == 1
    assert "spec.services.gateway.replicas: Input should be a valid integer" in capsys.readouterr().err

    assert main(["get", "cc", "eu", "--nats-url", nats_url]) == 1
    assert 'contactcenter "eu" not found' in capsys.readouterr().err


def test_get_table_lists_every_region(nats_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apply", *example_files(), "-f", str(EU_CHANNELS), "--nats-url", nats_url]) == 0
    capsys.readouterr()
    assert main(["get", "contactcenters", "--nats-url", nats_url]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["NAME", "REGION", "TENANTS", "GENERATION", "AGE"]
    assert sorted(row.split()[:4] for row in rows) == sorted([r, r, "2", "1"] for r in REGIONS)


@pytest.mark.parametrize("kind", ["ContactCenter", "contactcenter", "CONTACTCENTERS", "cc"])
def test_get_accepts_any_case_plural_and_short_kind(
    kind: str, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply", "-f", str(EXAMPLES / "us.yaml"), "--nats-url", nats_url]) == 0
    capsys.readouterr()
    assert main(["get", kind, "us", "-o", "yaml", "--nats-url", nats_url]) == 0
    out = capsys.readouterr().out
    assert "kind: ContactCenter\n" in out
    assert "  region: us\n" in out


def test_get_yaml_output_applies_again_as_unchanged(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply", *example_files(), "-f", str(EU_CHANNELS), "--nats-url", nats_url]) == 0
    capsys.readouterr()
    assert main(["get", "cc", "-o", "yaml", "--nats-url", nats_url]) == 0
    exported = tmp_path / "all.yaml"
    exported.write_text(capsys.readouterr().out)
    assert main(["apply", "-f", str(exported), "--nats-url", nats_url]) == 0
    assert capsys.readouterr().out.splitlines() == [f"contactcenter/{r} unchanged" for r in sorted(REGIONS)]


def test_unknown_kind_is_a_usage_error(nats_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "callcenters", "--nats-url", nats_url]) == 2
    err = capsys.readouterr().err
    assert "unknown kind 'callcenters'" in err
    assert "contactcenter, contactcenters, cc" in err


def test_missing_file_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apply"]) == 2
    assert "-f/--filename" in capsys.readouterr().err


def test_unreachable_nats_is_one_clear_line_naming_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    assert main(["get", "cc", "--nats-url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ccctl get: error: cannot connect to NATS at {url}")
    assert len(err.strip().splitlines()) == 1

    # Valid files and a dead server: the server is named, nothing else is claimed.
    assert main(["apply", "-f", str(EXAMPLES / "eu.yaml"), "--nats-url", url]) == 1
    assert f"cannot connect to NATS at {url}" in capsys.readouterr().err


def test_installed_script_applies_and_gets_using_the_environment_url(nats_url: str) -> None:
    env = {**os.environ, "CC_NATS_URL": nats_url}
    applied = subprocess.run(
        [str(CCCTL), "apply", "-f", str(EXAMPLES / "us.yaml"), "-f", str(EXAMPLES / "latam.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == [
        "contactcenter/us created (generation 1)",
        "contactcenter/latam created (generation 1)",
    ]

    got = subprocess.run(
        [str(CCCTL), "get", "cc", "latam", "-o", "json"], capture_output=True, text=True, env=env, timeout=60
    )
    assert got.returncode == 0, got.stderr
    document = orjson.loads(got.stdout)
    assert document["spec"]["timeZone"] == "America/Sao_Paulo"
    assert document["metadata"]["generation"] == 1


def test_a_default_entry_point_must_name_an_endpoint_of_the_tenant(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Alone, on an empty config plane, eu's default entry point names nothing that exists.
    assert main(["apply", "-f", str(EXAMPLES / "eu.yaml"), "--nats-url", nats_url]) == 1
    err = capsys.readouterr().err
    assert "spec.tenants[0].defaultEntryPoint: no ChannelEndpoint named 'acme-uk-sms'" in err
    assert "nothing was applied" in err
    assert main(["get", "cc", "eu", "--nats-url", nats_url]) == 1
    capsys.readouterr()

    apply_eu_channels(nats_url, capsys)
    # Once the endpoints are stored, the ContactCenter alone applies; another tenant's endpoint does not.
    assert main(["apply", "-f", str(EXAMPLES / "eu.yaml"), "--nats-url", nats_url]) == 0
    assert capsys.readouterr().out == "contactcenter/eu unchanged\n"
    foreign = tmp_path / "eu.yaml"
    foreign.write_text(
        (EXAMPLES / "eu.yaml")
        .read_text()
        .replace("brandSharing: shared\n", "brandSharing: shared\n      defaultEntryPoint: acme-uk-sms\n")
    )
    assert main(["apply", "-f", str(foreign), "--nats-url", nats_url]) == 1
    err = capsys.readouterr().err
    assert "spec.tenants[1].defaultEntryPoint: ChannelEndpoint 'acme-uk-sms' belongs to tenant 'acme'" in err
