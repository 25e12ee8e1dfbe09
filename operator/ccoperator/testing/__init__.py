"""Operator test support: an API-server-like CR validator and a kmock cluster (dev dependencies only)."""
