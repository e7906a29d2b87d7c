# Starts the local stand-ins for the cloud services the tests use, and exports
# where they listen. Source it (`. scripts/services.sh`); they stop when the
# sourcing shell exits.
#
# - moto: DynamoDB, DynamoDB Streams, SQS (pinned in tools/emulators/requirements.txt),
#   started by tools/emulators/moto_server.py, which keeps a cancelled
#   transaction's records out of the table's stream. Its DynamoDB and Streams
#   APIs sit behind tools/latency-proxy with --isolate-writes (no delay):
#   moto puts back what a failed transaction changed, so a write beside it
#   would be lost and a read beside it could see what was taken back;
#   DynamoDB isolates every write, and so does the proxy.
# - kinesis-local: Kinesis (pinned in tools/emulators/package-lock.json)
# - PostgreSQL 15: a throwaway cluster under /tmp (the system's server package)
# - localstripe: a stateful fake of Stripe's API (PaymentIntents, refunds,
#   signed webhooks, a fake Stripe.js)
# - aiosmtpd: an SMTP server that keeps every mail it takes in a Maildir
#
# Installs go to ~/.cache/cloudbash (outside the clone) and are reused while
# the pinned versions stay the same.

CLOUDBASH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLOUDBASH_CACHE="${CLOUDBASH_CACHE:-$HOME/.cache/cloudbash}"
CLOUDBASH_SERVICES_LOG="$(mktemp -d /tmp/cloudbash-services.XXXXXX)"
CLOUDBASH_PIDS=()
PGBIN=/usr/lib/postgresql/15/bin

# initdb refuses to run as root: as root, run the server as the postgres user.
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

