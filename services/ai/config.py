"""Ai service settings (env prefix CC_)."""

from pydantic import Field

from ccmesh.config import MeshConfig


class AiConfig(MeshConfig):
    #: Run the streaming consumer at all (CC_STREAM_INSIGHTS); the region's ContactCenter
    #: (spec.ai.streamInsights) decides whether it publishes insights.
    stream_insights: bool = True
    #: Use the all-MiniLM-L6-v2 sentence encoder (CC_SENTENCE_ENCODER) for intent models and
    #: the embeddings component when its package is installed; false keeps every model to the
    #: TF-IDF stage (less memory, ~4 points less in-scope accuracy on CLINC150).
    sentence_encoder: bool = True
    #: Threads that run the analysis pipelines (CC_INFERENCE_WORKERS): inference is CPU work, so
    #: it runs off the event loop, which keeps serving calls, consumers and heartbeats meanwhile.
    #: More threads than cores only queue in the interpreter; requests beyond them wait their turn.
    inference_workers: int = Field(default=2, ge=1, le=64)
    #: Threads each BLAS/OpenMP call may use (CC_INFERENCE_BLAS_THREADS), process-wide: with
    #: several inference threads, BLAS threads of their own would oversubscribe the cores.
    inference_blas_threads: int = Field(default=1, ge=1, le=64)
