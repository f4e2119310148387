//! The synthetic dataset generator (`segmint generate`): every table of the data model with
//! the shapes of benchmark.md, deterministic for (customers, seed).
//!
//! Customers are made in chunks, each from its own random stream (seeded by seed and chunk
//! number), on worker threads; the main thread takes chunks in order, numbers their
//! addresses, orders and carts, and hands each table's batch to that table's writer thread.
//! Nothing but a few chunks is ever in memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Int32Array,
    Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
use rand::SeedableRng;
use rand_distr::Geometric;
use rand_pcg::Pcg64Mcg;

use super::loader::{DatasetMeta, META_FILE};
use super::value::{MICROS_PER_SECOND, format_timestamp};
use crate::model::TableName;

mod rows;
mod vocab;
mod writers;

use rows::{ChunkRows, Generator};
use vocab::{
    ADDRESS_TYPES, COUNTRIES, Catalog, FIRST_NAMES, GENDERS, LAST_NAMES, LOYALTY_TIERS, Place,
    STATUSES, Vocab,
};
use writers::{TableSink, TableWriter, extension, spawn_sink};

/// The instant every generated date is relative to: 2026-11-01T00:00:00Z.
pub const REFERENCE_TIME_MICROS: i64 = 1_793_491_200 * MICROS_PER_SECOND;

const CHUNK_CUSTOMERS: u64 = 16_384;
const CATEGORIES: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Parquet,
    Csv,
}

#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub customers: u64,
    pub seed: u64,
    pub format: OutputFormat,
    pub out: PathBuf,
    pub progress: bool,
    /// The instant every generated date is relative to (µs); `None` is
    /// [`REFERENCE_TIME_MICROS`], so that data and figures are reproducible.
    pub reference_time: Option<i64>,
    /// Write over the dataset files of a directory that is not empty. Without it such a
    /// directory is refused: it may hold a user's own data, or data a server is reading.
    pub overwrite: bool,
}

#[derive(Clone, Debug)]
pub struct GenerateSummary {
    pub meta: DatasetMeta,
    pub elapsed: Duration,
}

// Vocabularies. Dictionary-encoded columns are written as keys into these lists.
/// The random stream of one chunk (or of the catalog): independent of thread timing.
fn stream(seed: u64, chunk: u64) -> Pcg64Mcg {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    Pcg64Mcg::seed_from_u64(mix(seed) ^ mix(chunk.wrapping_add(0x5EED)))
}

fn ids_array(ids: Vec<i64>) -> ArrayRef {
    Arc::new(Int64Array::from(ids))
}

fn opt_ids(ids: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from(ids))
}

fn money(units: Vec<Option<i64>>) -> ArrayRef {
    let values: Decimal128Array = units.into_iter().map(|u| u.map(i128::from)).collect();
    Arc::new(
        values
            .with_precision_and_scale(20, 4)
            .expect("decimal(20,4)"),
    )
}

fn timestamps(micros: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(micros))
}

fn bools(values: Vec<Option<bool>>) -> ArrayRef {
    Arc::new(BooleanArray::from(values))
}

fn dictionary<S: AsRef<str>>(keys: Vec<Option<i32>>, values: &[S]) -> ArrayRef {
    let values = Arc::new(StringArray::from_iter_values(
        values.iter().map(|v| v.as_ref()),
    ));
    Arc::new(
        DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), values)
            .expect("keys in range"),
    )
}

fn batch(columns: &[(&str, ArrayRef)]) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.iter().map(|(_, a)| a.clone()).collect(),
    )
    .expect("generated columns have one length")
}

/// What one chunk makes. Customer chunks come first, then visitors, then guest orders, so
/// every file is already grouped the way the loader lays tables out (by customer, then by
/// visitor; guest orders last).
#[derive(Clone, Copy, Debug)]
enum ChunkWork {
    Customers(u64, u64),
    Visitors(u64, u64),
    GuestOrders(u64),
}

