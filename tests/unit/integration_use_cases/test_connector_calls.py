"""`ConnectorCalls` over fakes: a journey's integration step calls the tenant's connector that
answers it, with the customer's identifier from the contact's opening event, and gets the fields
mapped from the answer; an unknown integration, another tenant's connector, residency, a missing
identifier, a failing or slow system and a broken mapping each give their own error, naming it.
A connector that only journeys call delivers no events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ccmesh.configplane.loader import load_file, validate_document
from ccmesh.configplane.models import ContactCenter, IntegrationConnector, Tenant
from integration.adapters.webhook_sender import SendResult
from integration.domain.flow_calls import ContactFacts
from integration.service_layer.connector_calls import (
    CallRefused,
    ConnectorCalls,
    ConnectorFailed,
    ConnectorTimedOut,
    UnknownIntegration,
)
from integration.service_layer.dispatcher import connector_endpoint_of

SECRET_TOKEN = "crm-secret-token-value"


def connector(name: str = "acme-crm", tenant: str = "acme", region: str = "eu", **spec: Any) -> Any:
    document = validate_document(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "IntegrationConnector",
            "metadata": {"name": name},
            "spec": {
                "tenant": tenant,
                "type": "crm",
                "endpointRegion": region,
                "baseUrl": "http://crm.local/api",
                "token": SECRET_TOKEN,
                "flowIntegrations": [
                    {
                        "name": "crm-account",
                        "path": "/customers/{identifier}?topic={topic}",
                        "params": {"topic": "inputs.intent"},
                        "fields": {"tier": "response.tier", "orders": "response.orders"},
                    },
                    {"name": "crm-cases", "path": "/contacts/{contactId}/cases"},
                ],
                **spec,
            },
        }
    )
    assert isinstance(document, IntegrationConnector)
    return document


class FakeDirectory:
    def __init__(self, *connectors: IntegrationConnector, tenants: dict[str, Tenant] | None = None) -> None:
        self.documents = list(connectors)
        self.tenants = tenants if tenants is not None else {"acme": Tenant(id="acme")}

    def connectors(self) -> list[IntegrationConnector]:
        return self.documents

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)


class FakeOpenings:
    """The contact's opening event, taken after `late` asks (the log lags the journey)."""

    def __init__(self, facts: dict[str, ContactFacts] | None = None, late: int = 0) -> None:
        self.known = facts if facts is not None else {"c1": ContactFacts("c1", "+447700900123", "retail")}
        self.late = late
        self.asked = 0

    async def facts(self, tenant_id: str, contact_id: str) -> ContactFacts | None:
        self.asked += 1
        if self.asked <= self.late:
            return None
        return self.known.get(contact_id)


class FakeHttp:
    def __init__(self, result: SendResult | None = None, answer: Any = None, delay: float = 0.0) -> None:
        self.result = result or SendResult(True, 200)
        self.answer = answer if answer is not None else {"tier": "gold", "orders": 3, "name": "Ann"}
        self.delay = delay
        self.calls: list[tuple[str, str, str, float]] = []

    async def get(self, base_url: str, token: str, path: str, timeout: float) -> tuple[SendResult, Any]:
        self.calls.append((base_url, token, path, timeout))
        if self.delay:
            await asyncio.sleep(self.delay)  # ignores its timeout: the use case must not wait
        return self.result, self.answer


def calls(
    *connectors: IntegrationConnector,
    http: FakeHttp | None = None,
    openings: FakeOpenings | None = None,
    tenants: dict[str, Tenant] | None = None,
    local_mode: bool = True,
) -> tuple[ConnectorCalls, FakeHttp]:
    http = http or FakeHttp()
    directory = FakeDirectory(*(connectors or (connector(),)), tenants=tenants)
    use_case = ConnectorCalls(directory, openings or FakeOpenings(), http, "eu", local_mode=local_mode)
    return use_case, http


async def test_the_connector_is_called_with_the_contacts_identifier_and_its_answer_mapped() -> None:
    use_case, http = calls()
    answer = await use_case.invoke("acme", "c1", "crm-account", {"intent": "billing question"}, 2.0)
    assert (answer.connector, answer.found, answer.fields) == (
        "acme-crm",
        True,
        {"tier": "gold", "orders": "3"},
    )
    [(base_url, token, path, timeout)] = http.calls
    assert (base_url, token) == ("http://crm.local/api", SECRET_TOKEN)
    assert path == "/customers/%2B447700900123?topic=billing%20question"
    assert 0 < timeout <= 2.0


async def test_without_mapped_fields_the_answers_top_level_fields_come_back_as_text() -> None:
    use_case, http = calls(http=FakeHttp(answer={"open": 2, "cases": [{"id": "K1"}], "note": None}))
    answer = await use_case.invoke("acme", "c1", "crm-cases", {}, 2.0)
    assert answer.fields == {"open": "2", "cases": '[{"id":"K1"}]', "note": ""}
    assert http.calls[0][2] == "/contacts/c1/cases"


async def test_a_record_the_system_does_not_know_is_an_answer_without_fields() -> None:
    use_case, _ = calls(http=FakeHttp(SendResult(True, 404)))
    answer = await use_case.invoke("acme", "c1", "crm-account", {"intent": "x"}, 2.0)
    assert (answer.found, answer.fields) == (False, {})


