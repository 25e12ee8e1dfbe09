"""The responder process: `raw` echoes with plain nats-py, `mesh` serves MeshTestService."""

from __future__ import annotations

import argparse
import asyncio
import signal

import nats
from nats.aio.msg import Msg

from ccmesh import telemetry
from ccmesh.rpc_server import MeshServer
from ccmesh.testing.meshtest_servicer import DESCRIPTOR, MeshTestServicer

RAW_SUBJECT = "bench.raw.echo"


async def main(url: str, mode: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    nc = await nats.connect(url)
    if mode == "raw":

        async def echo(msg: Msg) -> None:
            await msg.respond(msg.data)

        await nc.subscribe(RAW_SUBJECT, queue="bench", cb=echo, pending_msgs_limit=65536)
    else:
        telemetry.setup_telemetry("bench-responder", region="bench", version="0.0.0", instance_id="responder")
        server = MeshServer(nc, region="bench", name="meshtest", version="0.1.0", instance_id="responder")
        server.add_servicer(MeshTestServicer(), DESCRIPTOR)
        await server.start()
    await nc.flush()
    print("ready", flush=True)
    await stop.wait()
    await nc.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", choices=["raw", "mesh"], required=True)
    options = parser.parse_args()
    asyncio.run(main(options.url, options.mode))