fn chunk_plan(customers: u64) -> Vec<ChunkWork> {
    let ranges = |count: u64| {
        (0..count.div_ceil(CHUNK_CUSTOMERS)).map(move |k| {
            (
                k * CHUNK_CUSTOMERS + 1,
                ((k + 1) * CHUNK_CUSTOMERS).min(count),
            )
        })
    };
    let mut plan: Vec<ChunkWork> = ranges(customers)
        .map(|(a, b)| ChunkWork::Customers(a, b))
        .collect();
    // Visitors are about half as many as customers; guest orders about 5% of all orders.
    plan.extend(ranges(customers / 2).map(|(a, b)| ChunkWork::Visitors(a, b)));
    plan.extend(ranges(customers / 2).map(|(a, b)| ChunkWork::GuestOrders(b + 1 - a)));
    plan
}

fn generate_chunk(
    chunk: u64,
    seed: u64,
    work: ChunkWork,
    catalog: &Catalog,
    vocab: &Vocab,
    reference: i64,
) -> ChunkRows {
    let geometric = |mean: f64| Geometric::new(1.0 / (mean + 1.0)).expect("probability");
    let mut g = Generator {
        rng: stream(seed, chunk),
        catalog,
        vocab,
        rows: ChunkRows::default(),
        few_items: geometric(2.0),
        cart_items: geometric(1.5),
        wishes: geometric(2.0),
        views: geometric(20.0),
        visitor_views: geometric(4.0),
        reference,
    };
    match work {
        ChunkWork::Customers(first, last) => (first..=last).for_each(|id| g.customer(id as i64)),
        ChunkWork::Visitors(first, last) => (first..=last).for_each(|id| g.visitor(id as i64)),
        ChunkWork::GuestOrders(count) => (0..count).for_each(|_| g.guest_order()),
    }
    g.rows
}

/// Per-chunk numbering: how many addresses, orders and carts came before this chunk.
#[derive(Clone, Copy, Default)]
struct Bases {
    address: i64,
    order: i64,
    cart: i64,
}

fn shift(ids: &[i64], base: i64) -> ArrayRef {
    ids_array(ids.iter().map(|i| i + base + 1).collect())
}

