#!/usr/bin/env bash
# Times `segmint magento import` and `write-back` over a MariaDB store of 1,000,000
# customers and two segments by group (750,000 memberships): a private server in a
# temporary directory, stopped at the end.
#   benches/magento/write_back.sh [path/to/segmint]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
segmint="${1:-${CARGO_TARGET_DIR:-target}/release/segmint}"
work="$(mktemp -d)"
server=""
finish() {
    if [ -n "$server" ]; then kill "$server"; wait "$server" || true; fi
    rm -rf "$work"
}
trap finish EXIT
run_as_root=()
[ "$(id -u)" = 0 ] && run_as_root=(--user=root)
mariadb-install-db --no-defaults --auth-root-authentication-method=normal \
    --datadir="$work/data" "${run_as_root[@]}" > "$work/install.log"
mariadbd --no-defaults --datadir="$work/data" --socket="$work/sock" --skip-networking \
    --innodb-buffer-pool-size=2G "${run_as_root[@]}" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    mariadb --no-defaults --socket="$work/sock" -uroot -e "SELECT 1" > /dev/null 2>&1 && break
    sleep 0.2
done
sql() { mariadb --no-defaults --socket="$work/sock" -uroot "$@"; }
sql -e "CREATE DATABASE shop"
sql shop < "$here/../../src/magento/schema.sql"
sql shop < "$here/customers.sql"
url="mysql://root@localhost/shop?socket=$work/sock"
timed() { /usr/bin/time -f "  %e s, peak RSS %M KB" "$@" 2>&1 | grep -v " INFO "; }
echo "import:"; timed "$segmint" magento import --from "$url" --out "$work/store"
echo "write-back, dry run:"; timed "$segmint" magento write-back --to "$url" --data "$work/store" --dry-run
echo "write-back, every member entering:"; timed "$segmint" magento write-back --to "$url" --data "$work/store"
echo "write-back, nobody entering or leaving:"; timed "$segmint" magento write-back --to "$url" --data "$work/store"
sql shop -e "UPDATE customer_entity SET group_id = (group_id + 1) % 4 WHERE entity_id % 10 = 0"
echo "import after 100,000 customers changed group:"; timed "$segmint" magento import --from "$url" --out "$work/store" --force
echo "write-back, 150,000 entering or leaving:"; timed "$segmint" magento write-back --to "$url" --data "$work/store"
