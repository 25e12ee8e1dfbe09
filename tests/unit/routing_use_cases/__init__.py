"""Unit tests of routing's ACD use cases over in-memory fakes (`tests/unit/fakes/routing_fakes`)."""
