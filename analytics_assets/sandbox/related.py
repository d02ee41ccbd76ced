"""Realism for the tables beyond the seed's: enrollments, replies, events and the lookups.

``ASSIGN`` decides, before a table's rows are built, which referenced rows each row is about
(``Chosen``: table name -> row); every reference to that table in the row then resolves to it.
That is how a campaign lead embeds the lead it enrolls and a reply belongs to the campaign that
serves it. ``COLUMN_VALUES`` extends ``fakes.COLUMN_VALUES`` for these tables' columns.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from analytics_assets.sandbox.fakes import LEAD_STATUSES, Row
from analytics_assets.schema import LEAD_DATA_FIELDS

Chosen = dict[str, dict[str, Any]]
"""The referenced rows one generated row is about, by table name."""
Assigner = Callable[[random.Random, dict[str, list[dict[str, Any]]], int], list[Chosen]]

EVENT_TYPES = ("email_sent", "email_opened", "email_clicked", "replied", "bounced", "opted_out")
_EVENT_WEIGHTS = (40, 25, 10, 8, 4, 3)
SENTIMENTS = ("positive", "negative", "neutral")
ODD_EVENT_EVERY = 97  # every so many events carry extra, odd keys in data (data is free-form)
# Extra tables each table needs generated first, besides those its fields reference.
DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "replies": ("campaign_leads",),
    "events": ("campaign_leads", "campaigns", "leads"),
}

_BODIES = {
    "Thanks for reaching out, this looks interesting. Can we talk next week?": "positive",
    "Sounds good, send me a calendar invite for Tuesday afternoon.": "positive",
    "Please remove me from your list, we are not interested.": "negative",
    "We already use another vendor for this and are happy with it.": "negative",
    "I am out of the office until Monday with limited access to email.": "neutral",
    "Forwarding this to my colleague who owns the topic.": "neutral",
}
_TAGS = ("vip", "enterprise", "smb", "warm", "cold", "partner", "event", "inbound", "churned")
_DOMAINS = ("competitor", "bigcorp", "example", "lawfirm", "gov-agency", "university", "bank")


def enrollments(
    rng: random.Random, done: dict[str, list[dict[str, Any]]], count: int
) -> list[Chosen]:
    """``count`` (campaign, lead) pairs, unique, grouped by campaign in campaign order.

    Skewed (Zipf): the busiest campaigns take several pages of leads, the quietest a few; one
    campaign (when there are two or more) enrolls no lead at all. A campaign enrolls each lead
    at most once, so fewer pairs come back when (campaigns - 1) x leads is fewer.
    """
    campaigns, leads = done.get("campaigns", []), done.get("leads", [])
    if not campaigns or not leads or count <= 0:
        return []
    ranked = list(range(len(campaigns)))
    rng.shuffle(ranked)
    if len(ranked) > 1:
        ranked = ranked[1:]  # the first of the shuffle stays empty
    weights = [1 / (rank + 1) for rank in range(len(ranked))]
    shares = [count * weight / sum(weights) for weight in weights]
    sizes = [min(int(share), len(leads)) for share in shares]
    # The rest, one by one from the busiest down, as long as campaigns have leads to take.
    left, i = min(count, len(leads) * len(sizes)) - sum(sizes), 0
    while left > 0:
        if sizes[i % len(sizes)] < len(leads):
            sizes[i % len(sizes)] += 1
            left -= 1
        i += 1
    size_of = dict(zip(ranked, sizes, strict=True))
    pairs: list[Chosen] = []
    for campaign in sorted(size_of):
        for lead in rng.sample(range(len(leads)), size_of[campaign]):
            pairs.append({"campaigns": campaigns[campaign], "leads": leads[lead]})
    return pairs


def replies(rng: random.Random, done: dict[str, list[dict[str, Any]]], count: int) -> list[Chosen]:
    """``count`` (campaign, lead) picks for replies, grouped by campaign in campaign order.

    Campaigns with enrolled leads get replies in proportion to their enrollment, from one of
    those leads; without any enrollment, any campaign and any lead.
    """
    campaigns, leads = done.get("campaigns", []), done.get("leads", [])
    if not campaigns or count <= 0:
        return []
    enrolled: dict[str, list[dict[str, Any]]] = {}
    for row in done.get("campaign_leads", []):
        enrolled.setdefault(row["campaign_id"], []).append(row["lead"])
    with_leads = [i for i, c in enumerate(campaigns) if enrolled.get(c["id"])]
    pool = with_leads or list(range(len(campaigns)))
    weights = [len(enrolled.get(campaigns[i]["id"], ())) or 1 for i in pool]
    chosen: list[Chosen] = []
    for campaign in sorted(rng.choices(pool, weights, k=count)):
        row = campaigns[campaign]
        candidates = enrolled.get(row["id"]) or leads
        pick = {"campaigns": row}
        if candidates:
            pick["leads"] = rng.choice(candidates)
        chosen.append(pick)
    return chosen


ASSIGN: dict[str, Assigner] = {"campaign_leads": enrollments, "replies": replies}


def by_parent(parent: str) -> Assigner:
    """For a per-parent table without an assigner: random parents, grouped in parent order."""

    def assign(
        rng: random.Random, done: dict[str, list[dict[str, Any]]], count: int
    ) -> list[Chosen]:
        parents = done.get(parent, [])
        if not parents:
            return []
        return [
            {parent: parents[i]} for i in sorted(rng.randrange(len(parents)) for _ in range(count))
        ]

    return assign


def _lead_email(row: Row) -> str:
    lead = row.pick("leads") or {}
    data = lead.get("data")
    email = data.get("email") if isinstance(data, dict) else None
    return email if isinstance(email, str) else row.person["email"]


def _to_emails(row: Row) -> list[str]:
    users = [row.pick("users") for _ in range(1 if row.rng.random() < 0.8 else 2)]
    return [user["email"] for user in users if user and user.get("email")] or ["sales@example.com"]


def _cc_emails(row: Row) -> list[str]:
    domain = _lead_email(row).partition("@")[2] or "example.com"
    names = row.rng.sample(
        ("ops", "finance", "ceo", "assistant", "team"), row.rng.choice((0, 0, 1, 2))
    )
    return [f"{name}@{domain}" for name in names]


def _subject(row: Row) -> str:
    name = (row.pick("campaigns") or {}).get("name")
    return f"Re: {name}" if name else "Re: Quick question"


def _preview(row: Row) -> str | None:
    body = row.values.get("body")
    return " ".join(body.split()[:6]) + "..." if isinstance(body, str) else None


def _sentiment(row: Row) -> str:
    return _BODIES.get(row.values.get("body") or "") or row.rng.choice(SENTIMENTS)


def _event_data(row: Row) -> dict[str, Any]:
    """A small free-form object naming an enrolled (campaign, lead), plus what the type says."""
    rng, kind = row.rng, row.values.get("event_type")
    enrollment = row.pick("campaign_leads")
    if enrollment is not None:
        campaign_id, lead_id = enrollment["campaign_id"], enrollment["lead"]["id"]
    else:
        campaign_id = (row.pick("campaigns") or {}).get("id")
        lead_id = (row.pick("leads") or {}).get("id")
    data: dict[str, Any] = {"campaign_id": campaign_id, "lead_id": lead_id}
    if kind == "email_clicked":
        data["url"] = f"https://www.example.com/pricing?utm_campaign={campaign_id}"
    elif kind == "bounced":
        data["reason"] = rng.choice(("mailbox_full", "no_such_user", "blocked"))
    elif kind == "opted_out":
        data["source"] = "unsubscribe_link"
    else:
        data["subject"] = rng.choice(("Quick question", "Following up", "Re: your request"))
    if row.index % ODD_EVENT_EVERY == ODD_EVENT_EVERY - 1:
        data["x_legacy"] = {"flags": [1, "two", None], "score": 0.5, "nested": {"deep": True}}
        data["note"] = None
    return data


def _lookup_name(names: tuple[str, ...]) -> Callable[[Row], str]:
    """The index-th name, made unique with a number once the names run out."""

    def name(row: Row) -> str:
        base = names[row.index % len(names)]
        return base if row.index < len(names) else f"{base}_{row.index // len(names)}"

    return name


def _dnc_domain(row: Row) -> str:
    base = _DOMAINS[row.index % len(_DOMAINS)]
    suffix = "" if row.index < len(_DOMAINS) else str(row.index // len(_DOMAINS))
    return f"{base}{suffix}.{('com', 'io', 'co.uk')[row.index % 3]}"


COLUMN_VALUES: dict[str, Callable[[Row], Any]] = {
    # campaign_leads
    "campaign_leads.mailbox_id": lambda row: f"mb_{row.rng.getrandbits(40):010x}",
    # replies
    "replies.from_email": _lead_email,
    "replies.to_emails": _to_emails,
    "replies.cc_emails": _cc_emails,
    "replies.subject": _subject,
    "replies.body": lambda row: row.rng.choice(tuple(_BODIES)),
    "replies.preview": _preview,
    "replies.sentiment": _sentiment,
    "replies.kind": lambda row: "reply" if row.rng.random() < 0.9 else "auto_reply",
    "replies.step_message_id": lambda row: f"sm_{row.rng.getrandbits(40):010x}",
    # events
    "events.event_type": lambda row: row.rng.choices(EVENT_TYPES, _EVENT_WEIGHTS)[0],
    "events.data": _event_data,
    # lookups
    "lead_statuses.name": _lookup_name(LEAD_STATUSES),
    "lead_fields.name": _lookup_name(tuple(LEAD_DATA_FIELDS)),
    "lead_fields.label": lambda row: str(row.values.get("name", "")).replace("_", " ").title(),
    "tags.name": _lookup_name(_TAGS),
    "dnc_domains.name": _dnc_domain,
}
