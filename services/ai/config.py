"""Ai service settings (env prefix CC_)."""

from ccmesh.config import MeshConfig


class AiConfig(MeshConfig):
    #: Run the streaming consumer at all (CC_STREAM_INSIGHTS); the region's ContactCenter
    #: (spec.ai.streamInsights) decides whether it publishes insights.
    stream_insights: bool = True
    #: Use the all-MiniLM-L6-v2 sentence encoder (CC_SENTENCE_ENCODER) for intent models and
    #: the embeddings component when its package is installed; false keeps every model to the
    #: TF-IDF stage (less memory, ~4 points less in-scope accuracy on CLINC150).
    sentence_encoder: bool = True
