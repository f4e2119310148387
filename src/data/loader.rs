//! Loads a dataset directory into a `Dataset`: reads every table (two at a time), checks the
//! key rules in parent-before-child order, and lays each child table out grouped by owner.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array};
use datafusion::arrow::compute::filter;
use datafusion::arrow::record_batch::RecordBatch;
use indicatif::ProgressBar;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::error::{DataError, LoadError, Rule, SkippedRows};
use super::read::{Format, Parent, RawTable, file_name, find_table_file, read_batches, read_table};
use super::value::parse_instant;
use crate::model::TableName;
use crate::segment::rows::ColumnReader;
use crate::store::{
    Column, Dataset, Groups, IdIndex, Ints, LinkColumn, LinkTarget, NONE, ProductLinks, Relation,
    Table, group_rows, micros_at,
};

#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Skip rows that break a rule (and report them) instead of failing on the first.
    pub lenient: bool,
    /// Draw a progress bar on a terminal.
    pub progress: bool,
}

/// What loading did: rows per table, rows skipped per rule (lenient), warnings, cost.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    pub rows: Vec<(TableName, usize)>,
    pub skipped: Vec<(TableName, Rule, SkippedRows)>,
    pub warnings: Vec<String>,
    pub elapsed: Duration,
    pub memory_bytes: usize,
    pub peak_rss_bytes: Option<u64>,
}

impl LoadReport {
    pub fn skipped_rows(&self) -> u64 {
        self.skipped.iter().map(|(_, _, s)| s.count).sum()
    }

    /// The one-line summary logged after a load.
    pub fn summary(&self) -> String {
        let rows: Vec<String> = self.rows.iter().map(|(t, n)| format!("{t}={n}")).collect();
        let mut line = format!(
            "loaded {} in {:.2}s, data {:.1} MiB",
            rows.join(" "),
            self.elapsed.as_secs_f64(),
            self.memory_bytes as f64 / (1 << 20) as f64,
        );
        if let Some(peak) = self.peak_rss_bytes {
            line += &format!(", peak RSS {:.1} MiB", peak as f64 / (1 << 20) as f64);
        }
        if !self.skipped.is_empty() {
            line += &format!(", skipped {} bad rows", self.skipped_rows());
        }
        if !self.warnings.is_empty() {
            line += &format!(", {} warnings", self.warnings.len());
        }
        line
    }
}

/// `dataset.json`, written by the generator next to the tables.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DatasetMeta {
    /// The instant generated dates are relative to (RFC 3339).
    pub reference_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers: Option<u64>,
    #[serde(default)]
    pub rows: BTreeMap<String, u64>,
}

pub const META_FILE: &str = "dataset.json";

