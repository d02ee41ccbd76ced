"""SyncProgress: pages and rows per resource, throttled log lines."""

from analytics_assets.ingest.progress import SyncProgress


def test_lines_are_throttled_and_count_pages_and_rows() -> None:
    now = [0.0]
    lines: list[str] = []
    progress = SyncProgress(lines.append, interval_s=5.0, clock=lambda: now[0])
    users, leads = progress.page_callback("users"), progress.page_callback("leads")

    users(25)
    leads(100)
    now[0] = 5.0
    leads(100)
    now[0] = 6.0
    leads(100)

    assert lines == ["sync progress: users 1 pages / 25 rows; leads 2 pages / 200 rows"]
    assert progress.describe() == "users 1 pages / 25 rows; leads 3 pages / 300 rows"
