//! Orders with their lines and addresses, carts with their lines, wishlists and product
//! views, as Magento's `sales_order*`, `quote*`, `wishlist*` and
//! `report_viewed_product_index`. A row's store is its website's (store `W` of website `W`).

use mysql_async::Value;

use super::Seeder;
use super::cells::Table;
use super::people::ADDRESS_FIELDS;
use crate::data::value::format_decimal;
use crate::magento::MagentoError;

pub async fn orders(seeder: &mut Seeder, orders: &Table) -> Result<(), MagentoError> {
    let mut sales = seeder.inserter(
        "sales_order",
        &[
            "entity_id",
            "increment_id",
            "status",
            "store_id",
            "customer_id",
            "customer_is_guest",
            "created_at",
            "base_grand_total",
            "grand_total",
            "base_subtotal",
            "subtotal",
            "base_tax_amount",
            "base_shipping_amount",
            "base_discount_amount",
            "total_qty_ordered",
        ],
    );
    let [ids, customers, websites, created, statuses] = [
        "order_id",
        "customer_id",
        "website_id",
        "created_at",
        "status",
    ]
    .map(|n| orders.column(n));
    let [grand, subtotal, tax, shipping, discount, quantity] = [
        "grand_total",
        "subtotal",
        "tax_amount",
        "shipping_amount",
        "discount_amount",
        "total_qty_ordered",
    ]
    .map(|n| orders.column(n));
    for row in 0..orders.rows() {
        let customer = customers.value(row)?;
        let guest = Value::Int(i64::from(customer == Value::NULL));
        // Magento stores discounts negative.
        let discount = discount.int(row).map_or(Value::NULL, |units| {
            Value::Bytes(format_decimal(-units).into_bytes())
        });
        let values = [
            ids.value(row)?,
            ids.int(row).map_or(Value::NULL, |id| {
                Value::Bytes(format!("{id:09}").into_bytes())
            }),
            statuses.value(row)?,
            websites.value(row)?,
            customer,
            guest,
            created.value(row)?,
            grand.value(row)?,
            grand.value(row)?,
            subtotal.value(row)?,
            subtotal.value(row)?,
            tax.value(row)?,
            shipping.value(row)?,
            discount,
            quantity.value(row)?,
        ];
        sales.push(&mut seeder.conn, values).await?;
    }
    seeder.finish(sales).await
}

pub async fn order_items(seeder: &mut Seeder, items: &Table) -> Result<(), MagentoError> {
    let mut lines = seeder.inserter(
        "sales_order_item",
        &[
            "order_id",
            "product_id",
            "qty_ordered",
            "price",
            "base_price",
            "row_total",
            "base_row_total",
        ],
    );
    let [orders, products, quantity, price, row_total] = [
        "order_id",
        "product_id",
        "qty_ordered",
        "price",
        "row_total",
    ]
    .map(|n| items.column(n));
    let mut zeroed = 0;
    for row in 0..items.rows() {
        zeroed += usize::from(price.int(row).is_none()) + usize::from(row_total.int(row).is_none());
        let values = [
            orders.value(row)?,
            products.value(row)?,
            quantity.value(row)?,
            price.amount_or_zero(row)?,
            price.amount_or_zero(row)?,
            row_total.amount_or_zero(row)?,
            row_total.amount_or_zero(row)?,
        ];
        lines.push(&mut seeder.conn, values).await?;
    }
    seeder.finish(lines).await?;
    seeder.note_if(
        zeroed,
        "order_items: {} null prices or row totals written as 0 (Magento requires them)",
    );
    Ok(())
}

pub async fn order_addresses(seeder: &mut Seeder, addresses: &Table) -> Result<(), MagentoError> {
    let mut columns = vec!["parent_id", "address_type", "region_id"];
    columns.extend(ADDRESS_FIELDS);
    let mut written = seeder.inserter("sales_order_address", &columns);
    let [orders, types, regions] =
        ["order_id", "address_type", "region_id"].map(|n| addresses.column(n));
    let fields = ADDRESS_FIELDS.map(|n| addresses.column(n));
    for row in 0..addresses.rows() {
        let mut values = vec![orders.value(row)?, types.value(row)?, regions.value(row)?];
        for field in &fields {
            values.push(field.value(row)?);
        }
        written.push(&mut seeder.conn, values).await?;
    }
    seeder.finish(written).await?;
    for custom in addresses.custom_columns() {
        if custom.name != "region_id" {
            seeder.summary.notes.push(format!(
                "order_addresses.{}: not written (seed writes no \
                 magento_customercustomattributes_sales_flat_order_address, where Commerce \
                 keeps order addresses' custom attributes)",
                custom.name
            ));
        }
    }
    Ok(())
}