pub fn read_meta(dir: &Path) -> Result<Option<DatasetMeta>, LoadError> {
    let path = dir.join(META_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| LoadError::file(&path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| LoadError::file(&path, format!("not a valid dataset description: {e}")))
}

/// Loads the dataset in `dir`.
pub fn load_dataset(dir: &Path, options: &LoadOptions) -> Result<(Dataset, LoadReport), LoadError> {
    let started = Instant::now();
    if !dir.is_dir() {
        return Err(LoadError::file(dir, "is not a directory"));
    }
    let reference_time =
        match read_meta(dir)?.and_then(|m| m.reference_time) {
            Some(text) => Some(parse_instant(&text).map_err(|e| {
                LoadError::file(dir.join(META_FILE), format!("reference_time: {e}"))
            })?),
            None => None,
        };
    let files: Vec<(TableName, Option<(PathBuf, Format)>)> = TableName::ALL
        .iter()
        .map(|&t| (t, find_table_file(dir, t)))
        .collect();
    if files[0].1.is_none() {
        return Err(LoadError::NoCustomers {
            dir: dir.to_path_buf(),
        });
    }
    let total_bytes: u64 = files
        .iter()
        .filter_map(|(_, f)| f.as_ref())
        .map(|(p, _)| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    let progress = crate::util::progress_bar(
        options.progress,
        total_bytes,
        "loading {bar:40} {bytes}/{total_bytes} {elapsed}",
    );
    let mut read_phase = |tables: &[TableName], parents: &[(TableName, Parent)]| {
        let subset: Vec<_> = files
            .iter()
            .filter(|(t, _)| tables.contains(t))
            .cloned()
            .collect();
        read_all(dir, &subset, options.lenient, parents, &progress)
    };
    let mut report = LoadReport::default();
    let dataset = assemble(&mut read_phase, reference_time, &mut report)?;
    progress.finish_and_clear();
    report.rows = dataset.row_counts();
    log_memory(&dataset);
    report.elapsed = started.elapsed();
    report.memory_bytes = dataset.memory_bytes();
    report.peak_rss_bytes = crate::util::peak_rss_bytes();
    Ok((dataset, report))
}

/// Builds a dataset from tables already in memory (a dataset with events applied), with
/// the same checks as a directory, strictly: `label` names the source in errors.
pub fn load_tables(
    tables: &BTreeMap<TableName, RecordBatch>,
    reference_time: Option<i64>,
    label: &Path,
) -> Result<Dataset, LoadError> {
    let mut read_phase = |names: &[TableName], parents: &[(TableName, Parent)]| {
        let mut raw = BTreeMap::new();
        for &name in names {
            let own: Vec<Parent> = parents
                .iter()
                .filter(|(t, _)| *t == name)
                .map(|(_, p)| *p)
                .collect();
            let table = match tables.get(&name) {
                Some(batch) => read_batches(
                    name,
                    &label.join(name.file_stem()),
                    &batch.schema(),
                    batch.num_rows(),
                    std::iter::once(Ok(batch.clone())),
                    false,
                    &own,
                )?,
                None => RawTable::empty(name, label),
            };
            raw.insert(name, table);
        }
        Ok(raw)
    };
    assemble(&mut read_phase, reference_time, &mut LoadReport::default())
}

/// Where the memory goes, per table, column and link (`RUST_LOG=debug`), for capacity
/// planning.
fn log_memory(dataset: &Dataset) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    for item in dataset.memory_breakdown() {
        tracing::debug!("memory: {} {:.1} MiB", item.what, item.bytes as f64 / MIB);
    }
}

const MIB: f64 = (1 << 20) as f64;

/// Tables as read, before their keys are checked.
type RawTables = BTreeMap<TableName, RawTable>;

/// Reads some tables, resolving the named id columns against their parents as it reads.
type ReadPhase<'p> =
    dyn FnMut(&[TableName], &[(TableName, Parent)]) -> Result<RawTables, LoadError> + 'p;

/// Reads the tables on two threads, largest files first.
fn read_all(
    dir: &Path,
    files: &[(TableName, Option<(PathBuf, Format)>)],
    lenient: bool,
    parents: &[(TableName, Parent)],
    progress: &ProgressBar,
) -> Result<RawTables, LoadError> {
    let mut queue: Vec<(TableName, PathBuf, Format, u64)> = files
        .iter()
        .filter_map(|(t, f)| {
            f.as_ref().map(|(p, fmt)| {
                (
                    *t,
                    p.clone(),
                    *fmt,
                    std::fs::metadata(p).map_or(0, |m| m.len()),
                )
            })
        })
        .collect();
    queue.sort_by_key(|(_, _, _, size)| std::cmp::Reverse(*size));
    let queue = Mutex::new(queue.into_iter());
    let results = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().expect("queue lock").next();
                    let Some((table, path, format, _)) = next else {
                        break;
                    };
                    let started = Instant::now();
                    let own: Vec<Parent> = parents
                        .iter()
                        .filter(|(t, _)| *t == table)
                        .map(|(_, p)| *p)
                        .collect();
                    let result = read_table(table, &path, format, lenient, &own, progress);
                    tracing::debug!("read {table} in {:.2}s", started.elapsed().as_secs_f64());
                    let failed = result.is_err();
                    results.lock().expect("results lock").push((table, result));
                    if failed {
                        break;
                    }
                }
            });
        }
    });
    let mut tables = BTreeMap::new();
    let mut results = results.into_inner().expect("results lock");
    // Report the first failing table in load order, so errors do not depend on timing.
    results.sort_by_key(|(t, _)| *t);
    for (table, result) in results {
        tables.insert(table, result?);
    }
    for (table, _) in files {
        tables
            .entry(*table)
            .or_insert_with(|| RawTable::empty(*table, dir));
    }
    Ok(tables)
}

fn take_raw(raw: &mut BTreeMap<TableName, RawTable>, name: TableName) -> RawTable {
    raw.remove(&name).expect("every table is read or empty")
}

