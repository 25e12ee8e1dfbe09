"""The signed report of an erasure: what was removed from which store of a region, and proof of it.

Identity writes the report when `ForgetCustomer` finishes and signs it with a key derived from
the region's auth secret; `ccctl retention verify` checks the signature with the same secret. A
report whose bytes were changed after signing (a count lowered, a store left out) fails.

The report is canonical JSON (sorted keys, no spaces), so the same facts always give the same
bytes and the signature can be checked on the text exactly as the RPC returned it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

#: Keeps erasure signatures apart from every other use of the auth secret (tokens, index keys).
_KEY_PURPOSE = b"erasure-report-v1"


class ErasureReportError(ValueError):
    """A report or its signature is unreadable or does not match; the message says which."""


@dataclass(frozen=True)
class ErasureReport:
    tenant_id: str
    customer_id: str
    region: str
    #: Seconds since the epoch when the erasure finished.
    erased_at: float
    actor: str
    reason: str
    #: Messages, keys or objects removed per stream, bucket or store.
    removed: Mapping[str, int]
    tombstone: str
    #: Other services' parts that failed, "<part>: <why>": the erasure is not complete.
    incomplete: Sequence[str] = ()

    def canonical(self) -> str:
        document = {
            "tenantId": self.tenant_id,
            "customerId": self.customer_id,
            "region": self.region,
            "erasedAt": self.erased_at,
            "actor": self.actor,
            "reason": self.reason,
            "removed": dict(sorted(self.removed.items())),
            "total": sum(self.removed.values()),
            "tombstone": self.tombstone,
        }
        if self.incomplete:
            document["incomplete"] = list(self.incomplete)
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS).decode()


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _KEY_PURPOSE, hashlib.sha256).digest()


def sign(report_text: str, secret: str) -> str:
    """Hex HMAC-SHA256 of the report's exact text."""
    return hmac.new(_key(secret), report_text.encode(), hashlib.sha256).hexdigest()


def verify(report_text: str, signature: str, secret: str) -> dict[str, Any]:
    """The report as a document when `signature` is its signature under `secret`; otherwise
    ErasureReportError saying what is wrong."""
    if not signature:
        raise ErasureReportError("the report has no signature")
    if not hmac.compare_digest(sign(report_text, secret), signature.strip().lower()):
        raise ErasureReportError(
            "signature does not match: the report was changed after signing, or it was signed "
            "with another region's auth secret"
        )
    try:
        document = orjson.loads(report_text)
    except orjson.JSONDecodeError as err:
        raise ErasureReportError(f"the report is not JSON: {err}") from None
    if not isinstance(document, dict) or "removed" not in document:
        raise ErasureReportError("the report is not an erasure report (no 'removed' field)")
    return document
