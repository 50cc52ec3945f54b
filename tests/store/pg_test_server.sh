#!/usr/bin/env bash
# Start (if not yet running) a throw-away PostgreSQL cluster for the tests: 127.0.0.1:55432, trust auth for
# loopback only, data in /tmp. Prints the server's URL. Used by .ci/services and, when nothing is listening,
# by the tests' fixture itself (so the tests also run from a copy of the repository in an empty directory).
# Needs Debian's `postgresql` package (.ci/apt-packages.txt). As root the server runs as the postgres user.
set -euo pipefail
port=${HER2CDS_TEST_PG_PORT:-55432}
dir=${HER2CDS_TEST_PG_DIR:-/tmp/her2cds-pgtest-$port}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "pg_test_server: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
url="postgresql://postgres@127.0.0.1:$port/postgres"
exec 9>"/tmp/her2cds-pgtest-$port.lock"
flock 9
if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then echo "$url"; exit 0; fi
as=()
if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
if [ ! -f "$dir/PG_VERSION" ]; then
  rm -rf "$dir"; mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  chmod 700 "$dir"
  "${as[@]}" "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 \
    || { cat "$dir.initdb.log" >&2; exit 1; }
fi
# the server's log is written by the server's user: created (or handed over) before this shell appends pg_ctl's
# own messages to it (as root the shell would otherwise create it root-owned, and the server could not open it)
touch "$dir/server.log"
[ "$(id -u)" = 0 ] && chown postgres: "$dir/server.log"
"${as[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start \
  </dev/null >/dev/null 2>>"$dir/server.log" 9>&- \
  || { tail -20 "$dir/server.log" >&2; exit 1; }
echo "$url"
