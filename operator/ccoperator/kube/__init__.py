"""A small async Kubernetes client (aiohttp, which kopf already brings) for the objects the operator owns."""
