"""Ai service settings (env prefix CC_)."""

from pydantic import Field

from ccmesh.config import MeshConfig


class AiConfig(MeshConfig):
    #: Run the streaming consumer at all (CC_STREAM_INSIGHTS); the region's ContactCenter
    #: (spec.ai.streamInsights) decides whether it publishes insights.
    stream_insights: bool = True
    #: Use the sentence encoder (CC_SENTENCE_ENCODER): the multilingual USE v3 when its package is
    #: installed, else all-MiniLM-L6-v2, for intent models, the trained sentiment classifier and
    #: the embeddings component; false keeps intent models to the TF-IDF stage and sentiment to
    #: its lexicon (less memory, ~4 points less in-scope accuracy on CLINC150).
    sentence_encoder: bool = True
    #: Train and run the intent models' re-ranking stage (CC_INTENT_RERANK): sets of about 10
    #: examples per intent also learn from all-MiniLM-L6-v2's vectors and re-rank the accurate
    #: stage's unsure answers (CLINC150 10-shot about +2.7 points). False: that second encoder is
    #: never loaded (about 90 MB less per process), models train and answer with two stages, and
    #: no message pays for a second embedding (cheaper tail latency for few-shot tenants).
    intent_rerank: bool = True
    #: Workers that run the analysis pipelines (CC_INFERENCE_WORKERS): inference is CPU work, so
    #: it runs off the event loop, which keeps serving calls, consumers and heartbeats meanwhile.
    #: One per core: more only queue for the same cores; requests beyond them wait their turn.
    inference_workers: int = Field(default=2, ge=1, le=64)
    #: Run the workers as processes (CC_INFERENCE_PROCESSES), each loading the models once (about
    #: 500 MB each: encoder ~100 MB, language detector ~265 MB); false: threads of the service
    #: process, which share its interpreter lock, so under concurrent streams messages queue
    #: behind each other (p99 about twice as high on 2 cores).
    inference_processes: bool = True
    #: Threads each BLAS/OpenMP call may use (CC_INFERENCE_BLAS_THREADS), in the service and in
    #: each worker: with several workers, BLAS threads of their own would oversubscribe the cores.
    inference_blas_threads: int = Field(default=1, ge=1, le=64)
    #: Threads an intent training's worker process may use for BLAS/OpenMP
    #: (CC_INTENT_TRAINING_THREADS): a training runs beside live inference on the same cores.
    intent_training_threads: int = Field(default=1, ge=1, le=64)
    #: Memory (MiB) an intent training may add to its worker process after start-up
    #: (CC_INTENT_TRAINING_MEMORY_MB); a set that needs more is refused with a clear error.
    #: 0: no bound. About 1 GiB trains 100,000 examples (vocabularies are capped).
    intent_training_memory_mb: int = Field(default=3072, ge=0)
    #: Speech recogniser processes for live call transcription (CC_SPEECH_WORKERS), started with
    #: the first call's audio; each loads its models once (~120 MB). About 13 real-time streams
    #: per core with a tenant language model (bench/voice). 0: decode on a thread of the service.
    speech_workers: int = Field(default=1, ge=0, le=64)
    #: The registered component that transcribes calls (CC_SPEECH_RECOGNISER).
    speech_recogniser: str = "speech"
    #: Batch re-analysis (`ccctl ai batch`) shares the inference workers with live messages, so
    #: it is held to a pace: contacts started per second (CC_BATCH_RATE_PER_SECOND) and contacts
    #: in analysis at once (CC_BATCH_CONCURRENCY). One at a time leaves a worker to live traffic.
    batch_rate_per_second: float = Field(default=5.0, gt=0)
    batch_concurrency: int = Field(default=1, ge=1, le=64)