pub async fn carts(seeder: &mut Seeder, carts: &Table) -> Result<(), MagentoError> {
    let mut quotes = seeder.inserter(
        "quote",
        &[
            "entity_id",
            "store_id",
            "customer_id",
            "customer_is_guest",
            "is_active",
            "created_at",
            "updated_at",
            "items_count",
            "items_qty",
            "subtotal",
            "base_subtotal",
            "grand_total",
            "base_grand_total",
            "base_customer_bal_amount_used",
            "base_gift_cards_amount_used",
        ],
    );
    // Magento keeps a quote's tax and shipping on its addresses.
    let mut totals = seeder.inserter(
        "quote_address",
        &[
            "quote_id",
            "address_type",
            "tax_amount",
            "base_tax_amount",
            "shipping_amount",
            "base_shipping_amount",
        ],
    );
    let [ids, customers, websites, active, created, updated] = [
        "cart_id",
        "customer_id",
        "website_id",
        "is_active",
        "created_at",
        "updated_at",
    ]
    .map(|n| carts.column(n));
    let [
        count,
        quantity,
        subtotal,
        grand,
        tax,
        shipping,
        credit,
        gift,
    ] = [
        "items_count",
        "items_qty",
        "subtotal",
        "grand_total",
        "tax_amount",
        "shipping_amount",
        "store_credit_used",
        "gift_card_used",
    ]
    .map(|n| carts.column(n));
    let (mut guests, mut no_time, mut zeroed) = (0, 0, 0);
    for row in 0..carts.rows() {
        let customer = customers.value(row)?;
        guests += usize::from(customer == Value::NULL);
        let mut instant = |cells: &super::cells::Cells<'_>| -> Result<Value, MagentoError> {
            let value = cells.value(row)?;
            no_time += usize::from(value == Value::NULL);
            Ok(if value == Value::NULL {
                seeder.now.clone()
            } else {
                value
            })
        };
        let (created_at, updated_at) = (instant(&created)?, instant(&updated)?);
        let values = [
            ids.value(row)?,
            websites.value(row)?,
            customer.clone(),
            Value::Int(i64::from(customer == Value::NULL)),
            Value::Int(i64::from(active.bool(row).unwrap_or(true))),
            created_at,
            updated_at,
            count.value(row)?,
            quantity.value(row)?,
            subtotal.value(row)?,
            subtotal.value(row)?,
            grand.value(row)?,
            grand.value(row)?,
            credit.value(row)?,
            gift.value(row)?,
        ];
        quotes.push(&mut seeder.conn, values).await?;
        if tax.int(row).is_some() || shipping.int(row).is_some() {
            zeroed +=
                usize::from(tax.int(row).is_none()) + usize::from(shipping.int(row).is_none());
            let values = [
                ids.value(row)?,
                Value::Bytes(b"shipping".to_vec()),
                tax.amount_or_zero(row)?,
                tax.amount_or_zero(row)?,
                shipping.amount_or_zero(row)?,
                shipping.amount_or_zero(row)?,
            ];
            totals.push(&mut seeder.conn, values).await?;
        }
    }
    seeder.finish(quotes).await?;
    seeder.finish(totals).await?;
    seeder.note_if(
        guests,
        "carts: {} guest carts written without their visitor_id (Magento's quote has \
         none: the import reads each as visitor 1000000000000 + cart_id)",
    );
    seeder.note_if(
        no_time,
        "carts: {} null created_at or updated_at written as now (Magento requires them)",
    );
    seeder.note_if(
        zeroed,
        "carts: {} null tax or shipping amounts beside a non-null one written as 0 \
         (Magento's quote address requires both)",
    );
    Ok(())
}

