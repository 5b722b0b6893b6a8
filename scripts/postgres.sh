# Sourced by scripts/test and scripts/bench: starts a private PostgreSQL cluster on a free
# loopback port (password auth, stopped and deleted however the caller ends) and exports
# DESKWARD_TEST_POSTGRES_ADMIN_URL for the test kit.
pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
pgdir=$(mktemp -d)
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$pgdir"
  as_pg=(runuser -u postgres --)
fi
stop_pg() {
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$pgdir"
}
trap stop_pg EXIT
pgpass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$pgpass" > "$pgdir/pwfile"
[ "$(id -u)" = 0 ] && chown postgres: "$pgdir/pwfile"
"${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=scram-sha-256 --pwfile="$pgdir/pwfile" --no-sync >"$pgdir/initdb.log"
# fsync off for the tests' speed, in the configuration file, not on the command line, so the
# benchmark can switch it on with ALTER SYSTEM to measure the server as installed.
echo "fsync = off" >> "$pgdir/data/postgresql.conf"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/pg.log" -w \
  -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
export DESKWARD_TEST_POSTGRES_ADMIN_URL="postgres://postgres:$pgpass@127.0.0.1:$port/postgres"