wait_for() { # url, name
  for _ in $(seq 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "$2 did not start; its log:" >&2; cat "$CLOUDBASH_SERVICES_LOG/$2.log" >&2; return 1
}

stop_services() {
  for pid in "${CLOUDBASH_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "${PGTMP:-}" ]; then
    as_postgres "$PGBIN/pg_ctl" -D "$PGTMP/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PGTMP"
  fi
}
trap stop_services EXIT

# --- installs ---------------------------------------------------------------
venv="$CLOUDBASH_CACHE/venv"
stamp="$(sha256sum "$CLOUDBASH_ROOT/tools/emulators/requirements.txt" | cut -c1-16)"
if [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$stamp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$CLOUDBASH_ROOT/tools/emulators/requirements.txt"
  echo "$stamp" > "$venv/.requirements"
fi
export PATH="$venv/bin:$PATH"
if [ ! -f "$CLOUDBASH_ROOT/tools/emulators/node_modules/kinesis-local/main.js" ]; then
  (cd "$CLOUDBASH_ROOT/tools/emulators" && npm ci --no-audit --no-fund --silent)
fi
test -x "$PGBIN/postgres" || { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql-15; }

# --- moto: DynamoDB, DynamoDB Streams, SQS ------------------------------------
MOTO_PORT=$(free_port)
"$venv/bin/python" "$CLOUDBASH_ROOT/tools/emulators/moto_server.py" -H 127.0.0.1 -p "$MOTO_PORT" > "$CLOUDBASH_SERVICES_LOG/moto.log" 2>&1 &
CLOUDBASH_PIDS+=($!)

# --- kinesis-local: Kinesis ---------------------------------------------------
KINESIS_PORT=$(free_port)
KINESIS_TLS_PORT=$(free_port)
( cd "$CLOUDBASH_ROOT/tools/emulators" && \
  KINESIS_MOCK_CERT_PATH="$PWD/node_modules/kinesis-local/server.json" \
  KINESIS_MOCK_PLAIN_PORT=$KINESIS_PORT KINESIS_MOCK_TLS_PORT=$KINESIS_TLS_PORT \
  CREATE_STREAM_DURATION=0ms DELETE_STREAM_DURATION=0ms REGISTER_STREAM_CONSUMER_DURATION=0ms \
  DEREGISTER_STREAM_CONSUMER_DURATION=0ms UPDATE_SHARD_COUNT_DURATION=0ms MERGE_SHARDS_DURATION=0ms \
  SPLIT_SHARD_DURATION=0ms START_STREAM_ENCRYPTION_DURATION=0ms STOP_STREAM_ENCRYPTION_DURATION=0ms \
  SHARD_LIMIT=100000 LOG_LEVEL=WARN exec node --require ./loopback-only.js node_modules/kinesis-local/main.js ) \
  > "$CLOUDBASH_SERVICES_LOG/kinesis.log" 2>&1 &
CLOUDBASH_PIDS+=($!)

# --- localstripe: Stripe's API ---------------------------------------------------
STRIPE_PORT=$(free_port)
"$venv/bin/localstripe" --port "$STRIPE_PORT" --from-scratch > "$CLOUDBASH_SERVICES_LOG/localstripe.log" 2>&1 &
CLOUDBASH_PIDS+=($!)

# --- aiosmtpd: an SMTP sink writing to a Maildir --------------------------------
SMTP_PORT=$(free_port)
CLOUDBASH_MAIL_DIR="$CLOUDBASH_SERVICES_LOG/maildir"
"$venv/bin/python" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$CLOUDBASH_MAIL_DIR" \
  > "$CLOUDBASH_SERVICES_LOG/smtp.log" 2>&1 &
CLOUDBASH_PIDS+=($!)

# --- PostgreSQL: a throwaway cluster ------------------------------------------
PGTMP=$(mktemp -d /tmp/cloudbash-pg.XXXXXX)
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PGTMP"; fi
PG_PORT=$(free_port)
as_postgres "$PGBIN/initdb" -D "$PGTMP/data" -U postgres --auth=trust -E UTF8 --no-sync \
  > "$CLOUDBASH_SERVICES_LOG/initdb.log" 2>&1
as_postgres "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PGTMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  start > /dev/null

wait_for "http://127.0.0.1:$MOTO_PORT/moto-api/" moto
DYNAMODB_PORT=$(free_port)
python3 "$CLOUDBASH_ROOT/tools/latency-proxy/latency_proxy.py" --upstream "http://127.0.0.1:$MOTO_PORT" \
  --port "$DYNAMODB_PORT" --delay-ms 0 --isolate-writes > /dev/null 2> "$CLOUDBASH_SERVICES_LOG/isolation.log" &
CLOUDBASH_PIDS+=($!)
wait_for "http://127.0.0.1:$DYNAMODB_PORT/__proxy/stats" isolation
wait_for "http://127.0.0.1:$KINESIS_PORT/" kinesis
wait_for "http://127.0.0.1:$STRIPE_PORT/js.stripe.com/v3/" localstripe
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null && break; sleep 0.1; done

export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
export AWS_ENDPOINT_URL_DYNAMODB_STREAMS="http://127.0.0.1:$DYNAMODB_PORT"
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$MOTO_PORT"
export AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER="http://127.0.0.1:$MOTO_PORT"
export AWS_ENDPOINT_URL_KINESIS="http://127.0.0.1:$KINESIS_PORT"
export CLOUDBASH_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
# Tests tell their mails apart by recipient: every test writes to addresses of its own.
export CLOUDBASH_TEST_STRIPE_URL="http://127.0.0.1:$STRIPE_PORT"
export CLOUDBASH_TEST_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT" CLOUDBASH_TEST_MAIL_DIR="$CLOUDBASH_MAIL_DIR"
echo "services: moto :$MOTO_PORT (DynamoDB isolated at :$DYNAMODB_PORT), kinesis-local :$KINESIS_PORT, postgres :$PG_PORT, localstripe :$STRIPE_PORT, smtp :$SMTP_PORT (logs in $CLOUDBASH_SERVICES_LOG)" >&2
