#!/usr/bin/env bash
# Times `segmint magento import` and `write-back` over a MariaDB store of 1,000,000
# customers and two segments by group (750,000 memberships): a private server in a
# temporary directory, stopped at the end.
#   benches/magento/write_back.sh [path/to/segmint]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
segmint="${1:-${CARGO_TARGET_DIR:-target}/release/segmint}"
work="$(mktemp -d)"
. "$here/server.sh"
start_server 2G
sql -e "CREATE DATABASE shop"
sql shop < "$here/../../src/magento/schema.sql"
sql shop < "$here/customers.sql"
url="mysql://root@localhost/shop?socket=$work/sock"
echo "import:"; timed "$segmint" magento import --from "$url" --out "$work/store"
echo "write-back, dry run:"; timed "$segmint" magento write-back --to "$url" --data "$work/store" --dry-run
echo "write-back, every member entering:"; timed "$segmint" magento write-back --to "$url" --data "$work/store"
echo "write-back, nobody entering or leaving:"; timed "$segmint" magento write-back --to "$url" --data "$work/store"
sql shop -e "UPDATE customer_entity SET group_id = (group_id + 1) % 4 WHERE entity_id % 10 = 0"
echo "import after 100,000 customers changed group:"; timed "$segmint" magento import --from "$url" --out "$work/store" --force
echo "write-back, 150,000 entering or leaving:"; timed "$segmint" magento write-back --to "$url" --data "$work/store"
