"""The shared runtime of the contact center mesh.

Services are written as ordinary generated gRPC servicers; this library serves them over
NATS request/reply (the mesh) and over grpc.aio (the external API), carries trace context,
deadlines, status codes and caller identity across every hop, and gives services events
(JetStream), state (KV with optimistic concurrency), typed config and a clean shutdown.

Layers: `naming`, `status`, `config`, `auth`, `telemetry` (leaf modules) <- `rpc_*`, `events`,
`kv`, `configplane` <- `service_host` (wires a service together).
"""
