"""In-memory stand-ins for the stores and clients use cases depend on (no NATS, no I/O).

Each fake keeps the real one's contract that the use cases rely on: JetStream's de-duplication
by event id, KV's create-only and revision checks, a claim that stays pending until completed.
"""
