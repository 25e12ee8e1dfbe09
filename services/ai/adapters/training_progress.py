"""Progress of an intent training, published for the `ccctl` that started it (core NATS).

Best effort: a progress message lost (or nobody listening) changes nothing; the training's
result comes back in the `TrainIntents` reply.
"""

from __future__ import annotations

from nats.aio.client import Client

from ai.adapters.tenant_store import check_token
from ccmesh.naming import ai_training_progress_subject
from contactcenter.ai.v1 import ai_pb2


class TrainingProgressPublisher:
    def __init__(self, nc: Client, region: str) -> None:
        self._nc = nc
        self._region = region

    async def __call__(self, job: str, stage: str, done: int, total: int) -> None:
        subject = ai_training_progress_subject(self._region, check_token("upload job", job))
        message = ai_pb2.TrainingProgress(stage=stage, done=done, total=total)
        await self._nc.publish(subject, message.SerializeToString())
