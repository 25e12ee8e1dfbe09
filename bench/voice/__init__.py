"""Speech recognition on the telephone path: word error rate, real-time factor, latency, streams."""