/// An id column of a raw table: the array shared (not copied), read through [`ids`].
fn id_column(raw: &RawTable, column: &str) -> ArrayRef {
    raw.column(column)
        .expect("id columns are read")
        .array
        .clone()
}

fn ids(array: &ArrayRef) -> Ints<'_> {
    Ints::of(array.as_ref()).expect("id columns are ints")
}

/// Reports every row whose `column` repeats an earlier row's id.
fn check_unique(raw: &mut RawTable, column: &str) -> Result<(), DataError> {
    let column_ids = id_column(raw, column);
    let ids = ids(&column_ids);
    let skip = raw.problems.bad_rows.clone();
    let mut duplicates = Vec::new();
    let _ = IdIndex::build_skipping::<()>(ids, &skip, &mut |first, again| {
        duplicates.push((first, again));
        Ok(())
    });
    for (first, again) in duplicates {
        let reason = format!(
            "{column} {} appears again (first at {})",
            ids.value(again),
            raw.location(first)
        );
        raw.report(again, column, Rule::DuplicateId, reason)?;
    }
    Ok(())
}

/// The parent rows of an id column resolved while reading (all `NONE` for an absent table).
fn take_link(raw: &mut RawTable, column: &str) -> Vec<u32> {
    raw.links
        .remove(column)
        .unwrap_or_else(|| vec![NONE; raw.rows])
}

/// Carts and product views: exactly one of customer_id / visitor_id.
fn check_customer_or_visitor(raw: &mut RawTable) -> Result<(), DataError> {
    // The customer column was resolved to links while reading (unless it is absent).
    let has_customer: Vec<bool> = match raw.links.get("customer_id") {
        Some(rows) => rows.iter().map(|&r| r != NONE).collect(),
        None => {
            let customers = id_column(raw, "customer_id");
            let customers = ids(&customers);
            (0..raw.rows).map(|r| customers.is_valid(r)).collect()
        }
    };
    let visitor_ids = id_column(raw, "visitor_id");
    let visitors = ids(&visitor_ids);
    for (row, &c) in has_customer.iter().enumerate() {
        let v = visitors.is_valid(row);
        if c == v {
            let reason = if c {
                "both customer_id and visitor_id are set"
            } else {
                "neither customer_id nor visitor_id is set"
            };
            raw.report(
                row,
                "customer_id",
                Rule::CustomerOrVisitor,
                format!("{reason}: exactly one must be"),
            )?;
        }
    }
    Ok(())
}

/// A table without its bad rows, and the keep-mask used (None when nothing was dropped).
fn drop_bad_rows(raw: RawTable, report: &mut LoadReport) -> (Table, Option<BooleanArray>) {
    for (rule, skipped) in raw.problems.skipped {
        report.skipped.push((raw.name, rule, skipped));
    }
    let bad = raw.problems.bad_rows;
    if bad.is_empty() {
        return (
            Table {
                name: raw.name,
                columns: raw.columns,
                rows: raw.rows,
            },
            None,
        );
    }
    let keep: BooleanArray = (0..raw.rows)
        .map(|r| Some(!bad.contains(r as u32)))
        .collect();
    let columns = raw
        .columns
        .into_iter()
        .map(|c| Column {
            array: filter(c.array.as_ref(), &keep).expect("same length"),
            ..c
        })
        .collect();
    let rows = raw.rows - bad.len() as usize;
    (
        Table {
            name: raw.name,
            columns,
            rows,
        },
        Some(keep),
    )
}

fn keep_links(links: Vec<u32>, keep: &Option<BooleanArray>) -> Vec<u32> {
    match keep {
        None => links,
        Some(keep) => links
            .into_iter()
            .zip(keep.values().iter())
            .filter(|(_, k)| *k)
            .map(|(l, _)| l)
            .collect(),
    }
}

/// A table sorted by its id column; its index maps id to row.
fn finish_keyed(raw: RawTable, key: &str, report: &mut LoadReport) -> (Table, IdIndex) {
    let (table, _) = drop_bad_rows(raw, report);
    let ids = table.ints(key).expect("key column");
    let table = if (1..ids.len()).all(|r| ids.value(r - 1) < ids.value(r)) {
        table
    } else {
        let mut order: Vec<u32> = (0..table.rows as u32).collect();
        order.sort_by_key(|&r| ids.value(r as usize));
        table.reorder(order)
    };
    let index =
        IdIndex::build(table.ints(key).expect("key column")).expect("duplicates were removed");
    (table, index)
}

