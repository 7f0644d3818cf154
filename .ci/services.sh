#!/usr/bin/env bash
# Services the tests use. Called by .ci/run before `npm test`; it must never fail the run by
# itself: whatever goes wrong is printed as a visible "services:" line, the script exits 0, and
# the tests that need the service skip with a message of their own.
#
# PostgreSQL (for `quant-audit witness --from postgres://…`, issue 8):
#   a private cluster on 127.0.0.1:${QA_PG_PORT:-54329} (not the distribution's default 5432),
#   data under ${QA_PG_DIR:-/tmp/quant-audit-pg}, role qa_test / password qa_test, database qa_witness.
#   The URL is written to .tmp/pg-url (tests read it from there, or from QA_TEST_PG_URL):
#     postgres://qa_test:qa_test@127.0.0.1:54329/qa_witness
#   Installed from Debian's packages (`apt-get install -y postgresql`) when no server binary exists.
#   Idempotent: a cluster that is already up is reused.
set -u
cd "$(dirname "$0")/.."

say() { echo "services: $*"; }

start_postgres() {
  local port="${QA_PG_PORT:-54329}"
  local dir="${QA_PG_DIR:-/tmp/quant-audit-pg}"
  local url="postgres://qa_test:qa_test@127.0.0.1:${port}/qa_witness"
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
    say "PostgreSQL not installed; installing it from Debian's packages (apt-get install -y postgresql)"
    if ! { timeout 600 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq postgresql >/dev/null; }; then
      say "WARNING: could not install PostgreSQL; the PostgreSQL witness tests will be skipped"
      return 1
    fi
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  fi
  # The server refuses to run as root: run it as the 'postgres' account the package creates.
  local runas=()
  if [ "$(id -u)" = "0" ]; then
    if ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres 2>/dev/null || true
    fi
    runas=(runuser -u postgres --)
  fi
  if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    say "PostgreSQL already running on 127.0.0.1:${port}"
  else
    # A cluster left over from an earlier run (stale pid file, different owner) is rebuilt: it holds only test data.
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "${#runas[@]}" -gt 0 ] && chown postgres: "$dir"
    "${runas[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      say "WARNING: initdb failed (see below); the PostgreSQL witness tests will be skipped"
      tail -n 20 "$dir/initdb.log" 2>/dev/null
      return 1
    fi
    # Password auth for TCP clients (the tests check that a wrong password is a clear error).
    cat >"$dir/data/pg_hba.conf" <<'EOF'
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
EOF
    if ! "${runas[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null; then
      say "WARNING: PostgreSQL did not start (see below); the PostgreSQL witness tests will be skipped"
      tail -n 20 "$dir/server.log" 2>/dev/null
      return 1
    fi
    say "PostgreSQL started on 127.0.0.1:${port} (data in $dir)"
  fi
  local psql=("${runas[@]}" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
  if ! "${psql[@]}" >/dev/null <<'EOF'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'qa_test') THEN
    CREATE ROLE qa_test LOGIN PASSWORD 'qa_test';
  END IF;
END $$;
EOF
  then
    say "WARNING: could not create the test role; the PostgreSQL witness tests will be skipped"
    return 1
  fi
  if ! "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'qa_witness'" | grep -q 1; then
    "${psql[@]}" -c "CREATE DATABASE qa_witness OWNER qa_test" >/dev/null || {
      say "WARNING: could not create the test database; the PostgreSQL witness tests will be skipped"
      return 1
    }
  fi
  mkdir -p .tmp
  echo "$url" >.tmp/pg-url
  say "PostgreSQL test database ready: $url (also in .tmp/pg-url)"
}

start_postgres || say "PostgreSQL is not available"
exit 0