fn places(vocab: &Vocab, places: &[Place]) -> [(&'static str, ArrayRef); 4] {
    [
        (
            "city",
            dictionary(places.iter().map(|p| Some(p.city)).collect(), &vocab.cities),
        ),
        (
            "region",
            dictionary(
                places.iter().map(|p| Some(p.region)).collect(),
                &vocab.regions,
            ),
        ),
        (
            "postcode",
            dictionary(
                places.iter().map(|p| Some(p.postcode)).collect(),
                &vocab.postcodes,
            ),
        ),
        (
            "country_id",
            dictionary(
                places.iter().map(|p| Some(p.country)).collect(),
                &COUNTRIES.iter().map(|c| c.0).collect::<Vec<_>>(),
            ),
        ),
    ]
}

/// The chunk's rows as one batch per table, ids numbered from `bases`.
fn chunk_batches(rows: ChunkRows, bases: Bases, vocab: &Vocab) -> Vec<(TableName, RecordBatch)> {
    let r = rows;
    let customers = batch(&[
        ("customer_id", ids_array(r.customer_id)),
        ("website_id", ids_array(r.website)),
        ("group_id", ids_array(r.group)),
        ("email", Arc::new(StringArray::from(r.email))),
        ("firstname", dictionary(r.first, FIRST_NAMES)),
        ("lastname", dictionary(r.last, LAST_NAMES)),
        ("gender", dictionary(r.gender, GENDERS)),
        ("dob", Arc::new(Date32Array::from(r.dob))),
        ("created_at", timestamps(r.created)),
        ("last_login_at", timestamps(r.login)),
        ("newsletter_subscribed", bools(r.newsletter)),
        ("store_credit", money(r.credit)),
        ("loyalty_tier", dictionary(r.tier, LOYALTY_TIERS)),
        ("reward_points", opt_ids(r.points)),
    ]);
    let [city, region, postcode, country] = places(vocab, &r.a_place);
    let addresses = batch(&[
        ("address_id", shift(&r.a_id, bases.address)),
        ("customer_id", ids_array(r.a_customer)),
        ("is_default_billing", bools(r.a_billing)),
        ("is_default_shipping", bools(r.a_shipping)),
        ("firstname", dictionary(r.a_first, FIRST_NAMES)),
        ("lastname", dictionary(r.a_last, LAST_NAMES)),
        ("company", dictionary(r.a_company, &vocab.companies)),
        ("street", Arc::new(StringArray::from(r.a_street))),
        city,
        region,
        postcode,
        ("telephone", Arc::new(StringArray::from(r.a_phone))),
        country,
    ]);
    let orders = batch(&[
        ("order_id", shift(&r.o_id, bases.order)),
        ("customer_id", opt_ids(r.o_customer)),
        ("website_id", ids_array(r.o_website)),
        ("created_at", timestamps(r.o_created)),
        ("status", dictionary(r.o_status, STATUSES)),
        ("grand_total", money(r.o_grand)),
        ("subtotal", money(r.o_sub)),
        ("tax_amount", money(r.o_tax)),
        ("shipping_amount", money(r.o_ship)),
        ("discount_amount", money(r.o_discount)),
        ("total_qty_ordered", money(r.o_qty)),
    ]);
    let order_items = batch(&[
        ("order_id", shift(&r.i_order, bases.order)),
        ("product_id", ids_array(r.i_product)),
        ("qty_ordered", money(r.i_qty)),
        ("price", money(r.i_price)),
        ("row_total", money(r.i_total)),
    ]);
    let [city, region, postcode, country] = places(vocab, &r.oa_place);
    let order_addresses = batch(&[
        ("order_id", shift(&r.oa_order, bases.order)),
        ("address_type", dictionary(r.oa_type, ADDRESS_TYPES)),
        ("firstname", dictionary(r.oa_first, FIRST_NAMES)),
        ("lastname", dictionary(r.oa_last, LAST_NAMES)),
        city,
        region,
        postcode,
        country,
    ]);
    let carts = batch(&[
        ("cart_id", shift(&r.c_id, bases.cart)),
        ("customer_id", opt_ids(r.c_customer)),
        ("visitor_id", opt_ids(r.c_visitor)),
        ("website_id", ids_array(r.c_website)),
        ("is_active", bools(r.c_active)),
        ("created_at", timestamps(r.c_created)),
        ("updated_at", timestamps(r.c_updated)),
        ("items_count", opt_ids(r.c_count)),
        ("items_qty", money(r.c_qty)),
        ("subtotal", money(r.c_sub)),
        ("grand_total", money(r.c_grand)),
        ("tax_amount", money(r.c_tax)),
        ("shipping_amount", money(r.c_ship)),
        ("store_credit_used", money(r.c_credit)),
        ("gift_card_used", money(r.c_gift)),
    ]);
    let cart_items = batch(&[
        ("cart_id", shift(&r.ci_cart, bases.cart)),
        ("product_id", ids_array(r.ci_product)),
        ("qty", money(r.ci_qty)),
        ("price", money(r.ci_price)),
        ("added_at", timestamps(r.ci_added)),
    ]);
    let wishlist = batch(&[
        ("customer_id", ids_array(r.w_customer)),
        ("product_id", ids_array(r.w_product)),
        ("added_at", timestamps(r.w_added)),
    ]);
    let views = batch(&[
        ("customer_id", opt_ids(r.v_customer)),
        ("visitor_id", opt_ids(r.v_visitor)),
        ("product_id", ids_array(r.v_product)),
        ("website_id", ids_array(r.v_website)),
        ("viewed_at", timestamps(r.v_viewed)),
    ]);
    vec![
        (TableName::Customers, customers),
        (TableName::Addresses, addresses),
        (TableName::Orders, orders),
        (TableName::OrderItems, order_items),
        (TableName::OrderAddresses, order_addresses),
        (TableName::Carts, carts),
        (TableName::CartItems, cart_items),
        (TableName::WishlistItems, wishlist),
        (TableName::ProductViews, views),
    ]
}

/// Refuses a directory that holds anything: generating would delete or replace its tables.
fn refuse_non_empty(dir: &Path) -> anyhow::Result<()> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => anyhow::bail!("{}: {e}", dir.display()),
    };
    if let Some(entry) = entries.next() {
        let name = entry
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .unwrap_or_default();
        anyhow::bail!(
            "{} is not empty (it holds {name}, among others perhaps): generating would replace the dataset files in it; give a new or empty directory, or pass --force to write over them",
            dir.display()
        );
    }
    Ok(())
}

