"""The loader turns files into validated documents, or into errors that say where the problem is."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccmesh.configplane.loader import ConfigFileError, field_path, load_file, load_files, parse_documents
from ccmesh.configplane.models import ContactCenter

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REGIONS = ["eu", "us", "ap-southeast", "latam"]

VALID = """\
apiVersion: contactcenter.dev/v1alpha1
kind: ContactCenter
metadata:
  name: eu
spec:
  region: eu
  knownRegions: [eu, us]
  timeZone: Europe/Berlin
  tenants:
    - id: acme
      brands:
        - id: acme-retail
      residency:
        pseudonymousRegions: [us]
"""


def problems_of(text: str, source: str = "cfg.yaml") -> str:
    with pytest.raises(ConfigFileError) as caught:
        parse_documents(text, source)
    return str(caught.value)


def test_every_example_parses_with_its_region_and_all_four_known_regions() -> None:
    documents = load_files(sorted(EXAMPLES.glob("*.yaml")))
    by_name = {doc.name: doc.document for doc in documents}
    assert sorted(by_name) == sorted(REGIONS)
    for region, document in by_name.items():
        assert isinstance(document, ContactCenter)
        assert document.spec.region == region
        assert sorted(document.spec.known_regions) == sorted(REGIONS)
        acme = document.spec.tenant("acme")
        assert acme is not None
        assert [brand.id for brand in acme.brands] == ["acme-retail", "acme-bank"]
        assert document.spec.tenant("globex") is not None


def test_eu_personal_data_stays_in_eu_and_others_may_look_up_pseudonymously() -> None:
    (eu,) = load_file(EXAMPLES / "eu.yaml")
    assert isinstance(eu.document, ContactCenter)
    for tenant in eu.document.spec.tenants:
        assert tenant.residency.personal_data_regions == []
        assert sorted(tenant.residency.pseudonymous_regions) == sorted(["us", "ap-southeast", "latam"])


def test_several_documents_per_file_keep_their_positions() -> None:
    second = VALID.replace("name: eu", "name: eu-2")
    documents = parse_documents(VALID + "---\n" + second + "---\n", "two.yaml")
    assert [(doc.index, doc.name) for doc in documents] == [(1, "eu"), (2, "eu-2")]


def test_json_array_holds_several_documents() -> None:
    text = (
        '[{"apiVersion": "contactcenter.dev/v1alpha1", "kind": "ContactCenter",'
        ' "metadata": {"name": "us"}, "spec": {"region": "us"}}]'
    )
    (document,) = parse_documents(text, "cc.json", as_json=True)
    assert document.name == "us"


def test_wrong_field_type_names_file_document_and_camel_case_path() -> None:
    text = VALID + "  services:\n    routing:\n      replicas: three\n"
    message = problems_of(text, "examples/eu.yaml")
    assert 'examples/eu.yaml: document 1 (ContactCenter "eu"): spec.services.routing.replicas:' in message
    assert "'three'" in message


def test_unknown_field_is_named_with_its_path() -> None:
    text = VALID.replace("  timeZone: Europe/Berlin\n", "  timeZone: Europe/Berlin\n  timezone: UTC\n")
    message = problems_of(text)
    assert 'cfg.yaml: document 1 (ContactCenter "eu"): spec.timezone: unknown field' in message


def test_unknown_region_in_residency_names_the_field_and_the_region() -> None:
    text = VALID.replace("pseudonymousRegions: [us]", "personalDataRegions: [mars]")
    message = problems_of(text)
    assert 'cfg.yaml: document 1 (ContactCenter "eu"): spec' in message
    assert "personalDataRegions" in message
    assert "['mars']" in message


def test_missing_region_is_reported_as_required() -> None:
    text = VALID.replace("  region: eu\n", "").replace("  knownRegions: [eu, us]\n", "")
    message = problems_of(text)
    assert 'document 1 (ContactCenter "eu"): spec.region: required field is missing' in message


def test_invalid_time_zone_names_the_value() -> None:
    message = problems_of(VALID.replace("Europe/Berlin", "Europe/Atlantis"))
    assert "spec.timeZone: unknown time zone 'Europe/Atlantis'" in message


def test_error_in_a_list_item_has_its_index() -> None:
    message = problems_of(VALID.replace("id: acme-retail", "id: Acme_Retail"))
    assert "spec.tenants[0].brands[0].id:" in message


def test_yaml_syntax_error_gives_the_line() -> None:
    text = "apiVersion: contactcenter.dev/v1alpha1\nkind: ContactCenter\nmetadata:\n  name: [eu\n"
    message = problems_of(text, "broken.yaml")
    assert message.startswith("broken.yaml: line ")
    assert "invalid YAML" in message


def test_yaml_syntax_error_line_is_the_offending_one() -> None:
    text = "kind: ContactCenter\nmetadata:\n  name: eu\n   bad: indent\n"
    assert "broken.yaml: line 4," in problems_of(text, "broken.yaml")


def test_unknown_kind_is_named_with_the_known_ones() -> None:
    message = problems_of(VALID.replace("kind: ContactCenter", "kind: CallCenter"))
    assert "cfg.yaml: document 1 (CallCenter \"eu\"): kind: unknown kind 'CallCenter'" in message
    assert "known kinds: ChannelEndpoint, ContactCenter" in message


def test_wrong_api_version_is_named_with_the_expected_one() -> None:
    message = problems_of(VALID.replace("contactcenter.dev/v1alpha1", "contactcenter.dev/v1"))
    assert (
        "apiVersion: expected 'contactcenter.dev/v1alpha1' for kind ContactCenter, got 'contactcenter.dev/v1'"
        in (message)
    )


def test_problems_of_every_document_are_reported_together() -> None:
    bad_second = VALID.replace("name: eu", "name: eu-2").replace("region: eu", "region: EU")
    bad_third = "just a string\n"
    message = problems_of(VALID + "---\n" + bad_second + "---\n" + bad_third)
    assert 'document 2 (ContactCenter "eu-2"): spec.region:' in message
    assert "document 3: expected a mapping" in message


def test_one_bad_file_fails_the_whole_set(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(VALID)
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("name: eu", "name: us").replace("timeZone: Europe/Berlin", "timeZone: 3"))
    with pytest.raises(ConfigFileError) as caught:
        load_files([good, bad])
    assert caught.value.problems == [
        f'{bad}: document 1 (ContactCenter "us"): spec.timeZone: Input should be a valid string, got 3'
    ]


def test_same_resource_twice_in_one_apply_is_rejected(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(VALID)
    second.write_text(VALID)
    with pytest.raises(ConfigFileError, match=r"same kind and name as .*a\.yaml document 1"):
        load_files([first, second])


def test_missing_file_and_empty_file_are_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n")
    with pytest.raises(ConfigFileError) as caught:
        load_files([tmp_path / "absent.yaml", empty])
    assert caught.value.problems == [
        f"{tmp_path / 'absent.yaml'}: cannot read file: No such file or directory",
        f"{empty}: no documents found",
    ]


def test_field_path_uses_camel_case_and_indices() -> None:
    loc = ("spec", "tenants", 0, "residency", "personal_data_regions", 2)
    assert field_path(loc) == "spec.tenants[0].residency.personalDataRegions[2]"


def test_ccctl_get_masks_secrets_unless_asked() -> None:
    from ccctl.commands.get import MASK, mask_secrets

    document = {"spec": {"secret": "whsec_abc", "url": "https://x", "connectors": [{"token": "t0k"}]}}
    masked = mask_secrets(document)
    assert masked["spec"]["secret"] == MASK and masked["spec"]["connectors"][0]["token"] == MASK
    assert masked["spec"]["url"] == "https://x"
    assert "whsec_abc" not in str(masked) and "t0k" not in str(masked)


CHANNEL = """
apiVersion: contactcenter.dev/v1alpha1
kind: ChannelEndpoint
metadata:
  name: acme-sms
