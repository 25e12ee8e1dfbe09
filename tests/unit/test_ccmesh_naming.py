"""Subjects, streams and buckets of the mesh (ccmesh.naming): no I/O."""

from __future__ import annotations

from ccmesh import naming


def test_rpc_subjects() -> None:
    assert naming.rpc_subject("eu", "identity", "ResolveCustomer") == "cc.eu.identity.v1.ResolveCustomer"
    assert naming.rpc_wildcard("eu", "identity") == "cc.eu.identity.v1.*"


def test_event_subjects_fall_in_the_region_stream() -> None:
    subject = naming.event_subject("us", "acme", "contact_created", "c-42")
    assert subject == "ccevt.us.acme.contact_created.c-42"
    stream = naming.events_stream("us")
    assert stream.name == "events-us"
    assert stream.subjects == ("ccevt.us.>",)
    assert subject.startswith(stream.subjects[0].removesuffix(">"))


def test_dead_letters_fall_in_the_region_dead_letter_stream() -> None:
    subject = naming.dead_letter_subject("eu", "routing-queue")
    assert subject == "ccdlq.eu.routing-queue"
    stream = naming.dead_letter_stream("eu")
    assert stream.name == "deadletter-eu"
    assert stream.subjects == ("ccdlq.eu.>",)


def test_region_streams_and_buckets() -> None:
    assert [s.name for s in naming.region_streams("eu")] == [
        "events-eu",
        "deadletter-eu",
        "actions-eu",
        "audit-eu",
    ]
    assert naming.region_buckets("eu") == [
        "identity-eu",
        "identity-history-eu",
        "gateway-eu",
        "integration-eu",
        "ai-eu",
        "flows-eu",
        "journeys-eu",
        "acd-eu",
    ]
    # Every region-named bucket the services create is one the operator creates with placement.
    assert all(name.endswith("-eu") for name in naming.region_buckets("eu"))
    assert naming.placement_tag("eu") == "region:eu"


def test_regions_never_share_a_subject_space() -> None:
    eu = {s for stream in naming.region_streams("eu") for s in stream.subjects}
    us = {s for stream in naming.region_streams("us") for s in stream.subjects}
    assert not eu & us
    assert naming.CONFIG_BUCKET == "cc-config"
