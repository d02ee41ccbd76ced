"""Realism for the sandbox's generated records: names, emails, places, coherent counters.

``COLUMN_VALUES`` maps a column (``<table>.<column>`` or just ``<column>``) to a value maker; any
column it does not name gets ``generic`` by type and format. Makers see the values generated so
far for the same record, so counters can agree with each other (replied <= sent).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from analytics_assets.sandbox.activity import Activity, iso_ms
from analytics_assets.schema import Field

# Generated timestamps lie in [GENERATED_FROM, GENERATED_UNTIL); change_leads stamps "now", so
# ``updated_after=GENERATED_UNTIL`` selects exactly the changed leads.
GENERATED_FROM = datetime(2024, 1, 1, tzinfo=UTC)
GENERATED_UNTIL = datetime(2025, 1, 1, tzinfo=UTC)

LEAD_STATUSES = (
    "new",
    "contacted",
    "opened",
    "replied",
    "interested",
    "not_interested",
    "bounced",
    "optedout",
)

_FIRST = (
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Radia",
    "Edsger",
    "Frances",
    "John",
    "Katherine",
    "Tim",
    "Hedy",
    "Guido",
    "Anita",
    "Bjarne",
    "Sophie",
    "Niklaus",
    "Lucia",
    "Mateo",
    "Yuki",
    "Priya",
    "Omar",
    "Chen",
    "Ingrid",
)
_LAST = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Perlman",
    "Dijkstra",
    "Allen",
    "McCarthy",
    "Johnson",
    "Berners-Lee",
    "Lamarr",
    "Rossum",
    "Borg",
    "Stroustrup",
    "Wilson",
    "Wirth",
    "Garcia",
    "Silva",
    "Tanaka",
    "Patel",
    "Haddad",
    "Wang",
    "Larsen",
)
_COMPANIES = (
    "Acme Analytics",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Fintech",
    "Hooli",
    "Vandelay Imports",
    "Soylent Foods",
    "Cyberdyne Robotics",
    "Tyrell Bio",
    "Wonka Confections",
    "Pied Piper",
    "Massive Dynamic",
    "Aperture Labs",
)
_TITLES = (
    "VP Sales",
    "Head of Growth",
    "CTO",
    "Marketing Manager",
    "Account Executive",
    "Founder",
    "Operations Lead",
    "Data Engineer",
    "Procurement Manager",
    "CFO",
)
_INDUSTRIES = (
    "Software",
    "Healthcare",
    "Logistics",
    "Finance",
    "Retail",
    "Manufacturing",
    "Education",
    "Media",
)
_PLACES = (
    ("Austin", "TX", "United States"),
    ("Denver", "CO", "United States"),
    ("Boston", "MA", "United States"),
    ("Toronto", "ON", "Canada"),
    ("London", "England", "United Kingdom"),
    ("Berlin", "Berlin", "Germany"),
    ("Lyon", "Auvergne-Rhone-Alpes", "France"),
    ("Sydney", "NSW", "Australia"),
)
_STREETS = ("Main St", "Oak Ave", "Market St", "High St", "Elm Rd", "Harbor Blvd")
_SNIPPETS = (
    "Loved your talk on {industry} pipelines.",
    "Saw {company_name} is hiring again.",
    "Congrats on the new role at {company_name}!",
    "Fellow {city} local here.",
)
_CAMPAIGN_WORDS = (
    "Outbound",
    "Re-engage",
    "Webinar follow-up",
    "Product launch",
    "Renewal",
    "Cold intro",
    "Event invite",
    "Upsell",
)


class Row(Protocol):
    """What a value maker sees of the record being built."""

    rng: random.Random
    values: dict[str, Any]  # leaf values generated so far, by column name
    index: int  # the record's 0-based position in its table
    activity: Activity  # the table's timestamps

    @property
    def person(self) -> dict[str, str]:
        """The record's coherent identity (see ``person``)."""
        ...

    def pick(self, table: str) -> dict[str, Any] | None:
        """The row of ``table`` this record refers to (random unless assigned); None if none."""
        ...


