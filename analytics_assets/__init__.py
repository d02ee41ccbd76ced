"""analytics_assets: a sales-engagement API mirrored into a warehouse with dlt and Dagster.

Nothing leaves the machine but the API's own requests: dlt's anonymous telemetry is switched off
before any dlt code runs (dlt starts it with the first source it builds; set
``RUNTIME__DLTHUB_TELEMETRY=true`` to opt in).

Arrow allocates through the system allocator unless ``ARROW_DEFAULT_MEMORY_POOL`` says otherwise:
its default pool (mimalloc) kept the memory of every page converted and written, about 50 MB
more at 1M leads (README, "Memory"). Arrow reads the variable at its first allocation, so it is
set here, before any.
"""

import os

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