/// A child table grouped by `owner` (one per raw row; `NONE` rows last). The `links`
/// columns are dropped from the values: the owner and product links hold their ids.
fn finish_grouped(
    raw: RawTable,
    owner: Vec<u32>,
    owners: usize,
    product: Option<Vec<u32>>,
    links: &[(&str, LinkTarget)],
    report: &mut LoadReport,
) -> Relation {
    let (mut table, keep) = drop_bad_rows(raw, report);
    let mut link_columns = Vec::new();
    for (name, target) in links {
        if let Some(position) = table.columns.iter().position(|c| c.name == *name) {
            table.columns.remove(position);
            link_columns.push(LinkColumn {
                name: name.to_string(),
                position,
                target: *target,
            });
        }
    }
    let owner = keep_links(owner, &keep);
    let product = product.map(|p| keep_links(p, &keep));
    let (order, offsets) = group_rows(owner.len(), |row| owner[row], owners);
    drop(owner);
    let relation = |table, product_row| Relation {
        table,
        groups: Groups::new(offsets),
        visitor_groups: None,
        product_row,
        links: link_columns,
    };
    let Some(order) = order else {
        return relation(table, product.map(ProductLinks::new));
    };
    let product = product.map(|links: Vec<u32>| {
        ProductLinks::new(order.iter().map(|&r| links[r as usize]).collect())
    });
    relation(table.reorder(order), product)
}

/// Order items and cart items: grouped by their parent row (`parent_key`), linked to products.
fn finish_items(
    mut raw: RawTable,
    parent_key: &'static str,
    parents: usize,
    report: &mut LoadReport,
) -> Relation {
    let owner = take_link(&mut raw, parent_key);
    let product = take_link(&mut raw, "product_id");
    let links = [
        (parent_key, LinkTarget::Parent),
        ("product_id", LinkTarget::Product),
    ];
    finish_grouped(raw, owner, parents, Some(product), &links, report)
}

/// Splits a relation grouped over customers then visitors (owner `customers + v` is
/// visitor `v`) into its customer and visitor groupings.
fn split_subjects(mut relation: Relation, customers: usize) -> Relation {
    let joint = std::mem::take(&mut relation.groups);
    relation.groups = Groups::new(joint.offsets()[..=customers].to_vec());
    relation.visitor_groups = Some(Groups::new(joint.offsets()[customers..].to_vec()));
    relation
}

/// The subject of each row of a carts or product views table: dense customer, or
/// `customers + dense visitor`.
fn subject_owners(
    raw: &RawTable,
    customer_row: &[u32],
    visitor_index: &IdIndex,
    customers: usize,
) -> Vec<u32> {
    let visitor_ids = id_column(raw, "visitor_id");
    let visitors = ids(&visitor_ids);
    (0..raw.rows)
        .map(|row| match (customer_row[row], visitors.is_valid(row)) {
            (NONE, true) => visitor_index
                .get(visitors.value(row))
                .map_or(NONE, |v| customers as u32 + v),
            (c, _) => c,
        })
        .collect()
}

/// Visitors are the distinct `visitor_id`s of the good rows of carts and product views.
fn collect_visitors(tables: [&RawTable; 2]) -> (Vec<i64>, IdIndex) {
    let mut ids: Vec<i64> = Vec::new();
    for raw in tables {
        let visitor_ids = id_column(raw, "visitor_id");
        let visitors = self::ids(&visitor_ids);
        ids.extend(
            visitors
                .iter()
                .enumerate()
                .filter(|(row, _)| !raw.problems.bad_rows.contains(*row as u32))
                .filter_map(|(_, v)| v),
        );
    }
    ids.sort_unstable();
    ids.dedup();
    // Each table's visitor ids were gathered, most of them repeats: keep only the distinct.
    ids.shrink_to_fit();
    let index = IdIndex::build(Ints::I64(&Int64Array::from(ids.clone()))).expect("deduplicated");
    (ids, index)
}

