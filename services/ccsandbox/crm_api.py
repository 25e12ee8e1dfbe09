"""A small REST CRM, for the platform's connectors (journeys' CRM steps) to call.

- `GET /crm/v1/customers/<identifier>`: the customer's account (seeded), 404 when unknown;
- `GET /crm/v1/customers/<identifier>/cases`: `{"cases": [...], "open": <n>}`, 404 when unknown;
- `POST /sandbox/api/crm/customers` `{"identifier", "account": {...}, "cases": [...]}`: seed one;
- `GET /sandbox/api/crm/requests`: every request the CRM got, oldest first (`DELETE` forgets them
  and the customers).

Each request is recorded with whether it carried a bearer token (never the token). A fault
scripted on route `crm` (`POST /sandbox/api/faults`) answers the next CRM request instead.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from aiohttp import web

from ccsandbox.state import SandboxState, faulted

ROUTE = "crm"
MAX_REQUESTS = 1000


@dataclass(frozen=True)
class CrmRequest:
    seq: int
    at: float
    method: str
    path: str
    query: dict[str, str]
    bearer: bool
    status: int


@dataclass
class CrmCustomer:
    account: dict[str, Any]
    cases: list[dict[str, Any]] = field(default_factory=list)


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return _json({"error": {"message": message}}, status)


class CrmApi:
    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._customers: dict[str, CrmCustomer] = {}
        self._requests: list[CrmRequest] = []

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/crm/v1/customers/{identifier}", self._account)
        app.router.add_get("/crm/v1/customers/{identifier}/cases", self._cases)
        app.router.add_post("/sandbox/api/crm/customers", self._seed)
        app.router.add_get("/sandbox/api/crm/requests", self._recorded)
        app.router.add_delete("/sandbox/api/crm/requests", self._forget)

    async def _account(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, lambda customer: customer.account)

    async def _cases(self, request: web.Request) -> web.StreamResponse:
        def cases(customer: CrmCustomer) -> dict[str, Any]:
            still_open = sum(1 for case in customer.cases if case.get("status", "open") == "open")
            return {"cases": customer.cases, "open": still_open}

        return await self._answer(request, cases)

    async def _answer(self, request: web.Request, view: Any) -> web.StreamResponse:
        fault = self._state.faults.next(ROUTE)
        if await faulted(fault, request):
            self._record(request, 0)
            return web.Response()
        if fault is not None and fault.status:
            self._record(request, fault.status)
            answer = _error(fault.status, fault.message)
            if fault.retry_after:
                answer.headers["Retry-After"] = fault.retry_after
            return answer
        customer = self._customers.get(request.match_info["identifier"])
        if customer is None:
            self._record(request, 404)
            return _error(404, "customer: not known to the CRM")
        self._record(request, 200)
        return _json(view(customer))

    def _record(self, request: web.Request, status: int) -> None:
        seq = self._requests[-1].seq + 1 if self._requests else 1
        self._requests.append(
            CrmRequest(
                seq=seq,
                at=time.time(),
                method=request.method,
                path=request.path,
                query=dict(request.query),
                bearer=request.headers.get("Authorization", "").startswith("Bearer "),
                status=status,
            )
        )
        del self._requests[:-MAX_REQUESTS]

    async def _seed(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError as error:
            return _error(400, f"body: not JSON ({error})")
        if not isinstance(body, dict):
            return _error(400, "body: a JSON object is needed")
        identifier = body.get("identifier")
        if not isinstance(identifier, str) or not identifier:
            return _error(400, "identifier: a non-empty string is needed")
        account = body.get("account", {})
        if not isinstance(account, dict):
            return _error(400, "account: a JSON object is needed")
        cases = body.get("cases", [])
        if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
            return _error(400, "cases: a list of JSON objects is needed")
        self._customers[identifier] = CrmCustomer(account, cases)
        return _json({"identifier": identifier, "customers": len(self._customers)}, 201)

    async def _recorded(self, _request: web.Request) -> web.Response:
        return _json({"requests": [asdict(r) for r in self._requests]})

    async def _forget(self, _request: web.Request) -> web.Response:
        self._requests.clear()
        self._customers.clear()
        return _json({"requests": []})