pub async fn cart_items(seeder: &mut Seeder, items: &Table) -> Result<(), MagentoError> {
    let mut lines = seeder.inserter(
        "quote_item",
        &[
            "quote_id",
            "product_id",
            "qty",
            "price",
            "base_price",
            "created_at",
        ],
    );
    let [carts, products, quantity, price, added] =
        ["cart_id", "product_id", "qty", "price", "added_at"].map(|n| items.column(n));
    let (mut zeroed, mut no_time) = (0, 0);
    for row in 0..items.rows() {
        zeroed += usize::from(quantity.int(row).is_none()) + usize::from(price.int(row).is_none());
        let added_at = added.value(row)?;
        no_time += usize::from(added_at == Value::NULL);
        let values = [
            carts.value(row)?,
            products.value(row)?,
            quantity.amount_or_zero(row)?,
            price.amount_or_zero(row)?,
            price.amount_or_zero(row)?,
            if added_at == Value::NULL {
                seeder.now.clone()
            } else {
                added_at
            },
        ];
        lines.push(&mut seeder.conn, values).await?;
    }
    seeder.finish(lines).await?;
    seeder.note_if(
        zeroed,
        "cart_items: {} null quantities or prices written as 0 (Magento requires them)",
    );
    seeder.note_if(
        no_time,
        "cart_items: {} without added_at written as added now (Magento requires it)",
    );
    Ok(())
}

/// One wishlist per customer who has items, numbered in the order they come.
pub async fn wishlist_items(seeder: &mut Seeder, items: &Table) -> Result<(), MagentoError> {
    let [customers, products, added] =
        ["customer_id", "product_id", "added_at"].map(|n| items.column(n));
    let mut wishlists = seeder.inserter("wishlist", &["wishlist_id", "customer_id"]);
    let mut wishlist_of = std::collections::HashMap::new();
    for row in 0..items.rows() {
        let Some(customer) = customers.int(row) else {
            continue;
        };
        let next = wishlist_of.len() as i64 + 1;
        if *wishlist_of.entry(customer).or_insert(next) == next {
            wishlists
                .push(&mut seeder.conn, [Value::Int(next), Value::Int(customer)])
                .await?;
        }
    }
    seeder.finish(wishlists).await?;
    let mut lines = seeder.inserter(
        "wishlist_item",
        &["wishlist_id", "product_id", "added_at", "qty"],
    );
    for row in 0..items.rows() {
        let Some(customer) = customers.int(row) else {
            continue;
        };
        let values = [
            Value::Int(wishlist_of[&customer]),
            products.value(row)?,
            added.value(row)?,
            Value::Bytes(b"1.0000".to_vec()),
        ];
        lines.push(&mut seeder.conn, values).await?;
    }
    seeder.finish(lines).await
}

/// Views as Magento's index keeps them: one row per subject and product, the last view.
pub async fn product_views(seeder: &mut Seeder, views: &Table) -> Result<(), MagentoError> {
    let [customers, visitors, products, websites, viewed] = [
        "customer_id",
        "visitor_id",
        "product_id",
        "website_id",
        "viewed_at",
    ]
    .map(|n| views.column(n));
    // (customer or visitor, subject id, product, viewed_at, row): the last of each
    // subject and product is kept.
    let mut order: Vec<(bool, i64, i64, i64, u32)> = (0..views.rows())
        .map(|row| {
            let (visitor, subject) = match customers.int(row) {
                Some(customer) => (false, customer),
                None => (true, visitors.int(row).unwrap_or_default()),
            };
            let product = products.int(row).unwrap_or_default();
            (
                visitor,
                subject,
                product,
                viewed.micros(row).unwrap_or_default(),
                row as u32,
            )
        })
        .collect();
    order.sort_unstable();
    let mut index = seeder.inserter(
        "report_viewed_product_index",
        &[
            "customer_id",
            "visitor_id",
            "product_id",
            "store_id",
            "added_at",
        ],
    );
    let mut earlier = 0;
    for (i, &(visitor, subject, product, _, row)) in order.iter().enumerate() {
        if order
            .get(i + 1)
            .is_some_and(|next| (next.0, next.1, next.2) == (visitor, subject, product))
        {
            earlier += 1;
            continue;
        }
        let row = row as usize;
        if visitor && !(0..=i64::from(u32::MAX)).contains(&subject) {
            return Err(visitors.error(
                row,
                format!("{subject} does not fit Magento's visitor_id (0 to 4294967295)"),
            ));
        }
        let (customer, visitor_id) = if visitor {
            (Value::NULL, Value::Int(subject))
        } else {
            (Value::Int(subject), Value::NULL)
        };
        let values = [
            customer,
            visitor_id,
            products.value(row)?,
            websites.value(row)?,
            viewed.value(row)?,
        ];
        index.push(&mut seeder.conn, values).await?;
    }
    seeder.finish(index).await?;
    seeder.note_if(
        earlier,
        "product_views: {} earlier views of a product by the same subject not written \
         (Magento's index keeps the last)",
    );
    Ok(())
}
