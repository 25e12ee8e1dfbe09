"""Ai service settings (env prefix CC_)."""

from ccmesh.config import MeshConfig


class AiConfig(MeshConfig):
    #: Run the streaming consumer at all (CC_STREAM_INSIGHTS); the region's ContactCenter
    #: (spec.ai.streamInsights) decides whether it publishes insights.
    stream_insights: bool = True
