"""Routing service settings (env prefix CC_)."""

from pydantic import Field

from ccmesh.config import MeshConfig


class RoutingConfig(MeshConfig):
    #: Seconds an agent has to answer an offer before the contact goes back to its queue.
    acd_offer_timeout_seconds: float = Field(default=20.0, gt=0)
    #: Seconds without a presence heartbeat after which an agent is set offline.
    acd_heartbeat_timeout_seconds: float = Field(default=30.0, gt=0)
    #: How often the ACD loop sweeps for timeouts (and routes when nothing changed).
    acd_tick_seconds: float = Field(default=0.5, gt=0)
    #: Seconds per surge-detector observation (each queue's signals are measured this often).
    surge_interval_seconds: float = Field(default=60.0, gt=0)
    #: Surge detectors' scores are multiplied by this (2.0: alert on half the deviation).
    surge_sensitivity: float = Field(default=1.0, gt=0)
    #: Seconds a queue signal must stay abnormal before its detector alerts.
    surge_min_duration_seconds: float = Field(default=60.0, ge=0)
    #: Seconds a queue signal must stay back to normal before its detector's alert clears.
    surge_clear_duration_seconds: float = Field(default=120.0, ge=0)
    #: Seconds added to UTC for the detectors' weekday x 15-minute slots (the region's local time).
    surge_utc_offset_seconds: float = Field(default=0.0, ge=-50_400, le=50_400)
