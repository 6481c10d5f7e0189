#!/usr/bin/env bash
# make backup / make restore: pg_dump and pg_restore of the database in DATABASE_URL.
#   bin/backup.sh backup  [FILE]   # default var/backups/handoff-YYYYmmdd-HHMMSS.dump
#   bin/backup.sh restore FILE     # into DATABASE_URL (an empty database, or one to replace)
set -euo pipefail
action=${1:-}
url=${DATABASE_URL:-}
case "$url" in
  postgres://*|postgresql://*) ;;
  *) echo "DATABASE_URL must point at PostgreSQL (got '${url:-nothing}'); SQLite needs no tool: copy var/handoff.sqlite3." >&2; exit 2 ;;
esac
url=${url/#postgres:/postgresql:}
case "$action" in
  backup)
    file=${2:-var/backups/handoff-$(date -u +%Y%m%d-%H%M%S).dump}
    mkdir -p "$(dirname "$file")"
    pg_dump --format=custom --no-owner --no-privileges --file="$file" "$url"
    echo "backed up to $file ($(du -h "$file" | cut -f1))"
    ;;
  restore)
    file=${2:?usage: bin/backup.sh restore FILE}
    [ -f "$file" ] || { echo "no such backup: $file" >&2; exit 2; }
    pg_restore --clean --if-exists --no-owner --no-privileges --exit-on-error --single-transaction \
      --dbname="$url" "$file"
    echo "restored $file into the database"
    ;;
  *) echo "usage: bin/backup.sh backup [FILE] | restore FILE" >&2; exit 2 ;;
esac
