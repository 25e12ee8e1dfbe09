"""The HTTP edge's pure parts: bucket memory under many sources, the access line of a
request refused while parsing, and the edge's settings read from CC_ variables."""

from __future__ import annotations

import logging

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from ccmesh.config import ConfigError, load_config
from gateway.config import GatewayConfig
from gateway.domain.rate_limit import RateLimiter
from gateway.entrypoints.edge_access_log import ACCESS_FIELDS, EdgeAccessLogger, protocol_problem

REQUIRED = {"CC_AUTH_SECRET": "0123456789abcdef0123"}


def test_a_full_limiter_forgets_refilled_buckets_and_keeps_draining_ones() -> None:
    limiter = RateLimiter(max_keys=10)
    # One source spends its whole burst: it must stay limited while others come and go.
    assert [limiter.retry_after("flooder", 1.0, 2, 0.0) for _ in range(3)] == [0, 0, 1]
    for index in range(9):
        assert limiter.retry_after(f"once-{index}", 1.0, 2, 0.0) == 0
    # Later, the full limiter takes a new key by forgetting those refilled since.
    assert limiter.retry_after("newcomer", 1.0, 2, 5.0) == 0
    assert limiter.retry_after("flooder", 1.0, 100, 5.0) == 0  # a changed limit is a new bucket


def test_a_full_limiter_of_draining_buckets_is_emptied_rather_than_scanned_forever() -> None:
    limiter = RateLimiter(max_keys=10)
    for index in range(10):
        limiter.retry_after(f"key-{index}", 0.001, 1, 0.0)
    # Every bucket is still empty (slow refill): all are forgotten, the new key gets in.
    assert limiter.retry_after("new", 0.001, 1, 1.0) == 0
    assert limiter.retry_after("key-0", 0.001, 1, 1.0) == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "Got more than 8190 bytes when reading: b'X-Big: aaaa...'.",
            "Got more than 8190 bytes when reading",
        ),
        ("Too many headers received", "Too many headers received"),
        ("Bad HTTP method in status line b'\\x16\\x03\\x01'", "Bad HTTP method in status line"),
        ('Invalid HTTP header: "Authorization: Bearer secret"', "Invalid HTTP header"),
    ],
)
def test_the_problem_of_a_refused_head_never_repeats_the_clients_bytes(text: str, problem: str) -> None:
    assert protocol_problem(web.Response(status=400, text=text)) == problem


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _logger() -> tuple[logging.Logger, Lines]:
    logger = logging.getLogger("test.edge.access")
    logger.setLevel(logging.INFO)
    lines = Lines()
    logger.handlers = [lines]
    return logger, lines


def test_a_request_refused_while_parsing_is_one_info_line() -> None:
    logger, lines = _logger()
    answer = web.Response(status=400, text="Got more than 8190 bytes when reading: b'aaaa'.")
    EdgeAccessLogger(logger, "").log(make_mocked_request("GET", "/"), answer, 0.002)
    assert [record.levelno for record in lines.records] == [logging.INFO]
    line = orjson.loads(lines.records[0].getMessage())
    assert (line["route"], line["status"], line["error"], line["method"]) == (
        "unparsed",
        400,
        "INVALID_ARGUMENT",
        "",
    )
    assert "aaaa" not in lines.records[0].getMessage()


def test_a_request_the_edge_saw_is_logged_with_its_fields_and_the_final_status() -> None:
    logger, lines = _logger()
    request = make_mocked_request("POST", "/v1/generic/x/messages")
    request[ACCESS_FIELDS] = {"method": "POST", "route": "/v1/generic/{endpoint}/messages", "error": ""}
    EdgeAccessLogger(logger, "").log(request, web.Response(status=201), 0.0015)
    line = orjson.loads(lines.records[0].getMessage())
    assert (line["route"], line["status"], line["duration_ms"]) == (
        "/v1/generic/{endpoint}/messages",
        201,
        1.5,
    )


def test_the_edge_limits_have_defaults_and_a_bad_value_names_its_variable() -> None:
    config = load_config(GatewayConfig, environ=REQUIRED)
    assert config.http_idle_seconds > 0 and config.http_body_seconds > 0
    assert config.http_unverified_burst >= 1
    with pytest.raises(ConfigError, match="CC_HTTP_IDLE_SECONDS"):
        load_config(GatewayConfig, environ={**REQUIRED, "CC_HTTP_IDLE_SECONDS": "0"})
    with pytest.raises(ConfigError, match="CC_HTTP_MAX_FIELD_BYTES"):
        load_config(GatewayConfig, environ={**REQUIRED, "CC_HTTP_MAX_FIELD_BYTES": "lots"})
