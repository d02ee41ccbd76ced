"""Bad-data injection: deterministic defects for exercising asset checks.

Each defect changes specific records of a generated ``Dataset`` in place and reports the ids it
touched. Targets are drawn from their own RNG whichever defects are enabled, so a defect hits the
same record alone or combined with others.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable

from analytics_assets.sandbox.data import Dataset

DEFECTS: tuple[str, ...] = (
    "null_email",  # a user whose email (declared non-nullable) is null
    "malformed_email",  # a user whose email is 'not-an-email'
    "null_owner_id",  # a lead whose owner_id (declared non-nullable) is null
    "duplicate_id",  # a lead on page 2 replaced by a copy of a lead on page 1, same id
    "string_in_integer",  # a lead whose sent_count is the string 'many'
    "undeclared_field",  # every campaign's stats gains UNDECLARED_STAT, as an API update would
)
MALFORMED_EMAIL = "not-an-email"
NON_NUMERIC = "many"
UNDECLARED_STAT = "prospects_clicked"  # a stats counter schema.py does not declare


def validate(names: Iterable[str]) -> tuple[str, ...]:
    """Return ``names`` as a tuple; ValueError naming the valid defects if one is unknown."""
    names = tuple(names)
    unknown = [name for name in names if name not in DEFECTS]
    if unknown:
        raise ValueError(f"unknown defect(s) {unknown}; valid defects: {', '.join(DEFECTS)}")
    return names


def apply_defects(
    dataset: Dataset, names: Iterable[str], seed: int, page_size: int
) -> dict[str, list[str]]:
    """Inject the named defects into ``dataset`` in place.

    Args:
        dataset: Freshly generated records (``updated_at`` is kept aligned with ``records``).
        names: Defect names from ``DEFECTS``.
        seed: The dataset's seed; targets are derived from it.
        page_size: Rows per page, to place ``duplicate_id`` on pages 1 and 2.

    Returns:
        Defect name -> ids of the affected records, for the enabled defects only.
    """
    enabled = set(validate(names))
    users = dataset.records.get("users", [])
    leads = dataset.records.get("leads", [])
    campaigns = dataset.records.get("campaigns", [])
    rng = random.Random(f"{seed}:defects")
    user_targets = rng.sample(range(len(users)), min(2, len(users)))
    # duplicate_id: a source on page 1 and a victim on page 2; other lead defects avoid both.
    on_two_pages = len(leads) > page_size
    source = rng.randrange(page_size) if on_two_pages else None
    victim = rng.randrange(page_size, min(2 * page_size, len(leads))) if on_two_pages else None
    others = [i for i in range(len(leads)) if i not in (source, victim)]
    lead_targets = rng.sample(others, min(2, len(others)))

    affected: dict[str, list[str]] = {}

    def need(name: str, available: int, wanted: int, what: str) -> bool:
        if name not in enabled:
            return False
        if available < wanted:
            raise ValueError(f"defect {name!r} needs {what}")
        return True

    if need("null_email", len(user_targets), 1, "at least 1 user"):
        affected["null_email"] = [_set(users[user_targets[0]], ("email",), None)]
    if need("malformed_email", len(user_targets), 2, "at least 2 users"):
        affected["malformed_email"] = [_set(users[user_targets[1]], ("email",), MALFORMED_EMAIL)]
    if need("null_owner_id", len(lead_targets), 1, "at least 1 lead"):
        affected["null_owner_id"] = [_set(leads[lead_targets[0]], ("owner_id",), None)]
    if need("string_in_integer", len(lead_targets), 2, "at least 2 leads besides duplicates"):
        affected["string_in_integer"] = [_set(leads[lead_targets[1]], ("sent_count",), NON_NUMERIC)]
    if need("duplicate_id", int(on_two_pages), 1, f"more than page_size={page_size} leads"):
        assert source is not None and victim is not None
        _drop_embeds(dataset, "leads", leads[victim])  # the replaced lead's enrollments go too
        leads[victim] = copy.deepcopy(leads[source])
        dataset.updated_at["leads"][victim] = dataset.updated_at["leads"][source]
        affected["duplicate_id"] = [leads[source]["id"]]
    if "undeclared_field" in enabled:
        affected["undeclared_field"] = [
            campaign["id"] for campaign in campaigns if _add_undeclared(campaign, rng)
        ]
    return affected


def _set(record: dict, path: tuple[str, ...], value: object) -> str:
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return record["id"]


def _add_undeclared(campaign: dict, rng: random.Random) -> bool:
    """Add ``stats.<UNDECLARED_STAT>`` (<= prospects opened); False if stats is null."""
    stats = campaign.get("stats")
    if not isinstance(stats, dict):
        return False
    opened = stats.get("prospects_opened")
    stats[UNDECLARED_STAT] = rng.randint(0, opened if isinstance(opened, int) else 0)
    return True


def _drop_embeds(dataset: Dataset, owner: str, row: dict) -> None:
    """Drop the rows of tables other than ``owner`` that embed ``row`` itself (a campaign
    lead's lead)."""
    for table, rows in dataset.records.items():
        if table == owner:
            continue
        kept = [i for i, r in enumerate(rows) if not any(v is row for v in r.values())]
        if len(kept) < len(rows):
            stamps = dataset.updated_at[table]
            dataset.records[table] = [rows[i] for i in kept]
            dataset.updated_at[table] = [stamps[i] for i in kept]
