#!/usr/bin/env bash
# A local PostgreSQL on 127.0.0.1 for the Postgres tests: installs Debian's package if missing,
# starts the cluster, creates role and database `analytics`, prints the admin DSN the tests use
# (ANALYTICS_TEST_POSTGRES_URL). Idempotent; needs root (apt-get, pg_ctlcluster).
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1)
if [ "$status" != "online" ]; then
  pg_ctlcluster "$version" "$cluster" start
fi
psql_admin() { su postgres -c "psql -p $port -qtAX -c \"$1\""; }
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = 'analytics'")" != "1" ]; then
  psql_admin "CREATE ROLE analytics LOGIN PASSWORD 'analytics' CREATEDB" >/dev/null
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = 'analytics'")" != "1" ]; then
  psql_admin "CREATE DATABASE analytics OWNER analytics" >/dev/null
fi
echo "postgresql://analytics:analytics@127.0.0.1:${port}/analytics"
