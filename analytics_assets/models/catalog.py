"""The models: what each one answers, its columns and the raw columns they come from."""

from __future__ import annotations

from analytics_assets.models.model import Model, ModelColumn, copied
from analytics_assets.schema import (
    CAMPAIGN_LEADS,
    CAMPAIGNS,
    EVENTS,
    LEADS,
    REPLIES,
    USERS,
    Table,
)

_STATS = (
    ("contacted", "stats__prospects_contacted"),
    ("reached", "stats__prospects_reached"),
    ("opened", "stats__prospects_opened"),
    ("replied", "stats__prospects_replied"),
    ("bounced", "stats__prospects_bounced"),
    ("opted_out", "stats__prospects_optedout"),
)
_ENROLLED = ((CAMPAIGN_LEADS, "lead__id"), (CAMPAIGN_LEADS, "campaign_id"))


def _stat(name: str) -> ModelColumn:
    return copied(CAMPAIGNS, dict(_STATS)[name], name)


CAMPAIGN_PERFORMANCE = Model(
    name="campaign_performance",
    description=(
        "One row per campaign: its creator, the leads enrolled and the API's delivery funnel "
        "with open, reply and bounce rates. Rates are null when their denominator is 0 or "
        "unknown."
    ),
    reads=(USERS, CAMPAIGNS, CAMPAIGN_LEADS),
    columns=(
        copied(CAMPAIGNS, "id", "campaign_id"),
        copied(CAMPAIGNS, "name", "campaign_name"),
        ModelColumn(
            "creator_name",
            "string",
            "Creator's name from users; the campaign's own copy if the user is absent.",
            ((USERS, "name"), (CAMPAIGNS, "creator__name")),
        ),
        ModelColumn(
            "creator_email",
            "string",
            "Creator's email from users; the campaign's own copy if the user is absent.",
            ((USERS, "email"), (CAMPAIGNS, "creator__email")),
        ),
        ModelColumn("leads_enrolled", "int", "Leads enrolled in the campaign.", _ENROLLED),
        *(_stat(name) for name, _ in _STATS),
        ModelColumn(
            "open_rate",
            "float",
            "opened / reached; null when reached is 0 or null.",
            ((CAMPAIGNS, "stats__prospects_opened"), (CAMPAIGNS, "stats__prospects_reached")),
        ),
        ModelColumn(
            "reply_rate",
            "float",
            "replied / contacted; null when contacted is 0 or null.",
            ((CAMPAIGNS, "stats__prospects_replied"), (CAMPAIGNS, "stats__prospects_contacted")),
        ),
        ModelColumn(
            "bounce_rate",
            "float",
            "bounced / contacted; null when contacted is 0 or null.",
            ((CAMPAIGNS, "stats__prospects_bounced"), (CAMPAIGNS, "stats__prospects_contacted")),
        ),
    ),
    preview_order="replied DESC NULLS LAST, campaign_id",
)


def _owned(name: str, type_: str, description: str, *reads: tuple[Table, str]) -> ModelColumn:
    """A column about the leads a user owns (leads.owner_id), from ``reads`` too."""
    return ModelColumn(name, type_, description, ((LEADS, "owner_id"), *reads))


OWNER_PIPELINE = Model(
    name="owner_pipeline",
    description=(
        "One row per user: the leads they own and how those leads engaged. Users who own no "
        "leads appear with zero counts."
    ),
    reads=(USERS, LEADS, CAMPAIGN_LEADS),
    columns=(
        copied(USERS, "id", "user_id"),
        copied(USERS, "name", "user_name"),
        copied(USERS, "email", "user_email"),
        _owned("leads_owned", "int", "Leads the user owns."),
        _owned(
            "leads_enrolled",
            "int",
            "Owned leads enrolled in at least one campaign.",
            (CAMPAIGN_LEADS, "lead__id"),
        ),
        _owned(
            "leads_contacted",
            "int",
            "Owned leads emailed at least once (sent_count > 0).",
            (LEADS, "sent_count"),
        ),
        _owned(
            "replies",
            "int",
            "Replies from owned leads (sum of replied_count; 0 when none).",
            (LEADS, "replied_count"),
        ),
        _owned("bounces", "int", "Owned leads whose email bounced.", (LEADS, "bounced")),
        _owned("opt_outs", "int", "Owned leads who opted out.", (LEADS, "optedout")),
        _owned(
            "reply_rate",
            "float",
            "Contacted leads that replied (replied_count > 0) / leads_contacted; "
            "null when no lead was contacted.",
            (LEADS, "sent_count"),
            (LEADS, "replied_count"),
        ),
        _owned(
            "latest_last_sent_at",
            "timestamp",
            "When an owned lead was last emailed; null when none was.",
            (LEADS, "last_sent_at"),
        ),
    ),
    preview_order="leads_owned DESC, user_id",
)

