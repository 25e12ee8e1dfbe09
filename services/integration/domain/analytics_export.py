"""An export of a period's contacts, a page at a time (pure): which contacts, in which order,
and where the next page resumes.

Contacts belong to the period by their arrival (`ContactFact.arrived_at`), as reports count
them, and come in (arrival, contact id) order, so a page token is the last row's key: a page
asked again gives the same rows, and rows stored meanwhile after the key are not skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from integration.domain.analytics_facts import ContactFact
from integration.domain.analytics_query import ReportError, parse_report_query

DEFAULT_PAGE_SIZE = 5_000
MAX_PAGE_SIZE = 10_000

#: (arrival, contact id) of the last row of the previous page.
Key = tuple[float, str]


@dataclass(frozen=True)
class ExportQuery:
    tenant_id: str
    start: float
    end: float
    page_size: int
    after: Key | None = None
    #: Only these brands' contacts (a brand-scoped caller's); empty: every brand.
    brands: frozenset[str] = frozenset()

    def holds(self, fact: ContactFact) -> bool:
        return (
            fact.tenant_id == self.tenant_id
            and self.start <= fact.arrived_at < self.end
            and (not self.brands or fact.brand in self.brands)
            and (self.after is None or key_of(fact) > self.after)
        )


def key_of(fact: ContactFact) -> Key:
    return (fact.arrived_at, fact.contact_id)


def page_token(key: Key) -> str:
    # repr() of a float reads back exactly, so the next page starts right after this row.
    return f"{key[0]!r}/{key[1]}"


def _key_of_token(token: str) -> Key:
    instant, separator, contact_id = token.partition("/")
    try:
        value = float(instant)
    except ValueError:
        value = float("nan")
    if not separator or not contact_id or not value >= 0:
        raise ReportError("page_token", f"not a token an earlier page gave: {token!r}")
    return (value, contact_id)


def parse_export_query(
    *,
    tenant_id: str,
    start: str,
    end: str,
    time_zone: str = "",
    page_size: int = 0,
    page_token: str = "",
    brands: frozenset[str] = frozenset(),
) -> ExportQuery:
    """Raises `ReportError` naming a bad parameter (the period's checks are the reports')."""
    period = parse_report_query(
        tenant_id=tenant_id, start=start, end=end, interval="day", time_zone=time_zone or "UTC"
    )
    if page_size > MAX_PAGE_SIZE:
        raise ReportError("page_size", f"at most {MAX_PAGE_SIZE}, got {page_size}")
    return ExportQuery(
        tenant_id=tenant_id,
        start=period.start,
        end=period.end,
        page_size=page_size or DEFAULT_PAGE_SIZE,
        after=_key_of_token(page_token) if page_token else None,
        brands=brands,
    )
