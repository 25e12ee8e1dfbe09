"""The platform bench's subject capture folds per-message parts of a subject, never the names
an operator chose: a consumer named `gateway-journey-steps` is counted under its name."""

from __future__ import annotations

from bench.platform.meters import operation_of, subject_shape


def test_a_long_consumer_name_is_kept_and_ids_are_folded() -> None:
    assert (
        subject_shape("$JS.API.CONSUMER.MSG.NEXT.events-eu.gateway-journey-steps")
        == "$JS.API.CONSUMER.MSG.NEXT.events-eu.gateway-journey-steps"
    )
    assert (
        subject_shape("$JS.API.CONSUMER.INFO.events-eu.0f3a9c2b7d1e4f5a")
        == "$JS.API.CONSUMER.INFO.events-eu.*"
    )
    assert subject_shape("$KV.acd-eu.contact.acme.0f3a9c2b7d1e4f5a") == "$KV.acd-eu.contact (kv put)"
    assert (
        subject_shape("ccevt.eu.acme.contact_created.0f3a9c2b7d1e4f5a") == "ccevt.eu.acme.contact_created.*"
    )


def test_a_reply_counts_with_its_request() -> None:
    assert operation_of("reply to $KV.acd-eu.agent (kv put)") == "$KV.acd-eu.agent (kv put)"
    assert operation_of("$KV.acd-eu.agent (kv put) => KV_acd-eu/x1 (delivery)") == "$KV.acd-eu.agent (kv put)"