_REPLY_OF = ((REPLIES, "campaign_id"),)


def _sentiment(sentiment: str) -> ModelColumn:
    return ModelColumn(
        f"{sentiment}_replies",
        "int",
        f"Replies whose sentiment is {sentiment}.",
        (*_REPLY_OF, (REPLIES, "sentiment")),
    )


CAMPAIGN_FUNNEL = Model(
    name="campaign_funnel",
    description=(
        "One row per campaign, from enrollment to reply: leads enrolled, contacted (the API's "
        "count), leads that replied and replies by sentiment, bounced and opted out, the "
        "reply rate and the first and last reply. Counts are 0, and reply times null, for a "
        "campaign with no enrollment or no reply."
    ),
    reads=(CAMPAIGNS, CAMPAIGN_LEADS, REPLIES),
    columns=(
        copied(CAMPAIGNS, "id", "campaign_id"),
        copied(CAMPAIGNS, "name", "campaign_name"),
        ModelColumn("leads_enrolled", "int", "Leads enrolled in the campaign.", _ENROLLED),
        _stat("contacted"),
        ModelColumn(
            "replied",
            "int",
            "Leads with at least one reply to the campaign (distinct lead_id in replies).",
            (*_REPLY_OF, (REPLIES, "lead_id")),
        ),
        ModelColumn("replies", "int", "Replies to the campaign.", (*_REPLY_OF, (REPLIES, "id"))),
        *(_sentiment(sentiment) for sentiment in ("positive", "negative", "neutral")),
        _stat("bounced"),
        _stat("opted_out"),
        ModelColumn(
            "reply_rate",
            "float",
            "replied / leads_enrolled; null when no lead is enrolled.",
            ((REPLIES, "lead_id"), *_ENROLLED),
        ),
        ModelColumn(
            "first_reply_at",
            "timestamp",
            "When the first reply was sent; null without replies.",
            (*_REPLY_OF, (REPLIES, "sent_at")),
        ),
        ModelColumn(
            "last_reply_at",
            "timestamp",
            "When the latest reply was sent; null without replies.",
            (*_REPLY_OF, (REPLIES, "sent_at")),
        ),
    ),
    preview_order="replies DESC, campaign_id",
)

DAILY_ACTIVITY = Model(
    name="daily_activity",
    description=(
        "Per UTC day, campaign and event type: events (by created_at; the campaign is "
        "data.campaign_id) and replies (by sent_at, event type 'reply'). Partitioned by day "
        "like events and replies: a day's partition is rebuilt from that day's rows."
    ),
    reads=(EVENTS, REPLIES),
    columns=(
        ModelColumn(
            "day",
            "date",
            "The UTC day.",
            ((EVENTS, "created_at"), (REPLIES, "sent_at")),
        ),
        ModelColumn(
            "campaign_id",
            "string",
            "The campaign: data.campaign_id of an event, campaign_id of a reply; null if none.",
            ((EVENTS, "data"), (REPLIES, "campaign_id")),
        ),
        ModelColumn(
            "event_type",
            "string",
            "The event's event_type, or 'reply' for replies.",
            ((EVENTS, "event_type"),),
        ),
        ModelColumn("source", "string", "Where the rows come from: 'events' or 'replies'."),
        ModelColumn(
            "occurrences",
            "int",
            "Events of that type (or replies) of the campaign on that day.",
            ((EVENTS, "id"), (REPLIES, "id")),
        ),
    ),
    preview_order="occurrences DESC, day, campaign_id NULLS LAST, event_type",
    day_column="day",
)

MODELS: tuple[Model, ...] = (CAMPAIGN_PERFORMANCE, OWNER_PIPELINE, CAMPAIGN_FUNNEL, DAILY_ACTIVITY)