/// Where a subject has several active carts on one website, the most recently updated
/// stays active and the others are marked inactive (with a warning).
fn one_active_cart(carts: &mut Relation, report: &mut LoadReport) {
    let table = &mut carts.table;
    let rows = table.rows;
    let get = |name: &str| table.column(name).expect("cart column").array.clone();
    // Absent columns: every cart is active, none has an update time.
    let active_in = get("is_active");
    let active_in = active_in.as_boolean_opt();
    let website = get("website_id");
    let website = Ints::of(website.as_ref()).expect("website_id is an int column");
    let updated = get("updated_at");
    let cart_ids = get("cart_id");
    let cart_ids = ids(&cart_ids);
    // Null is_active means active (the data model's default).
    let mut active: Vec<bool> = (0..rows)
        .map(|r| active_in.is_none_or(|a| a.is_null(r) || a.value(r)))
        .collect();
    let mut newest: FxHashMap<(u32, bool, i64), usize> = FxHashMap::default();
    let visitor_groups = carts.visitor_groups.clone().unwrap_or_default();
    let mut demoted = Vec::new();
    for row in 0..rows {
        if !active[row] {
            continue;
        }
        let customer = carts.groups.owner_of(row);
        let subject = if customer != NONE {
            (customer, false)
        } else {
            (visitor_groups.owner_of(row), true)
        };
        let key = (subject.0, subject.1, website.value(row));
        let recency = |r: usize| (micros_at(updated.as_ref(), r), cart_ids.value(r));
        match newest.get(&key) {
            None => {
                newest.insert(key, row);
            }
            Some(&kept) => {
                let (loser, winner) = if recency(row) > recency(kept) {
                    (kept, row)
                } else {
                    (row, kept)
                };
                active[loser] = false;
                newest.insert(key, winner);
                demoted.push((cart_ids.value(loser), cart_ids.value(winner)));
            }
        }
    }
    if !demoted.is_empty() {
        let examples: Vec<String> = demoted
            .iter()
            .take(5)
            .map(|(l, w)| format!("{l} (kept {w})"))
            .collect();
        let warning = format!(
            "carts: {} carts were active beside a more recently updated active cart of the same subject and website; they count as inactive: {}{}",
            demoted.len(),
            examples.join(", "),
            if demoted.len() > 5 { ", ..." } else { "" }
        );
        tracing::warn!("{warning}");
        report.warnings.push(warning);
    }
    let column = table
        .columns
        .iter_mut()
        .find(|c| c.name == "is_active")
        .expect("cart column");
    column.array = std::sync::Arc::new(BooleanArray::from(active));
}

