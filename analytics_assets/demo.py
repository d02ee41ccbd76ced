"""`python -m analytics_assets.demo`: one offline sync into DuckDB (`make demo`)."""

import sys

from analytics_assets.local import demo

if __name__ == "__main__":
    sys.exit(demo())