def iso(when: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, the way the API renders timestamps."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def moment(rng: random.Random, floor: datetime = GENERATED_FROM) -> datetime:
    """A random second in [floor, GENERATED_UNTIL)."""
    span = (GENERATED_UNTIL - floor).total_seconds()
    return floor + timedelta(seconds=int(rng.random() * span))


def person(rng: random.Random) -> dict[str, str]:
    """A coherent identity so that name, email, company and city agree within a record."""
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    company = rng.choice(_COMPANIES)
    city, state, country = rng.choice(_PLACES)
    domain = company.lower().replace(" ", "") + rng.choice((".com", ".io", ".co"))
    handle = f"{first}.{last}".lower().replace("-", "")
    return {
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "email": f"{handle}{rng.randint(1, 99)}@{domain}",
        "company_name": company,
        "title": rng.choice(_TITLES),
        "industry": rng.choice(_INDUSTRIES),
        "phone": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        "address": f"{rng.randint(1, 999)} {rng.choice(_STREETS)}",
        "city": city,
        "state": state,
        "country": country,
        "linkedin": f"https://www.linkedin.com/in/{handle}-{rng.randint(100, 999)}",
    }


def generic(row: Row, field: Field) -> Any:
    """A plausible value for a column the lookup does not know, by its type and format."""
    rng = row.rng
    if field.type == "boolean":
        return rng.random() < 0.5
    if field.type == "integer":
        return rng.randint(0, 100)
    if field.format == "email":
        return row.person["email"]
    if field.format == "date-time":
        return iso(moment(rng))
    if field.type == "timestamp":
        return iso_ms(row.activity.moment(rng))
    if field.type == "json":
        if field.name.endswith("emails"):
            return [row.person["email"]]
        return {"value": f"{field.name}-{rng.getrandbits(32):08x}"}
    if field.name in row.person:
        return row.person[field.name]
    return f"{field.name}-{rng.getrandbits(32):08x}"


def worked(lead: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A worked copy of ``lead``: next status, one more email sent, last sent now."""
    lead = copy.deepcopy(lead)
    if "status" in lead:
        position = LEAD_STATUSES.index(lead["status"]) if lead["status"] in LEAD_STATUSES else -1
        lead["status"] = LEAD_STATUSES[(position + 1) % len(LEAD_STATUSES)]
    if "sent_count" in lead:
        sent = lead["sent_count"]
        lead["sent_count"] = sent + 1 if isinstance(sent, int) else 1
    if "last_sent_at" in lead:
        lead["last_sent_at"] = iso(now)
    return lead


def _int(row: Row, column: str) -> int:
    value = row.values.get(column)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _sent_count(row: Row) -> int:
    return 0 if row.values.get("status") == "new" else row.rng.randint(1, 12)


def _replied_count(row: Row) -> int:
    sent = _int(row, "sent_count")
    replied = row.values.get("status") in ("replied", "interested", "not_interested")
    return min(sent, row.rng.randint(1, 3)) if replied else 0


def _last_sent_at(row: Row) -> str | None:
    return iso(moment(row.rng)) if _int(row, "sent_count") else None


def _campaign_name(row: Row) -> str:
    rng = row.rng
    return f"{rng.choice(_CAMPAIGN_WORDS)} - {rng.choice(_INDUSTRIES)} Q{rng.randint(1, 4)} 2024"


def _share(of: str, low: float, high: float) -> Callable[[Row], int]:
    """A counter that is a random share of another, so the funnel only ever narrows."""
    return lambda row: int(_int(row, of) * row.rng.uniform(low, high))


def _bounced(row: Row) -> int:
    return _int(row, "stats__prospects_contacted") - _int(row, "stats__prospects_reached")


COLUMN_VALUES: dict[str, Callable[[Row], Any]] = {
    # users
    "users.name": lambda row: row.person["name"],
    "users.email": lambda row: row.person["email"],
    "users.activated": lambda row: row.rng.random() < 0.85,
    "users.default_mailbox_id": lambda row: f"mb_{row.rng.getrandbits(40):010x}",
    "users.salesforce_id": lambda row: f"005{row.rng.getrandbits(48):012X}",
    # leads
    "leads.status": lambda row: row.rng.choice(LEAD_STATUSES),
    "leads.bounced": lambda row: row.values.get("status") == "bounced",
    "leads.optedout": lambda row: row.values.get("status") == "optedout",
    "leads.sent_count": _sent_count,
    "leads.replied_count": _replied_count,
    "leads.last_sent_at": _last_sent_at,
    "data__snippet": lambda row: row.rng.choice(_SNIPPETS).format(**row.person),
    # campaigns
    "campaigns.name": _campaign_name,
    "stats__prospects_contacted": lambda row: row.rng.randint(0, 2000),
    "stats__prospects_reached": _share("stats__prospects_contacted", 0.9, 1.0),
    "stats__prospects_opened": _share("stats__prospects_reached", 0.2, 0.7),
    "stats__prospects_replied": _share("stats__prospects_opened", 0.05, 0.3),
    "stats__prospects_bounced": _bounced,
    "stats__prospects_optedout": _share("stats__prospects_reached", 0.0, 0.03),
    "stats__total_prospects": lambda row: (
        _int(row, "stats__prospects_contacted") + row.rng.randint(0, 500)
    ),
}
# Lead fields (data__first_name, data__city, ...) come from the row's person.
COLUMN_VALUES.update(
    {
        f"data__{key}": (lambda row, key=key: row.person[key])
        for key in (
            "first_name",
            "last_name",
            "email",
            "company_name",
            "title",
            "industry",
            "phone",
            "address",
            "city",
            "state",
            "country",
            "linkedin",
        )
    }
)
