"""The ContactCenter operator: one `ContactCenter` resource per region becomes that region's services.

Run it with `kopf run -m ccoperator.main` (the image's `operator` entrypoint). Layout, outside in:
`main` registers kopf handlers; `handlers/` are thin; `reconcile` orchestrates one level-based pass;
`builders/` turn a typed spec into manifests (pure); `kube/` and `nats_placement` talk to the world.
"""
