"""Unit tests of the integration service's use cases and event codec over in-memory fakes."""
