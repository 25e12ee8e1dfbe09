"""The OpenAPI 3.1 document of every HTTP endpoint the gateway serves: `GET /openapi.json`.

Written as data next to the code it describes. When the app starts, every route it holds is
checked against the document and an undocumented one is logged as an error (the integration
tests fail on that), so a route added without its documentation does not go unnoticed. The
WebSocket message formats are described in docs/websocket-api.md.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web

from ccmesh.customer_views import IDENTIFIER_KINDS
from gateway.entrypoints.http import RouteAdder
from gateway.entrypoints.openapi_schemas import SCHEMAS
from gateway.entrypoints.openapi_schemas import ref as _ref

log = logging.getLogger(__name__)

_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"


def _error(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {_JSON: {"schema": _ref("Error")}}}
    if retry_after:
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
        }
    return response


_ERRORS = {
    "400": _error(
        "Malformed request (bad JSON, invalid UTF-8, missing or invalid field); the message names it."
    ),
    "404": _error("Unknown or disabled channel endpoint, or unknown tenant."),
    "408": _error("Body not received within the gateway's deadline; the connection is closed."),
    "413": _error("Body larger than the gateway's limit (refused before it is read)."),
    "415": _error("Wrong Content-Type; the message names the expected one."),
    "429": _error(
        "Rate limit of the tenant or endpoint exceeded (spent only by callers whose signature or "
        "token was verified), or too many requests without a valid one from this source address.",
        retry_after=True,
    ),
    "503": _error("A service the gateway depends on is unavailable; retry later."),
}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _ERRORS[code] for code in codes}


_ENDPOINT = {
    "name": "endpoint",
    "in": "path",
    "required": True,
    "description": "Name of the ChannelEndpoint (its `metadata.name`).",
    "schema": {"type": "string"},
}
_TENANT = {"name": "tenant", "in": "path", "required": True, "schema": {"type": "string"}}
_TWIML = {"text/xml": {"schema": {"type": "string", "description": "TwiML `<Response>` document."}}}
_HTML = {"text/html": {"schema": {"type": "string"}}}
_TWILIO_SECURITY: list[dict[str, list[str]]] = [{"twilioSignature": []}]
_UNSIGNED = _error("Signature missing or wrong; nothing was accepted.")


def _twilio_post(
    summary: str, form: str, ok: str, *, query: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "tags": ["twilio"],
            "security": _TWILIO_SECURITY,
            "parameters": [_ENDPOINT, *(query or [])],
            "requestBody": {"required": True, "content": {_FORM: {"schema": _ref(form)}}},
            "responses": {"200": {"description": ok, "content": _TWIML}, "401": _UNSIGNED}
            | _errors("400", "404", "408", "413", "415", "429", "503"),
        }
    }


def _page(summary: str, *, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "The page.", "content": _HTML}}
    if parameters:
        responses |= _errors("404")
    return {
        "get": {"summary": summary, "tags": ["pages"], "parameters": parameters or [], "responses": responses}
    }


def _socket(summary: str, *, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "description": "WebSocket upgrade; message formats in docs/websocket-api.md.",
            "tags": ["websocket"],
            "parameters": parameters or [],
            "responses": {"101": {"description": "Switching to the WebSocket protocol."}}
            | _errors("400", "404", "429"),
        }
    }


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema or {"type": "string"}}


_CUSTOMER_ID = {"name": "customer_id", "in": "path", "required": True, "schema": {"type": "string"}}
_BRAND_QUERY = _query("brand", "Brand whose customers to search; required where the tenant isolates brands.")
_IDENTIFIER_QUERY = [
    _query(kind, f"The customer's {kind.replace('_', ' ')} (give at least one identifier).")
    for kind in IDENTIFIER_KINDS
]
_LIMIT_QUERY = _query("limit", "Entries per page, 1-200 (default 50).", {"type": "integer"})
_PAGE_TOKEN_QUERY = _query("pageToken", "`nextPageToken` of the previous page.")


def _customer_read(summary: str, parameters: list[dict[str, Any]], schema: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary + " Bearer token of an admin, supervisor or agent of the tenant.",
            "tags": ["customers"],
            "security": [{"bearer": []}],
            "parameters": [_TENANT, *parameters],
            "responses": {
                "200": {"description": "Found.", "content": {_JSON: {"schema": _ref(schema)}}},
                "401": _error("Missing or invalid token."),
                "403": _error("Token of another tenant, without the role, or of another brand."),
                "404": _error("No such customer (or none owns the identifier)."),
            }
            | _errors("400", "429", "503"),
        }
    }


def openapi_document() -> dict[str, Any]:
    accepted = {"content": {_JSON: {"schema": _ref("Accepted")}}}
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "summary": "Liveness and readiness of this gateway instance.",
                "tags": ["operations"],
                "responses": {
                    "200": {"description": "Serving.", "content": {_JSON: {"schema": {"type": "object"}}}}
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document.",
                "tags": ["operations"],
                "responses": {
                    "200": {"description": "OpenAPI 3.1.", "content": {_JSON: {"schema": {"type": "object"}}}}
                },
            }
        },
        "/v1/tenants/{tenant}/messages": {
            "post": {
                "summary": "Submit one inbound customer message (bearer token, roles admin or integration).",
                "tags": ["tenant"],
                "security": [{"bearer": []}],
                "parameters": [_TENANT],
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("TenantMessage")}}},
                "responses": {
                    "201": {"description": "Accepted.", **accepted},
                    "200": {"description": "A retry of an accepted message; nothing new.", **accepted},
                    "401": _error("Missing or invalid token."),
                    "403": _error("Token of another tenant or without the role."),
                    "409": _error("The same message is being processed right now; retry shortly."),
                }
                | _errors("400", "404", "408", "413", "415", "429", "503"),
            }
        },
        "/v1/tenants/{tenant}/queues": {
            "get": {
                "summary": "Queues with live depth, longest wait and service level (supervisor or admin).",
                "tags": ["tenant"],
                "security": [{"bearer": []}],
                "parameters": [_TENANT],
                "responses": {
                    "200": {
                        "description": "The queue board.",
                        "content": {_JSON: {"schema": {"type": "object"}}},
                    },
                    "401": _error("Missing or invalid token."),
                    "403": _error("Token of another tenant or without the role."),
                }
                | _errors("429", "503"),
            }
        },
        "/v1/tenants/{tenant}/reports": {
            "get": {
                "summary": "Contact-center metrics of a period by interval (supervisor or admin).",
                "description": "From this region's analytics store: offered, answered, abandoned, service "
                "level, speed of answer, handle time... per interval and group. A ratio with nothing "
                "to divide by is absent from its row. A bad parameter is a 400 naming it.",
                "tags": ["tenant"],
                "security": [{"bearer": []}],
                "parameters": [
                    _TENANT,
                    _query("start", "First day or instant (ISO 8601), included; required."),
                    _query("end", "Last day or instant (ISO 8601), excluded; required."),
                    _query("interval", "15m, hour (default) or day."),
                    _query("by", "Group by queue, agent, channel, brand, language or intent (default none)."),
                    _query("timeZone", "IANA time zone the intervals follow (default UTC)."),
                    _query(
                        "serviceLevelSeconds",
                        "One service-level threshold for every queue (default: each queue's target).",
                        {"type": "number", "minimum": 0},
                    ),
                    _query("fcrDays", "Repeat-contact window in days (default 7).", {"type": "integer"}),
                ],
                "responses": {
                    "200": {
                        "description": "The report: `{interval, timeZone, rows: [{start, end, ...}]}`.",
                        "content": {_JSON: {"schema": {"type": "object"}}},
                    },
                    "401": _error("Missing or invalid token."),
                    "403": _error("Token of another tenant or without the role."),
                }
                | _errors("400", "429", "503"),
            }
        },
        "/v1/tenants/{tenant}/customers": _customer_read(
            "Find the customer who owns an identifier (never creates one).",
            [*_IDENTIFIER_QUERY, _BRAND_QUERY],
            "Customer",
        ),
        "/v1/tenants/{tenant}/customers/{customer_id}": _customer_read(
            "Read one customer.", [_CUSTOMER_ID, _BRAND_QUERY], "Customer"
        ),
        "/v1/tenants/{tenant}/customers/{customer_id}/timeline": _customer_read(
            "The customer's cross-channel history, oldest first, AI insights told for people.",
            [_CUSTOMER_ID, _BRAND_QUERY, _LIMIT_QUERY, _PAGE_TOKEN_QUERY],
            "Timeline",
        ),
        "/v1/twilio/{endpoint}/sms": _twilio_post(
            "Twilio SMS webhook (MessageSid makes retries safe).", "TwilioSms", "Empty TwiML `<Response/>`."
        ),
        "/v1/twilio/{endpoint}/voice": _twilio_post(
            "Twilio voice webhook: a call starts (or our call back is answered).",
            "TwilioCall",
            "TwiML rendered from the journey (Say/Play, Gather, Enqueue, Dial, Hangup).",
            query=[
                {
                    "name": "contact",
                    "in": "query",
                    "required": False,
                    "description": "Set by the platform on call backs: the contact the call continues.",
                    "schema": {"type": "string"},
                }
            ],
        ),
        "/v1/twilio/{endpoint}/voice/gather": _twilio_post(
            "What the caller keyed or said continues the journey.",
            "TwilioCall",
            "TwiML of the journey's next step.",
            query=[
                {"name": "step", "in": "query", "required": True, "schema": {"type": "integer"}},
                {"name": "contact", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "silent", "in": "query", "required": False, "schema": {"type": "integer"}},
            ],
        ),
        "/v1/twilio/{endpoint}/voice/wait": _twilio_post(
            "Enqueue's waitUrl: what a queued caller hears.", "TwilioCall", "Hold TwiML."
        ),
        "/v1/twilio/{endpoint}/voice/hold-key": _twilio_post(
            "A key the caller on hold pressed: 1 leaves the call and keeps the place in the queue as a "
            "call back to the calling number; any other key returns to the hold music.",
            "TwilioCall",
            "A goodbye then `<Hangup/>` (call back kept), or the hold TwiML again.",
        ),
        "/v1/twilio/{endpoint}/voice/status": _twilio_post(
            "Twilio's StatusCallback: an ended call is recorded; a caller who hangs up while queued "
            "abandons the contact (ContactClosed outcome `abandoned`).",
            "TwilioCallStatus",
            "Empty TwiML `<Response/>`.",
        ),
        "/v1/twilio/{endpoint}/recording": _twilio_post(
            "Twilio's recordingStatusCallback: a completed recording is fetched from the provider, kept "
            "in the region's recordings store and announced (RecordingStored); transcribed after the "
            "call when no live media stream was. 422: the provider's file is no recording.",
            "TwilioRecordingStatus",
            "Empty TwiML `<Response/>`.",
            query=[
                {"name": "contact", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "transcribe", "in": "query", "required": False, "schema": {"enum": ["0", "1"]}},
            ],
        ),
        "/v1/whatsapp/{endpoint}": {
            "get": {
                "summary": "Meta's subscription check: echoes hub.challenge when hub.verify_token matches.",
                "tags": ["whatsapp"],
                "parameters": [
                    _ENDPOINT,
                    {"name": "hub.mode", "in": "query", "required": True, "schema": {"const": "subscribe"}},
                    {
                        "name": "hub.verify_token",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {"name": "hub.challenge", "in": "query", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "The challenge.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "403": _error("hub.verify_token does not match."),
                }
                | _errors("400", "404", "429"),
            },
            "post": {
                "summary": "WhatsApp Cloud API webhook: messages (text, media by reference...) and statuses.",
                "tags": ["whatsapp"],
                "security": [{"hubSignature": []}],
                "parameters": [_ENDPOINT],
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("WhatsAppWebhook")}}},
                "responses": {
                    "200": {
                        "description": "Processed.",
                        "content": {_JSON: {"schema": _ref("WhatsAppResult")}},
                    },
                    "401": _UNSIGNED,
                }
                | _errors("400", "404", "408", "413", "415", "429", "503"),
            },
        },
        "/v1/generic/{endpoint}/messages": {
            "post": {
                "summary": "Generic provider API, signed: HMAC-SHA256 over `<X-CC-Timestamp>.<raw body>`.",
                "description": (
                    "Send `X-CC-Timestamp` (Unix seconds, within 5 minutes of the gateway's clock) and "
                    "`X-CC-Signature: sha256=<hex HMAC-SHA256(signing secret, timestamp + '.' + body)>`."
                ),
                "tags": ["generic"],
                "security": [{"ccSignature": [], "ccTimestamp": []}],
                "parameters": [_ENDPOINT],
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("GenericMessage")}}},
                "responses": {
                    "201": {"description": "Accepted.", **accepted},
                    "200": {"description": "A retry of an accepted message; nothing new.", **accepted},
                    "401": _error("Signature or timestamp missing, wrong or too old; nothing was accepted."),
                }
                | _errors("400", "404", "408", "413", "415", "429", "503"),
            }
        },
        "/chat/{endpoint}": _page("The web chat page of a web chat endpoint.", parameters=[_ENDPOINT]),
        "/widget.js": {
            "get": {
                "summary": "The embeddable chat widget script.",
                "tags": ["pages"],
                "responses": {"200": {"description": "JavaScript.", "content": {"text/javascript": {}}}},
            }
        },
        "/agent": _page("The agent workspace."),
        "/supervisor": _page("The supervisor view: queues with live depth, longest wait, service level."),
        "/reports": _page("The supervisor's reports: a period's metrics by interval and queue, as charts."),
        "/favicon.ico": {
            "get": {"summary": "Icon.", "tags": ["pages"], "responses": {"200": {"description": "SVG icon."}}}
        },
        "/static/{filename}": {
            "get": {
                "summary": "Static files of the pages (scripts, styles).",
                "tags": ["pages"],
                "parameters": [
                    {"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "The file."}, "404": {"description": "No such file."}},
            }
        },
        "/v1/webchat/{endpoint}/ws": _socket("Web chat socket of a customer.", parameters=[_ENDPOINT]),
        "/v1/twilio/{endpoint}/media": _socket(
            "Twilio Media Stream of a voice call (started by the voice TwiML's `<Start><Stream>`; Twilio's "
            "connected/start/media/mark/dtmf/stop messages; the start's signed parameters bind it to the "
            "call's contact). Its audio is transcribed live (TranscriptSegment events).",
            parameters=[_ENDPOINT],
        ),
        "/v1/agent/ws": _socket("Agent workspace socket (token in the first message or Authorization)."),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Contact center gateway",
            "version": "1.0.0",
            "description": (
                "Channel webhooks, the tenant API, web chat and the agent workspace. Every error is JSON "
                '`{"error": {"code", "message"}}`; every response is traced (W3C traceparent honoured).'
            ),
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Token from `ccctl token`."},
                "twilioSignature": {"type": "apiKey", "in": "header", "name": "X-Twilio-Signature"},
                "hubSignature": {"type": "apiKey", "in": "header", "name": "X-Hub-Signature-256"},
                "ccSignature": {"type": "apiKey", "in": "header", "name": "X-CC-Signature"},
                "ccTimestamp": {"type": "apiKey", "in": "header", "name": "X-CC-Timestamp"},
            },
        },
    }


def route_paths(app: web.Application) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route the app serves (HEAD rides along with GET)."""
    found: set[tuple[str, str]] = set()
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        path = route.resource.canonical
        if isinstance(route.resource, web.StaticResource):
            path = path.rstrip("/") + "/{filename}"
        methods = ("get",) if route.method == "*" else (route.method.lower(),)
        found.update((method, path) for method in methods)
    return found


def undocumented(app: web.Application, document: dict[str, Any]) -> list[str]:
    paths = document["paths"]
    return sorted(f"{m.upper()} {p}" for m, p in route_paths(app) if m not in paths.get(p, {}))


def openapi_routes() -> RouteAdder:
    """Add last, after every other route group, so the start-up check sees them all."""
    body = orjson.dumps(openapi_document())

    async def serve_document(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type=_JSON)

    async def check(app: web.Application) -> None:
        missing = undocumented(app, openapi_document())
        if missing:
            log.error("undocumented HTTP routes (add them to gateway/entrypoints/openapi.py): %s", missing)

    def add(app: web.Application) -> None:
        app.router.add_get("/openapi.json", serve_document)
        app.on_startup.append(check)

    return add
