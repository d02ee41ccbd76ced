"""The one declaration of the API's schema: its ten list endpoints and their records.

Everything that needs to know the shape of the API's records derives it from here: dlt column
hints, asset checks, the column docs shown in the Dagster UI and the sandbox's generated data.
This module imports neither dagster nor dlt; each consumer owns a small conversion.

Types are JSON types plus two the warehouse keeps apart: ``timestamp`` (an ISO 8601 string on
the wire, a timestamp column in the warehouse) and ``json`` (a JSON object or list kept as one
column: free-form objects, lists of addresses). Nested objects flatten dlt-style:
``leads.data.city`` becomes the column ``data__city``. A column is nullable when the field or
any object around it is nullable.
The seed's three tables keep the seed's nullability; the others take the OpenAPI's
(``persistiq-openapi-v1.json``: a property not marked ``nullable`` is required).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

API_NAME = "analytics_api"
"""The API's one name: the dlt source and pipeline, the warehouse schema (dlt dataset) of the
raw tables, their asset key prefix and asset group."""

FieldType = Literal["string", "boolean", "integer", "object", "timestamp", "json"]
NESTING_SEPARATOR = "__"


@dataclass(frozen=True)
class Field:
    """One field of an API record, as the seed declares it."""

    name: str
    type: FieldType
    nullable: bool
    description: str
    format: str | None = None  # "email" or "date-time"
    references: str | None = None  # "<table>.<column>" this value points at
    fields: tuple[Field, ...] = ()  # the members of an object field
    drop_undeclared: bool = False  # an object whose undeclared members are dropped on load


@dataclass(frozen=True)
class Column:
    """A flattened leaf field: one warehouse column."""

    name: str
    type: FieldType
    nullable: bool
    description: str
    format: str | None = None
    references: str | None = None
    path: tuple[str, ...] = ()  # the JSON path, e.g. ("creator", "email")


@dataclass(frozen=True)
class Parent:
    """A per-parent endpoint: one request sequence for every record of ``table``, whose
    ``field`` fills the path parameter ``param`` (``/campaigns/{campaign_id}/leads``)."""

    table: str
    field: str = "id"
    param: str = "campaign_id"


@dataclass(frozen=True)
class Window:
    """An endpoint's server-side time filter, worded as the OpenAPI words it.

    ``column`` is the record's timestamp the filter compares; a record belongs to the UTC day of
    that timestamp. Inclusive or not, the client asks for a wider window and keeps the records
    of its days itself (api/window.py), so an item at midnight lands in exactly one day.
    """

    column: str
    start_inclusive: bool
    end_inclusive: bool
    start_param: str = "start_at"
    end_param: str = "end_at"


@dataclass(frozen=True)
class Table:
    """One API resource: data selector ``<name>``, table ``<name>``, endpoint ``path``
    (``/<name>`` unless declared)."""

    name: str
    description: str
    fields: tuple[Field, ...]
    primary_key: str = "id"
    endpoint: str = ""  # the path, e.g. "/campaigns/{campaign_id}/leads"; "/<name>" if empty
    parent: Parent | None = None
    window: Window | None = None  # daily-partitioned by this filter

    @property
    def path(self) -> str:
        """The endpoint's path, relative to the base URL."""
        return self.endpoint or f"/{self.name}"

    @property
    def columns(self) -> tuple[Column, ...]:
        """The leaf columns in declaration order, nested objects flattened."""
        return tuple(_flatten(self.fields, (), parent_nullable=False))

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError if the schema does not declare it."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} declares no column {name!r}")


def _flatten(
    fields: tuple[Field, ...], prefix: tuple[str, ...], parent_nullable: bool
) -> list[Column]:
    columns: list[Column] = []
    for field in fields:
        path = (*prefix, field.name)
        nullable = field.nullable or parent_nullable
        if field.type == "object":
            columns.extend(_flatten(field.fields, path, nullable))
            continue
        columns.append(
            Column(
                name=NESTING_SEPARATOR.join(path),
                type=field.type,
                nullable=nullable,
                description=field.description,
                format=field.format,
                references=field.references,
                path=path,
            )
        )
    return columns


