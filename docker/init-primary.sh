#!/bin/bash
# First start of the compose primary: the application's user and database, and replication
# access for the standby (UNTESTED HERE, see compose.yaml).
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U postgres <<SQL
CREATE ROLE app LOGIN PASSWORD '${APP_PASSWORD}';
CREATE DATABASE app OWNER app;
SQL
echo "host replication postgres all scram-sha-256" >> "$PGDATA/pg_hba.conf"
