"""`python -m analytics_assets.dev`: the sandbox plus the Dagster UI (`make dev`)."""

import sys

from analytics_assets.local import dev

if __name__ == "__main__":
    sys.exit(dev())