def _strings(names: dict[str, str]) -> tuple[Field, ...]:
    return tuple(Field(name, "string", True, text) for name, text in names.items())


def _counts(names: dict[str, str]) -> tuple[Field, ...]:
    return tuple(Field(name, "integer", True, text) for name, text in names.items())


USERS = Table(
    name="users",
    description="Users (senders) of the sales-engagement account.",
    fields=(
        Field("id", "string", False, "Hashed user id."),
        Field("name", "string", True, "Full name of the user."),
        Field("email", "string", False, "Login email of the user.", format="email"),
        Field("activated", "boolean", True, "Whether the user has activated the account."),
        Field("default_mailbox_id", "string", True, "Id of the mailbox used by default."),
        Field("salesforce_id", "string", True, "Linked Salesforce user id, if any."),
    ),
)

LEAD_DATA_FIELDS = {
    "first_name": "First name of the lead.",
    "last_name": "Last name of the lead.",
    "email": "Email address of the lead.",
    "company_name": "Company the lead works for.",
    "title": "Job title of the lead.",
    "industry": "Industry of the lead's company.",
    "phone": "Phone number of the lead.",
    "address": "Street address of the lead.",
    "city": "City of the lead.",
    "state": "State or region of the lead.",
    "country": "Country of the lead.",
    "linkedin": "LinkedIn profile URL of the lead.",
    "snippet": "Personalisation snippet used in emails.",
}

LEADS = Table(
    name="leads",
    description="Leads (prospects) and their engagement counters.",
    fields=(
        Field("id", "string", False, "Hashed lead id."),
        Field("status", "string", True, "Lead status name, e.g. 'replied'."),
        Field("data", "object", False, "Lead fields.", fields=_strings(LEAD_DATA_FIELDS)),
        Field("creator_id", "string", True, "User who created the lead.", references="users.id"),
        Field("owner_id", "string", False, "User who owns the lead.", references="users.id"),
        Field("bounced", "boolean", True, "Whether an email to the lead bounced."),
        Field("optedout", "boolean", True, "Whether the lead opted out."),
        Field("sent_count", "integer", True, "Emails sent to the lead."),
        Field("replied_count", "integer", True, "Replies received from the lead."),
        Field(
            "last_sent_at",
            "string",
            True,
            "When the last email was sent (ISO 8601).",
            format="date-time",
        ),
    ),
)

CAMPAIGN_STATS_FIELDS = {
    "prospects_contacted": "Prospects emailed at least once.",
    "prospects_reached": "Prospects whose email was delivered.",
    "prospects_opened": "Prospects who opened an email.",
    "prospects_replied": "Prospects who replied.",
    "prospects_bounced": "Prospects whose email bounced.",
    "prospects_optedout": "Prospects who opted out.",
    "total_prospects": "Prospects enrolled in the campaign.",
}

CAMPAIGNS = Table(
    name="campaigns",
    description="Email campaigns with their creator and delivery statistics.",
    fields=(
        Field("id", "string", False, "Hashed campaign id."),
        Field("name", "string", True, "Campaign name."),
        Field(
            "creator",
            "object",
            True,
            "User who created the campaign.",
            fields=(
                Field("id", "string", True, "Id of the creator.", references="users.id"),
                Field("name", "string", True, "Name of the creator."),
                Field("email", "string", True, "Email of the creator.", format="email"),
            ),
        ),
        Field(
            "stats", "object", True, "Campaign statistics.", fields=_counts(CAMPAIGN_STATS_FIELDS)
        ),
    ),
)

CAMPAIGN_LEADS = Table(
    name="campaign_leads",
    description=(
        "Leads enrolled in each campaign. Of the nested lead only lead__id is kept: the lead's "
        "own fields live in leads, kept current by its incremental sync."
    ),
    endpoint="/campaigns/{campaign_id}/leads",
    parent=Parent("campaigns"),
    fields=(
        Field("id", "string", False, "Hashed id of the lead's enrollment in the campaign."),
        Field(
            "campaign_id", "string", False, "Campaign the lead is in.", references="campaigns.id"
        ),
        Field("mailbox_id", "string", False, "Mailbox the campaign emails this lead from."),
        Field(
            "lead",
            "object",
            False,
            "The enrolled lead.",
            fields=(Field("id", "string", False, "Hashed id of the lead.", references="leads.id"),),
            drop_undeclared=True,
        ),
    ),
)

