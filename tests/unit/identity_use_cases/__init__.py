"""Unit tests of identity's use cases over in-memory fakes (`tests/unit/fakes`)."""
