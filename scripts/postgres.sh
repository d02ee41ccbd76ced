#!/usr/bin/env bash
# A local PostgreSQL on 127.0.0.1 for the Postgres tests: installs Debian's package if missing,
# starts the cluster, creates role and database `analytics`, prints the admin DSN the tests use
# (ANALYTICS_TEST_POSTGRES_URL). Idempotent; needs root (apt-get, pg_ctlcluster).
#
# Stdout carries the DSN and nothing else: callers capture it with $(...). Everything the tools
# print goes to stderr (pg_ctlcluster says "Removed stale pid file." after an unclean shutdown),
# and the server never holds the caller's pipe open.
set -euo pipefail

start_cluster() {
  if ! command -v pg_lsclusters >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if [ -z "$(pg_lsclusters --no-header)" ]; then  # the package without its default cluster
    pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main </dev/null
  fi
  read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1)
  if [ "$status" != "online" ]; then
    pg_ctlcluster "$version" "$cluster" start </dev/null
  fi
  psql_admin() { su postgres -c "psql -p $port -qtAX -c \"$1\""; }
  if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = 'analytics'")" != "1" ]; then
    psql_admin "CREATE ROLE analytics LOGIN PASSWORD 'analytics' CREATEDB" >/dev/null
  fi
  if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = 'analytics'")" != "1" ]; then
    psql_admin "CREATE DATABASE analytics OWNER analytics" >/dev/null
  fi
  PORT="$port"
}

PORT=""
start_cluster >&2
echo "postgresql://analytics:analytics@127.0.0.1:${PORT}/analytics"
