"""The one declaration of the seed's schema (users, leads, campaigns).

Everything that needs to know the shape of the API's records derives it from here: dlt column
hints, asset checks, the column docs shown in the Dagster UI and the sandbox's generated data.
This module imports neither dagster nor dlt; each consumer owns a small conversion.

Types are the seed's JSON types. Nested objects flatten dlt-style: ``leads.data.city`` becomes the
column ``data__city``. A column is nullable when the field or any object around it is nullable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

API_NAME = "analytics_api"
"""The API's one name: the dlt source and pipeline, the warehouse schema (dlt dataset) of the
raw tables, their asset key prefix and asset group."""

FieldType = Literal["string", "boolean", "integer", "object"]
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
class Table:
    """One API resource: endpoint ``/<name>``, data selector ``<name>``, table ``<name>``."""

    name: str
    description: str
    fields: tuple[Field, ...]
    primary_key: str = "id"

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

TABLES: tuple[Table, ...] = (USERS, LEADS, CAMPAIGNS)
TABLES_BY_NAME: dict[str, Table] = {table.name: table for table in TABLES}
