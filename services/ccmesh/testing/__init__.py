"""Test support shipped with the runtime: real nats-server topologies for pytest."""
