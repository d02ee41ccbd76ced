"""Phase split from dlt's trace and from Dagster's step events."""

from __future__ import annotations

from typing import Any

DLT_PHASES = ("extract", "normalize", "load")


def dlt_phases(trace: Any) -> dict[str, float]:
    """Seconds per dlt step (extract / normalize / load) of a ``PipelineTrace``."""
    phases: dict[str, float] = {}
    for step in getattr(trace, "steps", None) or []:
        if step.step in DLT_PHASES and step.started_at and step.finished_at:
            seconds = (step.finished_at - step.started_at).total_seconds()
            phases[step.step] = phases.get(step.step, 0.0) + seconds
    return phases


def dagster_step_seconds(events: list[Any]) -> dict[str, float]:
    """Step key -> duration in seconds, from the STEP_SUCCESS events of a run."""
    durations: dict[str, float] = {}
    for event in events:
        if event.is_step_success and event.step_key:
            durations[event.step_key] = event.event_specific_data.duration_ms / 1000
    return durations