REPLIES = Table(
    name="replies",
    description="Replies received in each campaign, partitioned by the UTC day of sent_at.",
    endpoint="/campaigns/{campaign_id}/replies",
    parent=Parent("campaigns"),
    # "Filter replies sent on or after / on or before this date"
    window=Window("sent_at", start_inclusive=True, end_inclusive=True),
    fields=(
        Field("id", "string", False, "Hashed reply id."),
        Field("from_email", "string", True, "Sender of the reply.", format="email"),
        Field("to_emails", "json", False, "Recipients (a JSON list of addresses)."),
        Field("cc_emails", "json", False, "Copied recipients (a JSON list of addresses)."),
        Field("subject", "string", True, "Subject line."),
        Field("body", "string", True, "Body of the reply."),
        Field("preview", "string", True, "First words of the body."),
        Field("sent_at", "timestamp", True, "When the reply was sent (UTC)."),
        Field("sentiment", "string", True, "positive, negative or neutral."),
        Field("kind", "string", False, "What kind of message it is, e.g. 'reply'."),
        Field("lead_id", "string", True, "Lead who replied.", references="leads.id"),
        Field("campaign_id", "string", True, "Campaign replied to.", references="campaigns.id"),
        Field("step_message_id", "string", True, "Campaign step message replied to."),
    ),
)

EVENTS = Table(
    name="events",
    description="Account activity events, partitioned by the UTC day of created_at.",
    # "Filter events after / before this ISO 8601 timestamp": both ends exclusive.
    window=Window("created_at", start_inclusive=False, end_inclusive=False),
    fields=(
        Field("id", "string", False, "Hashed event id."),
        Field("event_type", "string", False, "What happened, e.g. 'email_sent'."),
        Field("data", "json", False, "The event's details (free-form JSON object)."),
        Field("created_at", "timestamp", False, "When it happened (UTC)."),
    ),
)


def _lookup(name: str, description: str, *extra: Field) -> Table:
    return Table(
        name=name,
        description=description,
        fields=(
            Field("id", "string", False, "Hashed id."),
            Field("name", "string", False, "Name."),
            *extra,
        ),
    )


LEAD_STATUSES = _lookup("lead_statuses", "Lead statuses of the account.")
LEAD_FIELDS = _lookup(
    "lead_fields",
    "Custom lead fields of the account.",
    Field("label", "string", False, "Label shown in the app."),
)
TAGS = _lookup("tags", "Tags of the account.")
DNC_DOMAINS = _lookup("dnc_domains", "Do-not-contact email domains.")

TABLES: tuple[Table, ...] = (
    USERS,
    LEADS,
    CAMPAIGNS,
    CAMPAIGN_LEADS,
    REPLIES,
    EVENTS,
    LEAD_STATUSES,
    LEAD_FIELDS,
    TAGS,
    DNC_DOMAINS,
)
TABLES_BY_NAME: dict[str, Table] = {table.name: table for table in TABLES}
SYNC_TABLES: tuple[Table, ...] = tuple(table for table in TABLES if table.window is None)
"""Read in full (or incrementally) by every sync."""
ACTIVITY_TABLES: tuple[Table, ...] = tuple(table for table in TABLES if table.window is not None)
"""Daily-partitioned: read a range of UTC days at a time."""
SEED_TABLES: tuple[Table, ...] = (USERS, LEADS, CAMPAIGNS)

DELETED_AT = "_deleted_at"
"""The column the warehouse adds to every table of ``SYNC_TABLES``: when a complete read in
full last found the record gone from the API (a soft delete); null while the API returns it.
Models leave such rows out."""
DELETED_AT_DESCRIPTION = (
    "When a complete read of the whole endpoint last found this record gone from the API "
    "(UTC); null while the API returns it. Models leave such rows out."
)


def children_of(table: Table) -> tuple[Table, ...]:
    """The tables read once per record of ``table`` (campaigns: campaign_leads, replies)."""
    return tuple(t for t in TABLES if t.parent is not None and t.parent.table == table.name)