/// Writes a dataset of `options.customers` customers to `options.out`.
pub fn generate(options: &GenerateOptions) -> anyhow::Result<GenerateSummary> {
    let started = Instant::now();
    let reference = options.reference_time.unwrap_or(REFERENCE_TIME_MICROS);
    if !options.overwrite {
        refuse_non_empty(&options.out)?;
    }
    std::fs::create_dir_all(&options.out)
        .map_err(|e| anyhow::anyhow!("{}: {e}", options.out.display()))?;
    // Written last: a dataset.json stands only beside a complete dataset.
    let _ = std::fs::remove_file(options.out.join(META_FILE));
    let ext = extension(options.format);
    for table in TableName::ALL {
        // A stale file of the other format would shadow or mix with the new data.
        for other in ["parquet", "csv"] {
            let _ =
                std::fs::remove_file(options.out.join(format!("{}.{other}", table.file_stem())));
        }
    }
    let vocab = Vocab::new();
    let catalog = Catalog::new(options.customers, options.seed, &vocab);
    let n = options.customers;
    let plan = chunk_plan(n);
    let chunks = plan.len() as u64;
    let progress = crate::util::progress_bar(
        options.progress,
        chunks,
        "generating {bar:40} {pos}/{len} chunks {elapsed}",
    );

    let mut products = TableWriter::create(
        &options.out.join(format!("products.{ext}")),
        catalog.batch.schema(),
        options.format,
    )?;
    products.write(&catalog.batch)?;
    products.close()?;
    let mut rows = std::collections::BTreeMap::new();
    rows.insert("products".to_string(), catalog.batch.num_rows() as u64);

    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8) as u64;
    let mut sinks: Vec<(TableName, TableSink)> = Vec::new();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut receivers = Vec::new();
        for worker in 0..workers {
            let (sender, receiver) = sync_channel::<ChunkRows>(1);
            receivers.push(receiver);
            let (catalog, vocab, plan) = (&catalog, &vocab, &plan);
            scope.spawn(move || {
                for chunk in (worker..chunks).step_by(workers as usize) {
                    let rows = generate_chunk(
                        chunk,
                        options.seed,
                        plan[chunk as usize],
                        catalog,
                        vocab,
                        reference,
                    );
                    if sender.send(rows).is_err() {
                        break;
                    }
                }
            });
        }
        let mut bases = Bases::default();
        for chunk in 0..chunks {
            let rows = receivers[(chunk % workers) as usize]
                .recv()
                .map_err(|_| anyhow::anyhow!("a generator thread stopped"))?;
            let next = Bases {
                address: bases.address + rows.a_id.len() as i64,
                order: bases.order + rows.o_id.len() as i64,
                cart: bases.cart + rows.c_id.len() as i64,
            };
            for (table, batch) in chunk_batches(rows, bases, &vocab) {
                if sinks.iter().all(|(t, _)| *t != table) {
                    let path = options.out.join(format!("{}.{ext}", table.file_stem()));
                    sinks.push((table, spawn_sink(path, batch.schema(), options.format)?));
                }
                let sink = &sinks.iter().find(|(t, _)| *t == table).expect("sink").1;
                if sink.sender.send(batch).is_err() {
                    break;
                }
            }
            bases = next;
            progress.inc(1);
        }
        Ok(())
    })?;
    for (table, sink) in sinks {
        drop(sink.sender);
        let written = sink
            .handle
            .join()
            .map_err(|_| anyhow::anyhow!("the {table} writer panicked"))??;
        rows.insert(table.file_stem().to_string(), written);
    }
    progress.finish_and_clear();
    let meta = DatasetMeta {
        reference_time: Some(format_timestamp(reference)),
        seed: Some(options.seed),
        customers: Some(n),
        rows,
    };
    let meta_path = options.out.join(META_FILE);
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta)? + "\n")
        .map_err(|e| anyhow::anyhow!("{}: {e}", meta_path.display()))?;
    Ok(GenerateSummary {
        meta,
        elapsed: started.elapsed(),
    })
}
