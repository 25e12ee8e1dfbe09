"""Typed config from CC_ variables (ccmesh.config): no I/O."""

from __future__ import annotations

import pytest
from pydantic import Field

from ccmesh.config import SECRET_MARK, ConfigError, MeshConfig, load_config

SECRET = "a-very-secret-value-123"


def test_good_values_are_typed() -> None:
    config = load_config(
        MeshConfig,
        environ={
            "CC_REGION": "eu-west",
            "CC_NATS_URL": "nats://a:4222,nats://b:4222",
            "CC_GRPC_PORT": "7443",
            "CC_DEFAULT_DEADLINE_SECONDS": "2.5",
            "CC_PLACEMENT_BY_REGION": "true",
            "CC_AUTH_SECRET": SECRET,
            "UNRELATED": "ignored",
        },
    )
    assert config.region == "eu-west"
    assert config.grpc_port == 7443
    assert config.default_deadline_seconds == 2.5
    assert config.placement_by_region is True
    assert config.auth_secret == SECRET
    assert config.max_message_bytes == 512 * 1024  # default kept


def test_bad_integer_names_the_variable_and_value() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(MeshConfig, environ={"CC_GRPC_PORT": "abc", "CC_AUTH_SECRET": SECRET})
    text = str(caught.value)
    assert "CC_GRPC_PORT" in text
    assert "'abc'" in text
    assert "integer" in text


def test_too_short_secret_is_reported_without_its_value() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(MeshConfig, environ={"CC_AUTH_SECRET": "hunter2"})
    text = str(caught.value)
    assert "CC_AUTH_SECRET" in text
    assert "value hidden" in text
    assert "hunter2" not in text
    assert "hunter2" not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_missing_secret_and_bad_region_are_reported_together() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(MeshConfig, environ={"CC_REGION": "EU WEST"})
    text = str(caught.value)
    assert "CC_AUTH_SECRET" in text
    assert "CC_REGION" in text and "'EU WEST'" in text


def test_out_of_range_port_is_refused() -> None:
    with pytest.raises(ConfigError, match="CC_GRPC_PORT"):
        load_config(MeshConfig, environ={"CC_GRPC_PORT": "70000", "CC_AUTH_SECRET": SECRET})


@pytest.mark.parametrize("window", ["-0.001", "0.5", "soon"])
def test_a_nats_write_window_out_of_bounds_is_refused_by_name(window: str) -> None:
    with pytest.raises(ConfigError, match="CC_NATS_WRITE_WINDOW_SECONDS"):
        load_config(MeshConfig, environ={"CC_NATS_WRITE_WINDOW_SECONDS": window, "CC_AUTH_SECRET": SECRET})
    zero = load_config(MeshConfig, environ={"CC_NATS_WRITE_WINDOW_SECONDS": "0", "CC_AUTH_SECRET": SECRET})
    assert zero.nats_write_window_seconds == 0.0


def test_custom_prefix() -> None:
    config = load_config(MeshConfig, prefix="IDENTITY_", environ={"IDENTITY_AUTH_SECRET": SECRET})
    assert config.auth_secret == SECRET


def test_redacted_masks_the_secret_and_keeps_the_rest() -> None:
    config = MeshConfig(region="us", auth_secret=SECRET, grpc_port=0)
    shown = config.redacted()
    assert shown["auth_secret"] == "***"
    assert shown["region"] == "us"
    assert shown["grpc_port"] == 0
    assert set(shown) == set(MeshConfig.model_fields)
    assert SECRET not in str(shown)


def test_subclass_secrets_are_masked_and_hidden_in_errors() -> None:
    class ServiceConfig(MeshConfig):
        provider_api_key: str = Field(default="", min_length=12, json_schema_extra={SECRET_MARK: True})

    config = ServiceConfig(auth_secret=SECRET, provider_api_key="pk-live-123456")
    assert config.redacted()["provider_api_key"] == "***"
    with pytest.raises(ConfigError) as caught:
        load_config(ServiceConfig, environ={"CC_AUTH_SECRET": SECRET, "CC_PROVIDER_API_KEY": "pk-short"})
    assert "CC_PROVIDER_API_KEY" in str(caught.value)
    assert "pk-short" not in str(caught.value)


def test_config_is_frozen() -> None:
    config = MeshConfig(auth_secret=SECRET)
    with pytest.raises(ValueError, match="frozen"):
        config.region = "us"


def test_the_event_loop_is_uvloop_unless_asyncio_is_asked_and_nothing_else_is_accepted() -> None:
    assert load_config(MeshConfig, environ={"CC_AUTH_SECRET": SECRET}).event_loop == "uvloop"
    chosen = load_config(MeshConfig, environ={"CC_EVENT_LOOP": "asyncio", "CC_AUTH_SECRET": SECRET})
    assert chosen.event_loop == "asyncio"
    with pytest.raises(ConfigError, match=r"CC_EVENT_LOOP.*'trio'"):
        load_config(MeshConfig, environ={"CC_EVENT_LOOP": "trio", "CC_AUTH_SECRET": SECRET})