spec:
  region: eu
  tenant: acme
  channel: sms
  provider: twilio
  address: "+442071838750"
  queue: support
  twilio:
    accountSid: AC00000000000000000000000000000000
    authToken: a-token-that-is-long-enough
"""


def test_channel_endpoint_examples_load() -> None:
    documents = load_files([EXAMPLES / "channels" / "eu.yaml"])
    assert {document.document.spec.channel for document in documents} == {  # type: ignore[attr-defined]
        "sms",
        "voice",
        "whatsapp",
        "email",
        "webchat",
        "api",
    }


def test_channel_endpoint_errors_name_the_field_and_never_quote_secrets() -> None:
    assert parse_documents(CHANNEL, "cfg.yaml")[0].document.kind == "ChannelEndpoint"
    message = problems_of(CHANNEL.replace("provider: twilio", "provider: whatsapp_cloud"))
    assert "channel sms is served by 'twilio'" in message
    message = problems_of(CHANNEL.replace("authToken: a-token-that-is-long-enough", "authToken: short"))
    assert "spec.twilio.authToken" in message and "short" not in message
    message = problems_of(CHANNEL.replace('address: "+442071838750"', "address: support"))
    assert "E.164" in message
    message = problems_of(CHANNEL.replace("  queue: support\n", ""))
    assert "flow or queue" in message
