"""Unit tests of the gateway's use cases over in-memory fakes (`tests/unit/fakes`)."""
