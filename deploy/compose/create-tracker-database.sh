#!/bin/sh
# PostgreSQL's image runs this once, on an empty data directory, after it
# has created POSTGRES_DB (the bridge's database): Rasa's tracker store gets
# a database of its own beside it.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=tracker_db="$TRACKER_DB" <<'SQL'
CREATE DATABASE :"tracker_db";
SQL
