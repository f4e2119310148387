//! Events parsed once where they come in: each type to its typed event, which says what
//! the live path looks up (the subjects it names, the tables it writes, the products it
//! names); what is wrong with an event on its own is found by parsing, without the data.

use segmint::events::{Event, EventList, Layouts};
use segmint::model::{SubjectId, TableName};
use serde_json::json;

use crate::differential::{engine_for, world};

fn layouts() -> Layouts {
    let (_dir, engine) = engine_for(&world(31, 3));
    Layouts::of(engine.dataset())
}

#[test]
fn each_event_type_says_which_subjects_tables_and_products_it_touches() {
    use SubjectId::{Customer, Visitor};
    use TableName::*;
    let at = "2026-10-31T12:00:00Z";
    let list = json!([
        {"type": "customer_upserted", "customer_id": 501, "website_id": 1, "email": "a@b.de"},
        {"type": "address_upserted", "address_id": 70, "customer_id": 2, "country_id": "DE"},
        {"type": "address_deleted", "address_id": 71},
        {"type": "order_placed", "order_id": 900, "customer_id": 3, "website_id": 1,
         "created_at": at, "status": "complete", "grand_total": 10,
         "items": [{"product_id": 4, "qty_ordered": 1, "price": 5, "row_total": 5},
                   {"product_id": 2, "qty_ordered": 1, "price": 5, "row_total": 5}],
         "addresses": [{"address_type": "shipping", "country_id": "FR"}]},
        {"type": "order_updated", "order_id": 900, "status": "canceled"},
        {"type": "order_updated", "order_id": 901, "customer_id": 7},
        {"type": "order_updated", "order_id": 902, "customer_id": null},
        {"type": "cart_updated", "cart_id": 60, "visitor_id": 9, "website_id": 1,
         "is_active": true, "created_at": at, "updated_at": at,
         "items": [{"product_id": 3, "qty": 2, "price": 1}]},
        {"type": "wishlist_item_added", "customer_id": 4, "product_id": 1, "added_at": at},
        {"type": "wishlist_item_removed", "customer_id": 4, "product_id": 5},
        {"type": "product_viewed", "visitor_id": 8, "product_id": 6, "website_id": 1,
         "viewed_at": at},
        {"type": "product_upserted", "product_id": 77, "sku": "X-77", "price": 3},
        {"type": "visitor_logged_in", "visitor_id": 8, "customer_id": 5},
    ]);
    let parsed = EventList::parse(list.clone(), &layouts()).expect("a valid list");
    assert_eq!(parsed.json(), &list, "the log keeps the list as it came");
    let events = parsed.events();
    let types: Vec<&str> = events.iter().map(Event::type_name).collect();
    let sent: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, sent);
    let named: Vec<Vec<(SubjectId, bool)>> = events.iter().map(Event::subjects_named).collect();
    assert_eq!(
        named,
        vec![
            vec![(Customer(501), true)],
            vec![(Customer(2), false)],
            vec![],
            vec![(Customer(3), false)],
            vec![],
            vec![(Customer(7), false)],
            vec![],
            vec![(Visitor(9), true)],
            vec![(Customer(4), false)],
            vec![(Customer(4), false)],
            vec![(Visitor(8), true)],
            vec![],
            vec![(Customer(5), false), (Visitor(8), false)],
        ]
    );
    let tables: Vec<&[TableName]> = events.iter().map(Event::tables_written).collect();
    assert_eq!(
        tables,
        vec![
            &[Customers][..],
            &[Addresses],
            &[Addresses],
            &[Orders, OrderItems, OrderAddresses],
            &[Orders, OrderItems, OrderAddresses],
            &[Orders, OrderItems, OrderAddresses],
            &[Orders, OrderItems, OrderAddresses],
            &[Carts, CartItems],
            &[WishlistItems],
            &[WishlistItems],
            &[ProductViews],
            &[Products],
            &[Carts, CartItems, ProductViews],
        ]
    );
    assert_eq!(parsed.products_named(), vec![4, 2, 3, 1, 5, 6, 77]);
    let upserted: Vec<i64> = events.iter().filter_map(Event::upserted_product).collect();
    assert_eq!(upserted, vec![77]);
    let placed: Vec<i64> = events.iter().filter_map(Event::placed_order).collect();
    assert_eq!(placed, vec![900]);
    match &events[6] {
        Event::OrderUpdated { changes, .. } => assert_eq!(changes.customer_id, Some(None)),
        other => panic!("not an order update: {other:?}"),
    }
    match &events[4] {
        Event::OrderUpdated { changes, .. } => assert_eq!(changes.customer_id, None),
        other => panic!("not an order update: {other:?}"),
    }
}

#[test]
fn what_is_wrong_with_an_event_itself_is_found_by_parsing_with_its_pointer() {
    let layouts = layouts();
    let at = "2026-10-31T12:00:00Z";
    let good = json!({"type": "product_viewed", "customer_id": 1, "product_id": 1,
        "website_id": 1, "viewed_at": at});
    let cases = [
        (json!({"type": "product_viewed"}), ""),
        (json!([good, 7]), "/1"),
        (json!([good, {"type": 3}]), "/1/type"),
        (json!([good, {"customer_id": 1}]), "/1"),
        (json!([good, {"type": "product_bought"}]), "/1/type"),
        (
            json!([good, {"type": "product_viewed", "customer_id": 1, "product_id": 1,
            "website_id": 1, "viewed_at": "yesterday"}]),
            "/1/viewed_at",
        ),
        (
            json!([good, {"type": "product_viewed", "customer_id": 1, "visitor_id": 2,
            "product_id": 1, "website_id": 1, "viewed_at": at}]),
            "/1",
        ),
        (
            json!([good, {"type": "order_placed", "order_id": 5, "customer_id": 1,
            "website_id": 1, "created_at": at, "status": "complete", "grand_total": 1,
            "items": [{"product_id": 1, "qty_ordered": "two", "price": 1, "row_total": 1}]}]),
            "/1/items/0/qty_ordered",
        ),
        (
            json!([good, {"type": "order_placed", "order_id": 5, "customer_id": 1,
            "website_id": 1, "created_at": at, "status": "complete", "grand_total": 1,
            "addresses": [{"address_type": "home", "country_id": "DE"}]}]),
            "/1/addresses/0/address_type",
        ),
        (
            json!([good, {"type": "order_placed", "order_id": 5, "customer_id": 1,
            "website_id": 1, "created_at": at, "status": "complete", "grand_total": 1,
            "items": [{"order_id": 6, "product_id": 1, "qty_ordered": 1, "price": 1,
                "row_total": 1}]}]),
            "/1/items/0/order_id",
        ),
        (
            json!([good, {"type": "address_deleted", "address_id": 1, "city": "Rome"}]),
            "/1/city",
        ),
        (
            json!([good, {"type": "visitor_logged_in", "visitor_id": "v1", "customer_id": 1}]),
            "/1/visitor_id",
        ),
        (
            json!([good, {"type": "order_updated", "status": "complete"}]),
            "/1",
        ),
        (
            json!([good, {"type": "customer_upserted", "customer_id": 9, "website_id": 1,
            "a/b": 1}]),
            "/1/a~1b",
        ),
    ];
    for (list, pointer) in cases {
        let error = EventList::parse(list.clone(), &layouts).expect_err(&list.to_string());
        assert_eq!(error.pointer, pointer, "{list}: {error}");
    }
}
