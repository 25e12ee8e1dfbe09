"""Overflow rules in the config plane: checked against the tenant's residency when applied."""

from pathlib import Path

import pytest

from ccmesh.configplane.loader import ConfigFileError, load_file, parse_documents
from ccmesh.configplane.models import ContactCenter

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "routing" / "follow-the-sun.yaml"


def test_the_example_with_allowed_overflow_is_accepted() -> None:
    (document,) = load_file(EXAMPLE)
    assert isinstance(document.document, ContactCenter)
    rules = document.document.spec.routing.overflow
    assert [(r.name, r.target_region) for r in rules] == [
        ("retail-to-outlet-pool", None),
        ("retail-follow-the-sun", "eu"),
    ]


def test_overflow_to_a_pseudonymous_region_is_accepted() -> None:
    """A hand-over carries no personal data, so a region the residency lists as pseudonymous
    may take it (its agents read the conversation from the home region at view time)."""
    text = EXAMPLE.read_text().replace("targetRegion: eu", "targetRegion: us")
    (document,) = parse_documents(text, "follow-the-sun.yaml")
    assert isinstance(document.document, ContactCenter)
    assert document.document.spec.routing.overflow[1].target_region == "us"


def test_overflow_to_a_region_the_residency_policy_forbids_is_rejected() -> None:
    text = (
        EXAMPLE.read_text()
        .replace("targetRegion: eu", "targetRegion: us")
        .replace("pseudonymousRegions: [us]", "pseudonymousRegions: []")
    )
    with pytest.raises(ConfigFileError) as caught:
        parse_documents(text, "follow-the-sun.yaml")
    message = str(caught.value)
    assert "'retail-follow-the-sun'" in message and "targetRegion" in message
    assert "'us'" in message and "'uk'" in message and "['eu', 'uk']" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("targetRegion: eu", "targetRegion: mars", "unknown region 'mars'"),
        (
            "        tenant: acme\n        queue: retail-chat\n        targetQueue: outlet-chat",
            "        tenant: nobody\n        queue: retail-chat\n        targetQueue: outlet-chat",
            "unknown tenant 'nobody'",
        ),
        ("        depthOver: 25\n", "", "needs a threshold"),
    ],
)
def test_other_bad_rules_are_rejected_by_name(old: str, new: str, expected: str) -> None:
    text = EXAMPLE.read_text()
    assert old in text
    with pytest.raises(ConfigFileError, match=expected):
        parse_documents(text.replace(old, new), "follow-the-sun.yaml")