async def test_an_opening_event_taken_a_little_late_is_waited_for() -> None:
    openings = FakeOpenings(late=2)
    use_case, http = calls(openings=openings)
    answer = await use_case.invoke("acme", "c1", "crm-account", {"intent": "x"}, 2.0)
    assert answer.found and openings.asked == 3 and len(http.calls) == 1


async def test_an_integration_no_connector_of_the_tenant_answers_is_unknown_by_name() -> None:
    others = connector("globex-crm", tenant="globex")
    disabled = connector("acme-off", enabled=False)
    use_case, http = calls(others, disabled)
    with pytest.raises(UnknownIntegration, match="tenant 'acme' answers integration 'crm-account'"):
        await use_case.invoke("acme", "c1", "crm-account", {}, 2.0)
    with pytest.raises(UnknownIntegration, match="'payment-confirmed'"):
        await use_case.invoke("acme", "c1", "payment-confirmed", {}, 2.0)
    assert http.calls == []


async def test_residency_keeps_the_customers_identifier_out_of_another_region() -> None:
    use_case, http = calls(connector(region="us"))
    with pytest.raises(CallRefused, match="runs in 'us'") as refused:
        await use_case.invoke("acme", "c1", "crm-account", {}, 2.0)
    assert SECRET_TOKEN not in str(refused.value) and http.calls == []
    allowed = Tenant.model_validate({"id": "acme", "residency": {"personalDataRegions": ["us"]}})
    use_case, http = calls(connector(region="us"), tenants={"acme": allowed})
    assert (await use_case.invoke("acme", "c1", "crm-account", {"intent": "x"}, 2.0)).found


async def test_a_tenant_not_served_in_the_region_and_a_contact_without_identifier_are_refused() -> None:
    use_case, _ = calls(tenants={})
    with pytest.raises(CallRefused, match="tenant 'acme' is not served in region 'eu'"):
        await use_case.invoke("acme", "c1", "crm-account", {}, 2.0)
    use_case, http = calls(openings=FakeOpenings({}))
    with pytest.raises(CallRefused, match="contact 'c9' has no customer identifier yet"):
        await use_case.invoke("acme", "c9", "crm-account", {"intent": "x"}, 0.2)
    assert http.calls == []


async def test_a_failing_system_is_a_failure_naming_the_connector_and_the_reason() -> None:
    use_case, _ = calls(http=FakeHttp(SendResult(False, 503, "HTTP 503")))
    with pytest.raises(ConnectorFailed, match="connector 'acme-crm': HTTP 503") as failed:
        await use_case.invoke("acme", "c1", "crm-account", {"intent": "x"}, 2.0)
    assert SECRET_TOKEN not in str(failed.value)


async def test_a_slow_system_times_out_within_the_steps_time() -> None:
    use_case, _ = calls(http=FakeHttp(delay=30))
    with pytest.raises(ConnectorTimedOut, match=r"no answer within 0\.2s"):
        await use_case.invoke("acme", "c1", "crm-account", {"intent": "x"}, 0.2)


async def test_an_answer_or_input_the_mappings_cannot_read_is_a_failure_naming_the_field() -> None:
    use_case, _ = calls(http=FakeHttp(answer={"name": "Ann"}))
    with pytest.raises(ConnectorFailed, match="fields: field 'tier'"):
        await use_case.invoke("acme", "c1", "crm-account", {"intent": "x"}, 2.0)
    use_case, _ = calls()
    with pytest.raises(ConnectorFailed, match="params: field 'topic'"):
        await use_case.invoke("acme", "c1", "crm-account", {}, 2.0)


async def test_a_plain_http_connector_is_refused_outside_local_mode() -> None:
    use_case, http = calls(local_mode=False)
    with pytest.raises(CallRefused, match=r"spec\.baseUrl must be https"):
        await use_case.invoke("acme", "c1", "crm-account", {"intent": "x"}, 2.0)
    assert http.calls == []


@pytest.mark.parametrize(
    ("integration", "problem"),
    [
        ({"name": "queue-status", "path": "/q"}, "'queue-status' is answered by the platform itself"),
        ({"name": "crm-account", "path": "/c/{phone}"}, "path: unknown placeholder(s) ['phone']"),
        ({"name": "crm-account", "path": "/c", "fields": {"a": "response =="}}, "'a': CEL expression"),
        ({"name": "Bad Name", "path": "/c"}, "spec.flowIntegrations[0].name: String should match"),
    ],
)
def test_bad_flow_integrations_are_refused_naming_the_field(
    integration: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match="flowIntegrations") as raised:
        connector(flowIntegrations=[integration])
    assert problem in str(raised.value)


def test_an_integration_named_twice_in_one_connector_is_refused() -> None:
    twice = [{"name": "crm-account", "path": "/a"}, {"name": "crm-account", "path": "/b"}]
    with pytest.raises(
        ValueError, match=r"flowIntegrations: name\(s\) \['crm-account'\] given more than once"
    ):
        connector(flowIntegrations=twice)


def test_a_connector_only_journeys_call_gets_no_event_delivery_worker() -> None:
    (sourced,) = load_file(Path(__file__).resolve().parents[3] / "examples" / "eu.yaml")
    assert isinstance(sourced.document, ContactCenter)
    only_journeys = connector()
    assert connector_endpoint_of(only_journeys, sourced.document, "eu", local_mode=True) is None
    with_lookup = connector(lookup={"path": "/customers?phone={identifier}"})
    endpoint = connector_endpoint_of(with_lookup, sourced.document, "eu", local_mode=True)
    assert endpoint is not None and endpoint.event_types == frozenset({"contact_created"})
