"""Pure rules of webhook delivery: subscription checks, back-off, the breaker, bodies, residency."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook

from ccmesh.configplane.loader import DocumentError, validate_document
from ccmesh.configplane.models import ResidencyPolicy, Tenant, WebhookSubscriptionSpec
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from integration.domain import payloads
from integration.domain.breaker import BreakerState, CircuitBreaker
from integration.domain.residency import may_receive_personal_data
from integration.domain.retry import BackoffPolicy, parse_retry_after
from integration.domain.subscriptions import SubscriptionError, check, compile_filter, problems_of, secret_key

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def spec(**fields: object) -> WebhookSubscriptionSpec:
    values: dict[str, object] = {"tenant": "acme", "endpoint_region": "eu", "url": "https://x.example/h"}
    values["secret"] = SECRET
    values.update(fields)
    return WebhookSubscriptionSpec(**values)  # type: ignore[arg-type]


def test_a_good_subscription_has_no_problems() -> None:
    assert problems_of(spec(filter='event.type == "contact_closed"'), local_mode=False) == []


def test_http_is_refused_outside_local_mode_only() -> None:
    http = spec(url="http://127.0.0.1:9000/h")
    assert problems_of(http, local_mode=True) == []
    (problem,) = problems_of(http, local_mode=False)
    assert problem.startswith("spec.url: scheme must be https, got 'http'")
    assert "only in local mode" in problem
    assert problems_of(spec(url="ftp://x/h"), local_mode=True)[0].startswith(
        "spec.url: scheme must be https or http"
    )


def test_a_filter_that_does_not_compile_is_refused_with_the_compiler_message() -> None:
    with pytest.raises(ValidationError, match=r"CEL expression does not compile: .*Syntax error"):
        spec(filter="event.type ==")
    with pytest.raises(ValueError, match="Syntax error"):
        compile_filter("event.type ==")
    # A stored document that skipped validation is still refused by the service's own check.
    unchecked = WebhookSubscriptionSpec.model_construct(**{**spec().__dict__, "filter": "event.type =="})
    with pytest.raises(SubscriptionError) as raised:
        check("acme-crm", unchecked, local_mode=False)
    assert raised.value.problems[0].startswith("spec.filter: CEL expression does not compile: ")
    assert "acme-crm" in str(raised.value)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("whsec_", "at least 24 bytes, got 0"),
        ("whsec_!!!", "not valid base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "at least 24 bytes, got 5"),
    ],
)
def test_weak_or_broken_secrets_are_refused_without_quoting_them(secret: str, problem: str) -> None:
    (found,) = problems_of(spec(secret=secret), local_mode=True)
    assert found.startswith("spec.secret: ") and problem in found
    assert secret not in found.removeprefix("spec.secret: ") or secret == "whsec_"


@pytest.mark.parametrize(("secret", "problem"), [("", "a signing secret is required"), ("abc", "must start")])
def test_the_document_itself_requires_a_secret(secret: str, problem: str) -> None:
    raw = {
        "apiVersion": "contactcenter.dev/v1alpha1",
        "kind": "WebhookSubscription",
        "metadata": {"name": "acme-crm"},
        "spec": {"tenant": "acme", "endpointRegion": "eu", "url": "https://x/h", "secret": secret},
    }
    with pytest.raises(DocumentError) as raised:
        validate_document(raw)
    assert raised.value.problems[0].startswith("spec.secret: ") and problem in raised.value.problems[0]


def test_the_signing_key_is_what_standardwebhooks_uses() -> None:
    assert secret_key(SECRET) == b"k" * 32
    signed = Webhook(SECRET).sign("evt-1", datetime.now(UTC), '{"a":1}')
    assert Webhook(base64.b64encode(secret_key(SECRET)).decode()).verify(
        '{"a":1}',
        {
            "webhook-id": "evt-1",
            "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
            "webhook-signature": signed,
        },
    ) == {"a": 1}


def test_filters_match_on_the_body_and_a_missing_field_does_not_match() -> None:
    channel_sms = compile_filter('event.data.channel == "CHANNEL_KIND_SMS"')
    assert channel_sms.matches({"data": {"channel": "CHANNEL_KIND_SMS"}})
    assert not channel_sms.matches({"data": {"channel": "CHANNEL_KIND_VOICE"}})
    assert not channel_sms.matches({"type": "contact_closed"})
    assert compile_filter("").matches({})
    assert compile_filter("x") == compile_filter("x")  # equal by source: no needless worker restarts


def test_backoff_grows_with_full_jitter_up_to_the_ceiling_and_honours_retry_after() -> None:
    policy = BackoffPolicy(base_seconds=1.0, max_seconds=8.0, max_retry_after_seconds=60.0)
    rng = random.Random(7)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)):
        delays = [policy.delay(attempt, rng=rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1
    assert policy.delay(1, retry_after=30.0) == 30.0
    assert policy.delay(1, retry_after=3600.0) == 60.0


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def _state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state


def test_breaker_opens_after_the_threshold_probes_once_and_closes_on_success() -> None:
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=1.0, max_cooldown_seconds=4.0)
    for _ in range(3):
        assert breaker.wait_seconds(0.0) == 0.0
        breaker.record_failure(0.0)
    assert _state(breaker) is BreakerState.OPEN
    assert breaker.wait_seconds(0.5) == pytest.approx(0.5)
    assert breaker.wait_seconds(1.0) == 0.0  # the one probe
    assert _state(breaker) is BreakerState.HALF_OPEN
    assert breaker.wait_seconds(1.0) > 0  # everyone else waits for the probe
    breaker.record_failure(1.0)
    assert _state(breaker) is BreakerState.OPEN and breaker.current_cooldown == 2.0
    assert breaker.wait_seconds(3.0) == 0.0
    breaker.record_success()
    assert _state(breaker) is BreakerState.CLOSED and breaker.wait_seconds(3.0) == 0.0


def _event(**payload: object) -> events_pb2.Event:
    return events_pb2.Event(
        event_id="e1",
        tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
        region="eu",
        contact_id="c1",
        source="gateway",
        **payload,  # type: ignore[arg-type]
    )


def test_bodies_follow_the_documented_envelope() -> None:
    created = events_pb2.ContactCreated(channel=common_pb2.CHANNEL_KIND_SMS, customer_id="cust1")
    body = payloads.body_of(_event(contact_created=created))
    assert body["type"] == "contact_created" and body["version"] == payloads.BODY_VERSION
    assert (body["id"], body["tenantId"], body["brandId"], body["region"], body["contactId"]) == (
        "e1",
        "acme",
        "acme-retail",
        "eu",
        "c1",
    )
    assert body["data"]["channel"] == "CHANNEL_KIND_SMS" and body["data"]["customerId"] == "cust1"
    assert payloads.carries_personal_data("contact_created")
    assert not payloads.carries_personal_data("contact_queued")
    with pytest.raises(ValueError, match="no payload"):
        payloads.body_of(_event())


def test_personal_data_goes_only_to_the_home_region_or_allowed_ones() -> None:
    tenant = Tenant(id="acme", residency=ResidencyPolicy(personal_data_regions=["us"]))
    assert may_receive_personal_data(tenant, "eu", "eu")
    assert may_receive_personal_data(tenant, "eu", "us")
    assert not may_receive_personal_data(tenant, "eu", "ap-southeast")


def test_the_example_subscriptions_and_connectors_are_valid_outside_local_mode() -> None:
    from pathlib import Path

    from ccmesh.configplane.loader import load_file
    from ccmesh.configplane.models import IntegrationConnector, WebhookSubscription
    from integration.domain.connectors import compile_connector

    example = Path(__file__).resolve().parents[3] / "examples" / "integrations" / "eu.yaml"
    documents = [sourced.document for sourced in load_file(example)]
    subscriptions = [d for d in documents if isinstance(d, WebhookSubscription)]
    connectors = [d for d in documents if isinstance(d, IntegrationConnector)]
    assert len(subscriptions) == 2 and len(connectors) == 2
    assert all(problems_of(s.spec, local_mode=False) == [] for s in subscriptions)
    assert all(compile_connector(c.spec, local_mode=False)[1] == [] for c in connectors)
    (helpdesk,) = [c for c in connectors if c.spec.type == "helpdesk"]
    compiled, _ = compile_connector(helpdesk.spec, local_mode=False)
    assert compiled is not None and compiled.event_types == {"ai_ticket"}


def test_connector_requests_render_paths_and_mapped_fields() -> None:
    from ccmesh.configplane.models import IntegrationConnectorSpec
    from integration.domain.connectors import MappingError, compile_connector, render_request

    spec = IntegrationConnectorSpec.model_validate(
        {
            "tenant": "acme",
            "type": "helpdesk",
            "endpointRegion": "eu",
            "baseUrl": "http://h/api/",
            "requests": [
                {
                    "eventType": "ai_ticket",
                    "path": "/t/{contactId}/{eventId}",
                    "fields": {"s": "event.data.title"},
                }
            ],
        }
    )
    assert compile_connector(spec, local_mode=False)[1] == ["spec.baseUrl: scheme must be https, got 'http'"]
    compiled, problems = compile_connector(spec, local_mode=True)
    assert compiled is not None and problems == [] and compiled.base_url == "http://h/api"
    body = {"id": "e/1", "contactId": "c 1", "data": {"title": "Hi"}}
    assert render_request(compiled.requests[0], body) == ("POST", "/t/c%201/e%2F1", {"s": "Hi"})
    with pytest.raises(MappingError, match="field 's'"):
        render_request(compiled.requests[0], {"id": "e1", "contactId": "c1", "data": {}})


def test_errors_about_secrets_and_tokens_never_quote_them() -> None:
    long_secret = "whsec_" + "A" * 300
    raw = {
        "apiVersion": "contactcenter.dev/v1alpha1",
        "kind": "WebhookSubscription",
        "metadata": {"name": "acme-crm"},
        "spec": {"tenant": "acme", "endpointRegion": "eu", "url": "https://x/h", "secret": long_secret},
    }
    with pytest.raises(DocumentError) as raised:
        validate_document(raw)
    assert "at most 200 characters" in str(raised.value) and "AAAA" not in str(raised.value)
    connector = {
        "apiVersion": "contactcenter.dev/v1alpha1",
        "kind": "IntegrationConnector",
        "metadata": {"name": "acme-crm"},
        "spec": {
            "tenant": "acme",
            "type": "crm",
            "endpointRegion": "eu",
            "baseUrl": "https://c",
            "token": "T" * 5000,
        },
    }
    with pytest.raises(DocumentError) as token_error:
        validate_document(connector)
    assert "at most 4000 characters" in str(token_error.value) and "TTTT" not in str(token_error.value)
