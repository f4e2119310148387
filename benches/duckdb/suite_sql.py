"""The segment suite (benches/segments/*.json) written as SQL for DuckDB, by hand, from
segment-language.md: each query counts the members of one segment.

The rules the SQL spells out, as the language defines them:
- scope: customers of the segment's websites; visitors with an active cart or a product
  view on one of them; orders, carts and views count only on those websites; guest orders
  never count;
- active carts: is_active true or null, one per subject and website (the most recently
  updated, ties to the higher cart_id);
- strings compare case-insensitively; a comparison with null is false, and NOT of it true;
- in_last_days N: on or after 00:00 UTC of the day N days before as_of's day;
- count/sum/avg over no records are 0; min/max over none are false; avg compares exactly
  (sum >= value * count of non-null values);
- cart.* comparisons hold when they hold for any active cart, each on its own.
"""

from datetime import date, datetime, timedelta


def queries(as_of: datetime) -> dict:
    today = as_of.date()

    def cut(days: int) -> str:
        return f"TIMESTAMP '{(today - timedelta(days=days)).isoformat()} 00:00:00'"

    def customers(websites: str) -> str:
        return f"FROM customers c WHERE c.website_id IN ({websites})"

    def visitors(websites: str) -> str:
        return f"""FROM (SELECT visitor_id FROM active_carts WHERE visitor_id IS NOT NULL AND website_id IN ({websites})
                  UNION SELECT visitor_id FROM product_views WHERE visitor_id IS NOT NULL AND website_id IN ({websites})) v"""

    year = today.year
    return {
        "address_germany_billing": f"""
            SELECT count(*) {customers('1')} AND EXISTS (
              SELECT 1 FROM addresses a WHERE a.customer_id = c.customer_id
                AND a.is_default_billing AND lower(a.country_id) = 'de')""",
        "attributes_recent_gold": f"""
            SELECT count(*) {customers('1, 2')}
              AND c.created_at >= {cut(90)}
              AND lower(c.loyalty_tier) IN ('gold', 'platinum')
              AND ends_with(lower(c.email), '@example.com')""",
        "attributes_wholesale": f"""
            SELECT count(*) {customers('1')} AND c.group_id IN (2, 3) AND c.newsletter_subscribed""",
        "average_order_150": f"""
            SELECT count(*) {customers('1, 2')} AND c.customer_id IN (
              SELECT customer_id FROM orders
              WHERE website_id IN (1, 2) AND lower(status) IN ('complete', 'closed')
              GROUP BY customer_id
              HAVING count(grand_total) > 0 AND sum(grand_total) >= 150 * count(grand_total))""",
        "big_spender_wholesale": f"""
            SELECT count(*) {customers('1')}
              AND c.group_id IN (2, 3) AND c.newsletter_subscribed
              AND c.customer_id IN (
                SELECT customer_id FROM orders
                WHERE website_id IN (1) AND lower(status) = 'complete' AND created_at >= {cut(365)}
                GROUP BY customer_id HAVING sum(grand_total) >= 500)""",
        "birthday_week": f"""
            WITH born AS (
              SELECT c.customer_id, c.dob,
                CASE WHEN month(c.dob) = 2 AND day(c.dob) = 29 AND NOT {is_leap(year)}
                     THEN DATE '{year}-02-28' ELSE make_date({year}, month(c.dob), day(c.dob)) END AS this_year,
                CASE WHEN month(c.dob) = 2 AND day(c.dob) = 29 AND NOT {is_leap(year + 1)}
                     THEN DATE '{year + 1}-02-28' ELSE make_date({year + 1}, month(c.dob), day(c.dob)) END AS next_year
              {customers('1, 2')} AND c.dob IS NOT NULL)
            SELECT count(*) FROM born
            WHERE (CASE WHEN this_year >= DATE '{today}' THEN this_year ELSE next_year END) - DATE '{today}' <= 7
              AND {year} - year(dob) - (CASE WHEN this_year > DATE '{today}' THEN 1 ELSE 0 END) >= 18""",
        "cart_big": f"""
            SELECT count(*) {customers('1, 2')}
              AND EXISTS (SELECT 1 FROM active_carts k WHERE k.customer_id = c.customer_id
                          AND k.website_id IN (1, 2) AND k.grand_total >= 200)
              AND EXISTS (SELECT 1 FROM active_carts k WHERE k.customer_id = c.customer_id
                          AND k.website_id IN (1, 2) AND k.items_count >= 3)""",
        "cart_items_categories": f"""
            SELECT count(*) {customers('1')} AND EXISTS (
              SELECT 1 FROM active_carts k JOIN cart_items i ON i.cart_id = k.cart_id
                JOIN products p ON p.product_id = i.product_id
              WHERE k.customer_id = c.customer_id AND k.website_id IN (1)
                AND list_has_any(p.category_ids, [1, 2, 3]) AND p.price >= 50)""",
        "category_5_browsers": f"""
            WITH seen AS (
              SELECT DISTINCT w.customer_id, w.visitor_id FROM product_views w
                JOIN products p ON p.product_id = w.product_id
              WHERE w.website_id IN (1, 2) AND w.viewed_at >= {cut(30)}
                AND list_has_any(p.category_ids, [5]))
            SELECT (SELECT count(*) {customers('1, 2')}
                      AND c.customer_id IN (SELECT customer_id FROM seen WHERE customer_id IS NOT NULL))
                 + (SELECT count(*) {visitors('1, 2')}
                      WHERE v.visitor_id IN (SELECT visitor_id FROM seen WHERE visitor_id IS NOT NULL))""",
        "first_order_2026": f"""
            SELECT count(*) {customers('1, 2')} AND c.customer_id IN (
              SELECT customer_id FROM orders WHERE website_id IN (1, 2)
              GROUP BY customer_id HAVING min(created_at) >= TIMESTAMP '2026-01-01 00:00:00')""",
        "lapsed_regulars": f"""
            SELECT count(*) {customers('1, 2')} AND c.customer_id IN (
              SELECT customer_id FROM orders WHERE website_id IN (1, 2)
              GROUP BY customer_id HAVING count(*) >= 3 AND max(created_at) < {cut(180)})""",
        "nested_exclusions": f"""
            SELECT count(*) {customers('1')}
              AND NOT coalesce(c.group_id = 0, false)
              AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id
                              AND o.website_id IN (1) AND lower(o.status) = 'canceled')
              AND NOT (coalesce(c.newsletter_subscribed, false) AND coalesce(c.store_credit > 0, false))
              AND (coalesce(lower(c.gender) = 'female', false)
                   OR coalesce(starts_with(lower(c.firstname), 'a'), false))""",
        "no_orders": f"""
            SELECT count(*) {customers('1, 2')} AND NOT EXISTS (
              SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id AND o.website_id IN (1, 2))""",
        "shipped_to_gb": f"""
            SELECT count(*) {customers('1, 2')} AND c.customer_id IN (
              SELECT o.customer_id FROM orders o JOIN order_addresses a ON a.order_id = o.order_id
              WHERE o.website_id IN (1, 2) AND o.created_at >= {cut(365)}
                AND lower(a.address_type) = 'shipping' AND lower(a.country_id) = 'gb')""",
        "spent_500_complete": f"""
            SELECT count(*) {customers('1')} AND c.customer_id IN (
              SELECT customer_id FROM orders
              WHERE website_id IN (1) AND lower(status) = 'complete' AND created_at >= {cut(365)}
              GROUP BY customer_id HAVING sum(grand_total) >= 500)""",
        "viewed_not_bought": f"""
            SELECT count(*) {customers('1')}
              AND c.customer_id IN (
                SELECT w.customer_id FROM product_views w JOIN products p ON p.product_id = w.product_id
                WHERE w.website_id IN (1) AND w.viewed_at >= {cut(30)} AND list_has_any(p.category_ids, [12]))
              AND c.customer_id NOT IN (
                SELECT o.customer_id FROM orders o JOIN order_items i ON i.order_id = o.order_id
                  JOIN products p ON p.product_id = i.product_id
                WHERE o.customer_id IS NOT NULL AND o.website_id IN (1) AND o.created_at >= {cut(30)}
                  AND list_has_any(p.category_ids, [12]))""",
        "visitor_abandoners": f"""
            SELECT count(*) {visitors('1, 2')}
            WHERE EXISTS (SELECT 1 FROM active_carts k WHERE k.visitor_id = v.visitor_id
                          AND k.website_id IN (1, 2) AND k.grand_total >= 100)
              AND EXISTS (SELECT 1 FROM product_views w WHERE w.visitor_id = v.visitor_id
                          AND w.website_id IN (1, 2) AND w.viewed_at >= {cut(7)})""",
        "wishlist_brands": f"""
            SELECT count(*) {customers('1, 2')} AND EXISTS (
              SELECT 1 FROM wishlist_items i JOIN products p ON p.product_id = i.product_id
              WHERE i.customer_id = c.customer_id AND lower(p.brand) IN ('brand 01', 'brand 02'))""",
    }


def is_leap(year: int) -> str:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return "true" if leap else "false"


# Active carts: is_active true or null, the most recently updated one per subject and website.
ACTIVE_CARTS = """
CREATE OR REPLACE TABLE active_carts AS
SELECT * FROM carts WHERE coalesce(is_active, true)
QUALIFY row_number() OVER (
  PARTITION BY customer_id, visitor_id, website_id
  ORDER BY updated_at DESC NULLS LAST, cart_id DESC) = 1
"""
