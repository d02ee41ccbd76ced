"""analytics_assets: a sales-engagement API mirrored into a warehouse with dlt and Dagster.

Nothing leaves the machine but the API's own requests: dlt's anonymous telemetry is switched off
before any dlt code runs (dlt starts it with the first source it builds; set
``RUNTIME__DLTHUB_TELEMETRY=true`` to opt in).
"""

import os

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
