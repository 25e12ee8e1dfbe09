"""Back-pressure settings in the ContactCenter: ceilings per tenant and per queue, and a
deflection answer whose mistakes are refused on apply, naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from ccctl.main import main as ccctl
from ccmesh.configplane.contactcenter import ContactCenter

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def contact_center(back_pressure: dict[str, Any]) -> ContactCenter:
    return ContactCenter.model_validate(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "ContactCenter",
            "metadata": {"name": "eu"},
            "spec": {"region": "eu", "tenants": [{"id": "acme", "backPressure": back_pressure}]},
        }
    )


def test_ceilings_and_the_answer_read_from_the_tenant() -> None:
    document = contact_center(
        {
            "maxWaiting": 50,
            "queues": [{"queue": "support", "maxWaiting": 10, "deflection": {"message": "Busy: {wait}."}}],
            "deflection": {"selfServiceUrl": "https://help.acme.example/faq"},
        }
    )
    tenant = document.spec.tenant("acme")
    assert tenant is not None
    settings = tenant.back_pressure
    assert settings.max_waiting == 50 and settings.guards_anything
    ceiling = settings.ceiling_of("support")
    assert ceiling is not None and ceiling.max_waiting == 10
    assert settings.ceiling_of("billing") is None
    assert "{self_service_url}" in settings.deflection.template()


def test_a_tenant_without_back_pressure_guards_nothing() -> None:
    settings = contact_center({}).spec.tenants[0].back_pressure
    assert not settings.guards_anything and settings.max_waiting is None


@pytest.mark.parametrize(
    ("back_pressure", "field", "says"),
    [
        ({"maxWaiting": -1}, "backPressure.maxWaiting", "greater than or equal to 0"),
        (
            {"queues": [{"queue": "support", "maxWaiting": -5}]},
            "queues.0.maxWaiting",
            "greater than or equal",
        ),
        ({"queues": [{"queue": "sup port", "maxWaiting": 1}]}, "queues.0.queue", "pattern"),
        (
            {"queues": [{"queue": "a", "maxWaiting": 1}, {"queue": "a", "maxWaiting": 2}]},
            "backPressure",
            "repeated: ['a']",
        ),
        (
            {"deflection": {"message": "Wait {minutes}"}},
            "deflection.message",
            "unknown placeholder(s) ['minutes']",
        ),
        ({"deflection": {"message": "Wait {wait"}}, "deflection.message", "not a valid template"),
        ({"deflection": {"message": "{wait:>5}"}}, "deflection.message", "takes no format"),
        ({"deflection": {"selfServiceUrl": "javascript:alert(1)"}}, "selfServiceUrl", "http or https URL"),
        ({"deflection": {"message": "See {self_service_url}"}}, "deflection", "selfServiceUrl is empty"),
        ({"maxWaitin": 3}, "maxWaitin", "Extra inputs are not permitted"),
    ],
)
def test_a_mistake_is_refused_naming_its_field(back_pressure: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(ValidationError) as refused:
        contact_center(back_pressure)
    text = str(refused.value)
    assert field in text and says in text


def test_ccctl_apply_refuses_a_bad_ceiling_naming_where_it_is_and_applies_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = yaml.safe_load((EXAMPLES / "eu.yaml").read_text())
    globex = next(t for t in document["spec"]["tenants"] if t["id"] == "globex")
    globex["backPressure"] = {
        "queues": [{"queue": "support", "maxWaiting": -3}],
        "deflection": {"message": "{when}"},
    }
    path = tmp_path / "eu.yaml"
    path.write_text(yaml.safe_dump(document))
    # Refused before any connection: the NATS URL leads nowhere.
    assert ccctl(["apply", "-f", str(path), "--nats-url", "nats://127.0.0.1:1"]) == 1
    said = capsys.readouterr().err
    assert (
        "spec.tenants[1].backPressure.queues[0].maxWaiting: Input should be greater than or equal to 0"
        in said
    )
    assert "spec.tenants[1].backPressure.deflection.message: unknown placeholder(s) ['when']" in said
    assert "nothing was applied" in said
