"""Unit tests of the ai service's use cases and event codec over in-memory fakes (`tests/unit/fakes`)."""
