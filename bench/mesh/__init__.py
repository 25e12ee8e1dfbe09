"""Mesh RPC against raw nats-py request/reply, same payload, responder in another process."""
