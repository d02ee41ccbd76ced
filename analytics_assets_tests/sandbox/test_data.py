"""Generated data: derived from the schema declaration, deterministic, independent per table."""

from __future__ import annotations

import dataclasses

from analytics_assets.sandbox.data import generate
from analytics_assets.schema import CAMPAIGNS, LEADS, TABLES, USERS, Field


def test_same_seed_same_data_and_tables_are_independent() -> None:
    counts = {"users": 10, "leads": 200, "campaigns": 5}
    first, again = generate(counts, seed=3), generate(counts, seed=3)
    assert first == again
    assert generate(counts, seed=4).records["leads"] != first.records["leads"]
    # More leads leave users and the first leads untouched.
    more = generate({**counts, "leads": 300}, seed=3)
    assert more.records["users"] == first.records["users"]
    assert more.records["leads"][:200] == first.records["leads"]


def test_a_field_added_to_the_schema_appears_in_the_data() -> None:
    extra = (
        Field("timezone", "string", True, "IANA time zone."),
        Field("seats", "integer", False, "Licensed seats."),
        Field("signed_up_at", "string", False, "Sign-up time.", format="date-time"),
        Field(
            "manager",
            "object",
            True,
            "The user's manager.",
            fields=(
                Field("id", "string", True, "Manager id.", references="users.id"),
                Field("email", "string", True, "Manager email.", format="email"),
            ),
        ),
    )
    users = dataclasses.replace(USERS, fields=(*USERS.fields, *extra))
    data = generate({"users": 60, "leads": 5, "campaigns": 2}, tables=(users, LEADS, CAMPAIGNS))
    rows = data.records["users"]
    assert all(list(row) == [f.name for f in users.fields] for row in rows)
    assert all(type(row["seats"]) is int and row["signed_up_at"].endswith("Z") for row in rows)
    assert {row["timezone"] is None for row in rows} == {True, False}
    by_id = {row["id"]: row for row in rows}
    # A self-reference points at an earlier row (the first row has none to point at).
    managers = [row["manager"] for row in rows[1:] if row["manager"] is not None]
    assert managers and all(m["email"] == by_id[m["id"]]["email"] for m in managers)


def test_tables_are_generated_after_the_tables_they_reference() -> None:
    data = generate({"users": 3, "leads": 20, "campaigns": 4}, tables=tuple(reversed(TABLES)))
    user_ids = {user["id"] for user in data.records["users"]}
    assert {lead["owner_id"] for lead in data.records["leads"]} <= user_ids
    assert len(data.updated_at["leads"]) == 20
