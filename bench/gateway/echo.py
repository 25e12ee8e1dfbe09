"""The ceiling for `bench/gateway`: a plain aiohttp endpoint that reads the body and answers JSON.

Run as its own process (`python -m bench.gateway.echo <port>`), like the gateway, so the client
and the server do not share a core's event loop in either measurement.
"""

from __future__ import annotations

import sys

import orjson
from aiohttp import web


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    document = orjson.loads(body)
    return web.Response(
        body=orjson.dumps({"echo": document.get("providerMessageId", "")}),
        status=201,
        content_type="application/json",
    )


def main() -> None:
    app = web.Application()
    app.router.add_post("/echo", echo)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
