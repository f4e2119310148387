#!/usr/bin/env bash
# Times the Magento bridge at M (issue 16): `segmint magento seed` of a generated dataset of
# 1,000,000 customers into a private MariaDB, the suite's Magento-expressible segments
# stored as Magento's admin stores them (suite_segments.sql), `import`, and `write-back`;
# then checks each segment's members in magento_customersegment_customer against the
# suite's own definition evaluated over the generated dataset at the same instant.
#   benches/magento/m_scale.sh [path/to/segmint] [dataset dir (default: generated, seed 1)]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
segmint="${1:-${CARGO_TARGET_DIR:-target}/release/segmint}"
work="$(mktemp -d /var/tmp/segmint-magento-m.XXXXXX)"
data="${2:-$work/M}"
. "$here/server.sh"
start_server 4G
if [ ! -d "$data" ]; then
    "$segmint" generate --customers 1000000 --seed 1 --out "$data" 2>&1 | tail -1
fi
sql -e "CREATE DATABASE shop"
url="mysql://root@localhost/shop?socket=$work/sock"
echo "seed:"; timed "$segmint" magento seed --to "$url" --from "$data"
sql shop -N -e "SELECT 'rows: customers', COUNT(*) FROM customer_entity UNION ALL
    SELECT 'orders', COUNT(*) FROM sales_order UNION ALL SELECT 'order items', COUNT(*) FROM sales_order_item
    UNION ALL SELECT 'order addresses', COUNT(*) FROM sales_order_address
    UNION ALL SELECT 'views', COUNT(*) FROM report_viewed_product_index" | paste -sd' '
sql shop < "$here/suite_segments.sql"
echo "import:"; timed "$segmint" magento import --from "$url" --out "$work/store"
as_of="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "write-back at $as_of, dry run:"
timed "$segmint" magento write-back --to "$url" --data "$work/store" --as-of "$as_of" --dry-run | tail -1
echo "write-back, every member entering:"
timed "$segmint" magento write-back --to "$url" --data "$work/store" --as-of "$as_of"
echo "write-back again, nobody entering or leaving:"
timed "$segmint" magento write-back --to "$url" --data "$work/store" --as-of "$as_of" | tail -2
echo "members in Magento against the suite's definition over the generated dataset:"
sql shop -N -e "SELECT segment_id, name FROM magento_customersegment_segment ORDER BY segment_id" |
while read -r id name; do
    in_magento="$(sql shop -N -e "SELECT COUNT(*) FROM magento_customersegment_customer WHERE segment_id = $id")"
    suite="$("$segmint" eval --data "$data" --as-of "$as_of" --ids "$here/../segments/$name.json" 2>/dev/null | grep -c '^c:' || true)"
    echo "  $id $name: $in_magento in Magento, $suite by the suite's definition"
done
