"""ccsurge: surge detection's pure core (no I/O), shared by routing and ccctl.

A detector per (region, tenant, queue, channel, metric) turns each interval's observation into
an `Assessment` (value, seasonal baseline, robust score, alert); routing feeds them live,
`ccctl surge replay` feeds them from a CSV. It imports no service.
"""
