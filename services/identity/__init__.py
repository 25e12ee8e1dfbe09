"""The identity service: one customer across every channel, data kept in its region.

State, per region (placed on servers tagged `region:<name>`):
    identity-<region>           profiles `cust.<scope>.<id>`, identifier index `idx.<scope>.<kind>.<hash>`,
                                agents `agent.<tenant>.<id>`, API token hashes `tok.<sha256>`,
                                erasure tombstones `tomb.<scope>.<id>`
    identity-history-<region>   timelines `tl.<tenant>.<customer>.<entry>`, contact links, audit
                                records `au.<tenant>.<customer>.<id>`, residency crossings `xg.<tenant>.<id>`
Global (no personal data):
    identity-global-index       `g.<scope>.<kind>.<HMAC(per-tenant key, identifier)>` -> home region

A scope is the tenant, or `<tenant>.<brand>` when the tenant's brands are isolated. The
timeline is fed by a durable consumer on the region's event stream and by AppendTimelineEntry.
"""
