"""A port picked for a server started a moment later is one no outgoing connection can take
meanwhile: never among the kernel's ephemeral ports, never handed out twice, free when picked."""

from __future__ import annotations

import socket
from pathlib import Path

from ccmesh.natsserver import free_port


def test_picked_ports_are_below_the_ephemeral_range_distinct_and_free() -> None:
    ephemeral_from = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    picked = [free_port() for _ in range(100)]
    assert all(port < ephemeral_from for port in picked), [p for p in picked if p >= ephemeral_from]
    assert len(set(picked)) == len(picked)
    for port in picked[:20]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
            server.bind(("127.0.0.1", port))