/// Reads and checks the tables in three phases, parents before children, so that each
/// phase's link columns are resolved to row links (and their ids dropped) before the next
/// phase is read.
fn assemble(
    read_phase: &mut ReadPhase,
    reference_time: Option<i64>,
    report: &mut LoadReport,
) -> Result<Dataset, LoadError> {
    use TableName::*;
    let parent = |column, index, file| Parent {
        column,
        index,
        file,
    };

    let mut raw = read_phase(&[Customers, Products], &[])?;
    let mut customers = take_raw(&mut raw, Customers);
    check_unique(&mut customers, "customer_id")?;
    let customers_file = file_name(&customers.path);
    let (customers, customer_index) = finish_keyed(customers, "customer_id", report);
    let n_customers = customers.rows;
    let mut products = take_raw(&mut raw, Products);
    check_unique(&mut products, "product_id")?;
    let products_file = file_name(&products.path);
    let (products, product_index) = finish_keyed(products, "product_id", report);

    let of_customer = parent("customer_id", &customer_index, &customers_file);
    let of_product = parent("product_id", &product_index, &products_file);
    let mut raw = read_phase(
        &[Addresses, Orders, Carts, ProductViews, WishlistItems],
        &[
            (Addresses, of_customer),
            (Orders, of_customer),
            (Carts, of_customer),
            (ProductViews, of_customer),
            (ProductViews, of_product),
            (WishlistItems, of_customer),
            (WishlistItems, of_product),
        ],
    )?;
    let customer_link = [("customer_id", LinkTarget::Customer)];
    let mut addresses = take_raw(&mut raw, Addresses);
    check_unique(&mut addresses, "address_id")?;
    let owner = take_link(&mut addresses, "customer_id");
    let addresses = finish_grouped(addresses, owner, n_customers, None, &customer_link, report);

    let mut orders = take_raw(&mut raw, Orders);
    check_unique(&mut orders, "order_id")?;
    let orders_file = file_name(&orders.path);
    let owner = take_link(&mut orders, "customer_id");
    let orders = finish_grouped(orders, owner, n_customers, None, &customer_link, report);
    let order_index =
        IdIndex::build(orders.table.ints("order_id").expect("order_id")).expect("unique");

    let mut carts = take_raw(&mut raw, Carts);
    check_customer_or_visitor(&mut carts)?;
    check_unique(&mut carts, "cart_id")?;
    let carts_file = file_name(&carts.path);
    let cart_customer = take_link(&mut carts, "customer_id");
    let mut views = take_raw(&mut raw, ProductViews);
    check_customer_or_visitor(&mut views)?;
    let view_customer = take_link(&mut views, "customer_id");
    let view_product = take_link(&mut views, "product_id");

    let (visitor_ids, visitor_index) = collect_visitors([&carts, &views]);
    let subjects = n_customers + visitor_ids.len();
    let subject_links = [
        ("customer_id", LinkTarget::Customer),
        ("visitor_id", LinkTarget::Visitor),
    ];
    let owner = subject_owners(&carts, &cart_customer, &visitor_index, n_customers);
    let carts = finish_grouped(carts, owner, subjects, None, &subject_links, report);
    let mut carts = split_subjects(carts, n_customers);
    one_active_cart(&mut carts, report);
    let cart_index = IdIndex::build(carts.table.ints("cart_id").expect("cart_id")).expect("unique");
    let owner = subject_owners(&views, &view_customer, &visitor_index, n_customers);
    let view_links = [
        subject_links[0],
        subject_links[1],
        ("product_id", LinkTarget::Product),
    ];
    let views = finish_grouped(
        views,
        owner,
        subjects,
        Some(view_product),
        &view_links,
        report,
    );
    let product_views = split_subjects(views, n_customers);

    let mut wishlist = take_raw(&mut raw, WishlistItems);
    let owner = take_link(&mut wishlist, "customer_id");
    let product = take_link(&mut wishlist, "product_id");
    let links = [customer_link[0], ("product_id", LinkTarget::Product)];
    let wishlist_items =
        finish_grouped(wishlist, owner, n_customers, Some(product), &links, report);

    let of_order = parent("order_id", &order_index, &orders_file);
    let of_cart = parent("cart_id", &cart_index, &carts_file);
    let mut raw = read_phase(
        &[OrderItems, OrderAddresses, CartItems],
        &[
            (OrderItems, of_order),
            (OrderItems, of_product),
            (OrderAddresses, of_order),
            (CartItems, of_cart),
            (CartItems, of_product),
        ],
    )?;
    let order_items = finish_items(
        take_raw(&mut raw, OrderItems),
        "order_id",
        orders.rows(),
        report,
    );

    let mut order_addresses = take_raw(&mut raw, OrderAddresses);
    check_address_type(&mut order_addresses)?;
    let owner = take_link(&mut order_addresses, "order_id");
    let links = [("order_id", LinkTarget::Parent)];
    let order_addresses =
        finish_grouped(order_addresses, owner, orders.rows(), None, &links, report);

    let cart_items = finish_items(
        take_raw(&mut raw, CartItems),
        "cart_id",
        carts.rows(),
        report,
    );

    Ok(Dataset {
        reference_time,
        customers,
        customer_index,
        visitor_ids,
        visitor_index,
        products,
        product_index,
        addresses,
        orders,
        order_index,
        order_items,
        order_addresses,
        carts,
        cart_index,
        cart_items,
        wishlist_items,
        product_views,
    })
}

/// `order_addresses.address_type` is `billing` or `shipping`.
fn check_address_type(raw: &mut RawTable) -> Result<(), DataError> {
    let column = raw
        .column("address_type")
        .expect("required column")
        .array
        .clone();
    let ColumnReader::Text {
        codes,
        nulls,
        values,
    } = ColumnReader::of_text(column.as_ref())
    else {
        return Ok(());
    };
    // Each distinct value is checked once, then each row's code.
    let allowed: Vec<bool> = values
        .iter()
        .map(|v| matches!(v, Some("billing" | "shipping")))
        .collect();
    for row in 0..column.len() {
        let code = codes.get(row);
        if nulls.is_none_or(|n| n.is_valid(row)) && !allowed[code] {
            let reason = format!(
                "{:?} is not an address type (billing or shipping)",
                values.value(code)
            );
            raw.report(row, "address_type", Rule::Unparsable, reason)?;
        }
    }
    Ok(())
}
