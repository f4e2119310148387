//! The synthetic dataset generator (`segmint generate`): every table of the data model with
//! the shapes of benchmark.md, deterministic for (customers, seed).
//!
//! Customers are made in chunks, each from its own random stream (seeded by seed and chunk
//! number), on worker threads; the main thread takes chunks in order, numbers their
//! addresses, orders and carts, and hands each table's batch to that table's writer thread.
//! Nothing but a few chunks is ever in memory.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
    Int32Array, Int64Array, ListArray, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use rand::{Rng, SeedableRng};
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::{Distribution, Geometric};
use rand_pcg::Pcg64Mcg;

use super::loader::{DatasetMeta, META_FILE};
use super::value::{DECIMAL_SCALE, MICROS_PER_DAY, MICROS_PER_SECOND, format_timestamp};
use crate::model::TableName;

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
const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannah", "Ivan", "Julia", "Karl",
    "Laura", "Max", "Nina", "Oscar", "Paula", "Quinn", "Rosa", "Sam", "Tara", "Ugo", "Vera",
    "Will", "Xenia", "Yusuf", "Zoe", "Liam", "Olivia", "Noah", "Mia", "Lucas", "Sofia", "Élodie",
    "Jörg", "Ana", "Marco", "Lena", "Piotr", "Sven", "Ingrid",
];
const LAST_NAMES: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Martin",
    "Bernard",
    "Dubois",
    "Rossi",
    "Russo",
    "García",
    "Fernández",
    "de Vries",
    "Jansen",
    "Kowalski",
    "Nowak",
    "Andersson",
    "Nilsson",
    "Gruber",
    "Huber",
    "Peeters",
    "Hansen",
    "O'Brien",
    "Murphy",
    "Silva",
    "Novák",
    "Larsen",
    "Virtanen",
    "Papadopoulos",
    "Horvat",
    "Kaya",
    "Costa",
];
const GENDERS: &[&str] = &["male", "female", "not_specified"];
const EMAIL_DOMAINS: &[&str] = &[
    "example.com",
    "mail.example",
    "shop.test",
    "web.example",
    "post.example",
];
const LOYALTY_TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];
const STATUSES: &[&str] = &[
    "pending",
    "processing",
    "complete",
    "closed",
    "canceled",
    "holded",
];
const ADDRESS_TYPES: &[&str] = &["billing", "shipping"];
const ATTRIBUTE_SETS: &[&str] = &[
    "Default",
    "Clothing",
    "Shoes",
    "Electronics",
    "Home",
    "Beauty",
    "Sports",
    "Books",
];
const COLORS: &[&str] = &[
    "black", "white", "red", "blue", "green", "grey", "yellow", "pink", "brown", "purple",
    "orange", "beige",
];
const STREETS: &[&str] = &[
    "Main Street",
    "Hauptstraße",
    "Rue de la Paix",
    "Via Roma",
    "High Street",
    "Kerkstraat",
    "Gran Vía",
    "Bahnhofstraße",
    "Station Road",
    "Church Lane",
    "Marktplatz",
    "Ulica Długa",
];
/// Country, phone prefix, weight (a long tail), and its regions and cities.
type Country = (
    &'static str,
    &'static str,
    u32,
    &'static [&'static str],
    &'static [&'static str],
);
const COUNTRIES: &[Country] = &[
    (
        "US",
        "+1",
        260,
        &["California", "Texas", "New York", "Florida"],
        &["Los Angeles", "Houston", "New York", "Miami", "Austin"],
    ),
    (
        "DE",
        "+49",
        200,
        &["Bayern", "Berlin", "Hamburg", "Hessen"],
        &["München", "Berlin", "Hamburg", "Frankfurt", "Nürnberg"],
    ),
    (
        "GB",
        "+44",
        120,
        &["England", "Scotland", "Wales"],
        &["London", "Manchester", "Edinburgh", "Cardiff", "Leeds"],
    ),
    (
        "FR",
        "+33",
        90,
        &["Île-de-France", "Provence", "Bretagne"],
        &["Paris", "Marseille", "Rennes", "Lyon", "Nice"],
    ),
    (
        "NL",
        "+31",
        60,
        &["Noord-Holland", "Zuid-Holland", "Utrecht"],
        &["Amsterdam", "Rotterdam", "Utrecht", "Den Haag"],
    ),
    (
        "IT",
        "+39",
        50,
        &["Lazio", "Lombardia", "Toscana"],
        &["Roma", "Milano", "Firenze", "Torino"],
    ),
    (
        "ES",
        "+34",
        45,
        &["Madrid", "Cataluña", "Andalucía"],
        &["Madrid", "Barcelona", "Sevilla", "Valencia"],
    ),
    (
        "PL",
        "+48",
        35,
        &["Mazowieckie", "Małopolskie"],
        &["Warszawa", "Kraków", "Gdańsk"],
    ),
    (
        "AT",
        "+43",
        30,
        &["Wien", "Tirol"],
        &["Wien", "Innsbruck", "Graz"],
    ),
    (
        "CH",
        "+41",
        25,
        &["Zürich", "Bern", "Genève"],
        &["Zürich", "Bern", "Genève"],
    ),
    (
        "SE",
        "+46",
        20,
        &["Stockholm", "Skåne"],
        &["Stockholm", "Malmö", "Göteborg"],
    ),
    (
        "BE",
        "+32",
        18,
        &["Brussels", "Flanders"],
        &["Bruxelles", "Antwerpen", "Gent"],
    ),
    ("DK", "+45", 10, &["Hovedstaden"], &["København", "Aarhus"]),
    ("IE", "+353", 8, &["Leinster"], &["Dublin", "Cork"]),
    ("PT", "+351", 7, &["Lisboa"], &["Lisboa", "Porto"]),
    ("CZ", "+420", 6, &["Praha"], &["Praha", "Brno"]),
    ("NO", "+47", 5, &["Oslo"], &["Oslo", "Bergen"]),
    ("FI", "+358", 4, &["Uusimaa"], &["Helsinki", "Espoo"]),
    (
        "CA",
        "+1",
        4,
        &["Ontario", "Québec"],
        &["Toronto", "Montréal"],
    ),
    ("AU", "+61", 3, &["New South Wales"], &["Sydney"]),
    ("JP", "+81", 2, &["Tokyo"], &["Tokyo"]),
    ("LU", "+352", 1, &["Luxembourg"], &["Luxembourg"]),
];
const POSTCODES_PER_CITY: usize = 12;

/// A place: every (country, region, city, postcode) an address can have, with the
/// dictionary keys of each part.
#[derive(Clone, Copy)]
struct Place {
    country: i32,
    region: i32,
    city: i32,
    postcode: i32,
}

struct Vocab {
    places: Vec<Place>,
    place_pick: WeightedAliasIndex<u32>,
    regions: Vec<String>,
    cities: Vec<String>,
    postcodes: Vec<String>,
    companies: Vec<String>,
    brands: Vec<String>,
}

impl Vocab {
    fn new() -> Self {
        let (mut places, mut weights) = (Vec::new(), Vec::new());
        let (mut regions, mut cities, mut postcodes) = (Vec::new(), Vec::new(), Vec::new());
        for (c, (code, _, weight, country_regions, country_cities)) in COUNTRIES.iter().enumerate()
        {
            let region_base = regions.len();
            regions.extend(country_regions.iter().map(|r| r.to_string()));
            for (k, city) in country_cities.iter().enumerate() {
                let city_key = cities.len() as i32;
                cities.push(city.to_string());
                for p in 0..POSTCODES_PER_CITY {
                    let postcode_key = postcodes.len() as i32;
                    postcodes.push(format!(
                        "{code}-{:05}",
                        10_000 + city_key as usize * 97 + p * 7
                    ));
                    places.push(Place {
                        country: c as i32,
                        region: (region_base + k % country_regions.len()) as i32,
                        city: city_key,
                        postcode: postcode_key,
                    });
                    weights
                        .push(weight * 12 / (country_cities.len() * POSTCODES_PER_CITY) as u32 + 1);
                }
            }
        }
        Vocab {
            places,
            place_pick: WeightedAliasIndex::new(weights).expect("positive weights"),
            regions,
            cities,
            postcodes,
            companies: (1..=500).map(|i| format!("Company {i} GmbH")).collect(),
            brands: (1..=60).map(|i| format!("Brand {i:02}")).collect(),
        }
    }
}

/// The catalog: prices and a popularity distribution (Zipf-like over a shuffled ranking).
struct Catalog {
    prices: Vec<i64>,
    pick: WeightedAliasIndex<f64>,
    batch: RecordBatch,
}

impl Catalog {
    fn product_count(customers: u64) -> usize {
        (customers / 2).clamp(200, 50_000) as usize
    }

    fn new(customers: u64, seed: u64, vocab: &Vocab) -> Catalog {
        let n = Catalog::product_count(customers);
        let mut rng = stream(seed, u64::MAX);
        let category_pick = WeightedAliasIndex::new(
            (1..=CATEGORIES)
                .map(|r| 1.0 / (r as f64).powf(0.7))
                .collect::<Vec<f64>>(),
        )
        .expect("weights");
        let mut prices = Vec::with_capacity(n);
        let mut sets = Vec::with_capacity(n);
        let mut brands = Vec::with_capacity(n);
        let mut colors = Vec::with_capacity(n);
        let mut category_values = Vec::new();
        let mut category_offsets = vec![0i32];
        for _ in 0..n {
            // Log-uniform prices from 2 to 800, in cents.
            let price = (2.0f64 * 400f64.powf(rng.random::<f64>()) * 100.0).round() as i64 * 100;
            prices.push(price);
            sets.push(rng.random_range(0..ATTRIBUTE_SETS.len() as i32));
            brands.push(rng.random_range(0..vocab.brands.len() as i32));
            colors.push((rng.random_bool(0.9)).then(|| rng.random_range(0..COLORS.len() as i32)));
            let count = rng.random_range(1..=3);
            let mut cats: Vec<i64> = Vec::with_capacity(count);
            while cats.len() < count {
                let c = category_pick.sample(&mut rng) as i64 + 1;
                if !cats.contains(&c) {
                    cats.push(c);
                }
            }
            cats.sort_unstable();
            category_values.extend(cats);
            category_offsets.push(category_values.len() as i32);
        }
        // Popularity by rank, with ranks shuffled over product ids.
        let mut weights: Vec<f64> = (1..=n).map(|r| 1.0 / r as f64).collect();
        for i in (1..n).rev() {
            weights.swap(i, rng.random_range(0..=i));
        }
        let ids: Vec<i64> = (1..=n as i64).collect();
        let categories = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Int64, true)),
            OffsetBuffer::new(category_offsets.into()),
            Arc::new(Int64Array::from(category_values)),
            None,
        );
        let batch = batch(&[
            ("product_id", ids_array(ids.clone())),
            (
                "sku",
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| format!("SKU-{i:06}")),
                )),
            ),
            (
                "name",
                Arc::new(StringArray::from_iter_values(ids.iter().zip(&sets).map(
                    |(i, s)| format!("{} item {i}", ATTRIBUTE_SETS[*s as usize]),
                ))),
            ),
            (
                "attribute_set",
                dictionary(sets.into_iter().map(Some).collect(), ATTRIBUTE_SETS),
            ),
            ("price", money(prices.iter().copied().map(Some).collect())),
            ("category_ids", Arc::new(categories)),
            (
                "brand",
                dictionary(brands.into_iter().map(Some).collect(), &vocab.brands),
            ),
            ("color", dictionary(colors, COLORS)),
        ]);
        Catalog {
            prices,
            pick: WeightedAliasIndex::new(weights).expect("weights"),
            batch,
        }
    }

    /// A product id and its price, drawn by popularity.
    fn draw(&self, rng: &mut Pcg64Mcg) -> (i64, i64) {
        let i = self.pick.sample(rng);
        (i as i64 + 1, self.prices[i])
    }
}

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

fn cents(value: f64) -> i64 {
    (value * 100.0).round() as i64 * 100
}

/// Rows of one chunk, column by column. Address, order and cart ids are numbered from 0
/// within the chunk; the main thread adds each chunk's base.
#[derive(Default)]
struct ChunkRows {
    // customers
    customer_id: Vec<i64>,
    website: Vec<i64>,
    group: Vec<i64>,
    email: Vec<String>,
    first: Vec<Option<i32>>,
    last: Vec<Option<i32>>,
    gender: Vec<Option<i32>>,
    dob: Vec<Option<i32>>,
    created: Vec<Option<i64>>,
    login: Vec<Option<i64>>,
    newsletter: Vec<Option<bool>>,
    credit: Vec<Option<i64>>,
    tier: Vec<Option<i32>>,
    points: Vec<Option<i64>>,
    // addresses
    a_id: Vec<i64>,
    a_customer: Vec<i64>,
    a_billing: Vec<Option<bool>>,
    a_shipping: Vec<Option<bool>>,
    a_first: Vec<Option<i32>>,
    a_last: Vec<Option<i32>>,
    a_company: Vec<Option<i32>>,
    a_street: Vec<String>,
    a_place: Vec<Place>,
    a_phone: Vec<String>,
    // orders
    o_id: Vec<i64>,
    o_customer: Vec<Option<i64>>,
    o_website: Vec<i64>,
    o_created: Vec<Option<i64>>,
    o_status: Vec<Option<i32>>,
    o_grand: Vec<Option<i64>>,
    o_sub: Vec<Option<i64>>,
    o_tax: Vec<Option<i64>>,
    o_ship: Vec<Option<i64>>,
    o_discount: Vec<Option<i64>>,
    o_qty: Vec<Option<i64>>,
    // order items
    i_order: Vec<i64>,
    i_product: Vec<i64>,
    i_qty: Vec<Option<i64>>,
    i_price: Vec<Option<i64>>,
    i_total: Vec<Option<i64>>,
    // order addresses
    oa_order: Vec<i64>,
    oa_type: Vec<Option<i32>>,
    oa_first: Vec<Option<i32>>,
    oa_last: Vec<Option<i32>>,
    oa_place: Vec<Place>,
    // carts
    c_id: Vec<i64>,
    c_customer: Vec<Option<i64>>,
    c_visitor: Vec<Option<i64>>,
    c_website: Vec<i64>,
    c_active: Vec<Option<bool>>,
    c_created: Vec<Option<i64>>,
    c_updated: Vec<Option<i64>>,
    c_count: Vec<Option<i64>>,
    c_qty: Vec<Option<i64>>,
    c_sub: Vec<Option<i64>>,
    c_grand: Vec<Option<i64>>,
    c_tax: Vec<Option<i64>>,
    c_ship: Vec<Option<i64>>,
    c_credit: Vec<Option<i64>>,
    c_gift: Vec<Option<i64>>,
    // cart items
    ci_cart: Vec<i64>,
    ci_product: Vec<i64>,
    ci_qty: Vec<Option<i64>>,
    ci_price: Vec<Option<i64>>,
    ci_added: Vec<Option<i64>>,
    // wishlist
    w_customer: Vec<i64>,
    w_product: Vec<i64>,
    w_added: Vec<Option<i64>>,
    // product views
    v_customer: Vec<Option<i64>>,
    v_visitor: Vec<Option<i64>>,
    v_product: Vec<i64>,
    v_website: Vec<i64>,
    v_viewed: Vec<Option<i64>>,
}

struct Generator<'a> {
    rng: Pcg64Mcg,
    catalog: &'a Catalog,
    vocab: &'a Vocab,
    rows: ChunkRows,
    few_items: Geometric,
    cart_items: Geometric,
    wishes: Geometric,
    views: Geometric,
    visitor_views: Geometric,
    /// The reference instant: generated dates lie before it.
    reference: i64,
}

const DAY: i64 = MICROS_PER_DAY;

impl Generator<'_> {
    /// A whole-second instant uniformly in `[from, to)`.
    fn instant(&mut self, from: i64, to: i64) -> i64 {
        let seconds = ((to - from) / MICROS_PER_SECOND).max(1);
        from + self.rng.random_range(0..seconds) * MICROS_PER_SECOND
    }

    fn pick<T: Copy>(&mut self, weighted: &[(T, u32)]) -> T {
        let total: u32 = weighted.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.random_range(0..total);
        for (value, weight) in weighted {
            if x < *weight {
                return *value;
            }
            x -= weight;
        }
        weighted[weighted.len() - 1].0
    }

    fn customer(&mut self, id: i64) {
        let website = if self.rng.random_bool(0.8) { 1 } else { 2 };
        let group = [(1i64, 85u32), (2, 10), (3, 5)];
        let group = self.pick(&group);
        let first = self.rng.random_range(0..FIRST_NAMES.len() as i32);
        let last = self.rng.random_range(0..LAST_NAMES.len() as i32);
        let created = self.instant(self.reference - 5 * 365 * DAY, self.reference - DAY);
        let login = (!self.rng.random_bool(0.05)).then(|| {
            // Exponential with a mean of 60 days, in whole seconds like every generated time.
            let back_seconds = (-(1.0 - self.rng.random::<f64>()).ln() * 60.0 * 86_400.0) as i64;
            (self.reference - back_seconds * MICROS_PER_SECOND).max(created)
        });
        let dob = (!self.rng.random_bool(0.15)).then(|| {
            let age_days = self.rng.random_range(18 * 365..80 * 365);
            ((self.reference - age_days as i64 * DAY) / DAY) as i32
        });
        let credit = if self.rng.random_bool(0.15) {
            cents(self.rng.random_range(1.0..200.0))
        } else {
            0
        };
        let tier = self.pick(&[(0i32, 60u32), (1, 25), (2, 10), (3, 5)]);
        let points = self.rng.random_range(0..5000);
        let gender = self.pick(&[(0i32, 45u32), (1, 45), (2, 10)]);
        let domain = EMAIL_DOMAINS[self.rng.random_range(0..EMAIL_DOMAINS.len())];
        let newsletter = self.rng.random_bool(0.3);
        let r = &mut self.rows;
        r.customer_id.push(id);
        r.website.push(website);
        r.group.push(group);
        r.email.push(
            format!(
                "{}.{}{id}@{domain}",
                FIRST_NAMES[first as usize], LAST_NAMES[last as usize]
            )
            .to_lowercase()
            .replace(' ', ""),
        );
        r.first.push(Some(first));
        r.last.push(Some(last));
        r.gender.push(Some(gender));
        r.dob.push(dob);
        r.created.push(Some(created));
        r.login.push(login);
        r.newsletter.push(Some(newsletter));
        r.credit.push(Some(credit));
        r.tier.push(Some(tier));
        r.points.push(Some(points));

        // Address book: 0-3 addresses, 1.4 on average; the first is the default.
        let address_count = self.pick(&[(0usize, 10u32), (1, 50), (2, 30), (3, 10)]);
        let mut places = Vec::with_capacity(address_count);
        for k in 0..address_count {
            let place = self.vocab.places[self.vocab.place_pick.sample(&mut self.rng)];
            places.push(place);
            let company = self
                .rng
                .random_bool(0.1)
                .then(|| self.rng.random_range(0..self.vocab.companies.len() as i32));
            let street = format!(
                "{} {}",
                self.rng.random_range(1..300),
                STREETS[self.rng.random_range(0..STREETS.len())]
            );
            let phone = format!(
                "{} {}",
                COUNTRIES[place.country as usize].1,
                self.rng.random_range(100_000_000u64..999_999_999)
            );
            let r = &mut self.rows;
            r.a_id.push(r.a_id.len() as i64);
            r.a_customer.push(id);
            r.a_billing.push(Some(k == 0));
            r.a_shipping.push(Some(k == 0));
            r.a_first.push(Some(first));
            r.a_last.push(Some(last));
            r.a_company.push(company);
            r.a_street.push(street);
            r.a_place.push(place);
            r.a_phone.push(phone);
        }

        // Orders: heavy-tailed (Lomax, mean about 10), over the last 3 years.
        let u: f64 = 1.0 - self.rng.random::<f64>();
        let orders = ((5.6 * (u.powf(-1.0 / 1.5) - 1.0)) as usize).min(1500);
        let since = created.max(self.reference - 3 * 365 * DAY);
        let mut times: Vec<i64> = (0..orders)
            .map(|_| self.instant(since, self.reference))
            .collect();
        times.sort_unstable();
        for t in times {
            let shipping_place = places.first().copied();
            self.order(
                Some(id),
                website,
                t,
                Some((first, last)),
                shipping_place,
                &places,
            );
        }

        // Cart: 30% have an active one, 10% an old inactive one.
        if self.rng.random_bool(0.1) {
            self.cart(Some(id), None, website, false);
        }
        if self.rng.random_bool(0.3) {
            self.cart(Some(id), None, website, true);
        }
        // Wishlist: 2 on average, distinct products.
        let wishes = self.wishes.sample(&mut self.rng) as usize;
        let mut wished = Vec::with_capacity(wishes);
        for _ in 0..wishes {
            let (product, _) = self.catalog.draw(&mut self.rng);
            if !wished.contains(&product) {
                wished.push(product);
                let added = self.instant(self.reference - 365 * DAY, self.reference);
                let r = &mut self.rows;
                r.w_customer.push(id);
                r.w_product.push(product);
                r.w_added.push(Some(added));
            }
        }
        let views = self.views.sample(&mut self.rng) as usize;
        self.product_views(Some(id), None, website, views);
    }

    fn order(
        &mut self,
        customer: Option<i64>,
        website: i64,
        created: i64,
        names: Option<(i32, i32)>,
        place: Option<Place>,
        book: &[Place],
    ) {
        let order = self.rows.o_id.len() as i64;
        let recent = created > self.reference - 30 * DAY;
        let status = if recent {
            self.pick(&[(0i32, 15u32), (1, 25), (2, 50), (4, 7), (5, 3)])
        } else {
            self.pick(&[(2i32, 82u32), (3, 6), (4, 10), (5, 2)])
        };
        let items = 1 + self.few_items.sample(&mut self.rng) as usize;
        let (mut subtotal, mut qty_total) = (0i64, 0i64);
        for _ in 0..items {
            let (product, price) = self.catalog.draw(&mut self.rng);
            let qty = self.pick(&[(1i64, 70u32), (2, 20), (3, 6), (5, 4)]);
            let r = &mut self.rows;
            r.i_order.push(order);
            r.i_product.push(product);
            r.i_qty.push(Some(qty * DECIMAL_SCALE));
            r.i_price.push(Some(price));
            r.i_total.push(Some(price * qty));
            subtotal += price * qty;
            qty_total += qty;
        }
        let discount = if self.rng.random_bool(0.15) {
            -(subtotal / 1000) * 100
        } else {
            0
        };
        let shipping = if subtotal > 100 * DECIMAL_SCALE {
            0
        } else {
            49_900
        };
        let tax = (subtotal * 19 / 100 / 100) * 100;
        let (first, last) = names.map_or((None, None), |(f, l)| (Some(f), Some(l)));
        let billing =
            place.unwrap_or_else(|| self.vocab.places[self.vocab.place_pick.sample(&mut self.rng)]);
        let shipping_place = if !book.is_empty() && self.rng.random_bool(0.2) {
            book[self.rng.random_range(0..book.len())]
        } else {
            billing
        };
        let has_shipping = self.rng.random_bool(0.9);
        let r = &mut self.rows;
        r.o_id.push(order);
        r.o_customer.push(customer);
        r.o_website.push(website);
        r.o_created.push(Some(created));
        r.o_status.push(Some(status));
        r.o_sub.push(Some(subtotal));
        r.o_tax.push(Some(tax));
        r.o_ship.push(Some(shipping));
        r.o_discount.push(Some(discount));
        r.o_grand.push(Some(subtotal + tax + shipping + discount));
        r.o_qty.push(Some(qty_total * DECIMAL_SCALE));
        for (kind, place) in [(0, billing), (1, shipping_place)] {
            if kind == 1 && !has_shipping {
                continue;
            }
            r.oa_order.push(order);
            r.oa_type.push(Some(kind));
            r.oa_first.push(first);
            r.oa_last.push(last);
            r.oa_place.push(place);
        }
    }

    fn cart(&mut self, customer: Option<i64>, visitor: Option<i64>, website: i64, active: bool) {
        let cart = self.rows.c_id.len() as i64;
        let (from, to) = if active {
            (self.reference - 60 * DAY, self.reference)
        } else {
            (self.reference - 400 * DAY, self.reference - 60 * DAY)
        };
        let created = self.instant(from, to);
        let updated = self.instant(created, to.max(created + MICROS_PER_SECOND));
        let items = 1 + self.cart_items.sample(&mut self.rng) as usize;
        let (mut subtotal, mut qty_total) = (0i64, 0i64);
        for _ in 0..items {
            let (product, price) = self.catalog.draw(&mut self.rng);
            let qty = self.pick(&[(1i64, 75u32), (2, 20), (4, 5)]);
            let added = self.instant(created, updated.max(created + MICROS_PER_SECOND));
            let r = &mut self.rows;
            r.ci_cart.push(cart);
            r.ci_product.push(product);
            r.ci_qty.push(Some(qty * DECIMAL_SCALE));
            r.ci_price.push(Some(price));
            r.ci_added.push(Some(added));
            subtotal += price * qty;
            qty_total += qty;
        }
        let tax = (subtotal * 19 / 100 / 100) * 100;
        let shipping = if subtotal > 100 * DECIMAL_SCALE {
            0
        } else {
            49_900
        };
        let credit = if customer.is_some() && self.rng.random_bool(0.05) {
            cents(self.rng.random_range(1.0..30.0))
        } else {
            0
        };
        let gift = if self.rng.random_bool(0.03) {
            cents(self.rng.random_range(5.0..50.0))
        } else {
            0
        };
        let r = &mut self.rows;
        r.c_id.push(cart);
        r.c_customer.push(customer);
        r.c_visitor.push(visitor);
        r.c_website.push(website);
        r.c_active.push(Some(active));
        r.c_created.push(Some(created));
        r.c_updated.push(Some(updated));
        r.c_count.push(Some(items as i64));
        r.c_qty.push(Some(qty_total * DECIMAL_SCALE));
        r.c_sub.push(Some(subtotal));
        r.c_tax.push(Some(tax));
        r.c_ship.push(Some(shipping));
        r.c_credit.push(Some(credit));
        r.c_gift.push(Some(gift));
        r.c_grand
            .push(Some(subtotal + tax + shipping - credit - gift));
    }

    fn product_views(
        &mut self,
        customer: Option<i64>,
        visitor: Option<i64>,
        website: i64,
        count: usize,
    ) {
        let mut times: Vec<i64> = (0..count)
            .map(|_| self.instant(self.reference - 180 * DAY, self.reference))
            .collect();
        times.sort_unstable();
        for t in times {
            let (product, _) = self.catalog.draw(&mut self.rng);
            let r = &mut self.rows;
            r.v_customer.push(customer);
            r.v_visitor.push(visitor);
            r.v_product.push(product);
            r.v_website.push(website);
            r.v_viewed.push(Some(t));
        }
    }

    fn visitor(&mut self, id: i64) {
        let website = if self.rng.random_bool(0.8) { 1 } else { 2 };
        if self.rng.random_bool(0.4) {
            self.cart(None, Some(id), website, true);
        }
        let views = 1 + self.visitor_views.sample(&mut self.rng) as usize;
        self.product_views(None, Some(id), website, views);
    }

    fn guest_order(&mut self) {
        let website = if self.rng.random_bool(0.8) { 1 } else { 2 };
        let created = self.instant(self.reference - 3 * 365 * DAY, self.reference);
        self.order(None, website, created, None, None, &[]);
    }
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

/// Writes one table's batches to its file.
enum TableWriter {
    Parquet(ArrowWriter<File>),
    Csv(datafusion::arrow::csv::Writer<BufWriter<File>>),
}

impl TableWriter {
    fn create(path: &Path, schema: SchemaRef, format: OutputFormat) -> anyhow::Result<TableWriter> {
        let file = File::create(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(match format {
            OutputFormat::Parquet => {
                let mut props = WriterProperties::builder()
                    .set_compression(Compression::LZ4_RAW)
                    .set_dictionary_enabled(false);
                for field in schema.fields() {
                    if matches!(field.data_type(), DataType::Dictionary(..)) {
                        props =
                            props.set_column_dictionary_enabled(field.name().as_str().into(), true);
                    }
                }
                TableWriter::Parquet(ArrowWriter::try_new(file, schema, Some(props.build()))?)
            }
            OutputFormat::Csv => TableWriter::Csv(
                datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .with_timestamp_format("%Y-%m-%dT%H:%M:%SZ".into())
                    .with_date_format("%Y-%m-%d".into())
                    .build(BufWriter::with_capacity(1 << 20, file)),
            ),
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        match self {
            TableWriter::Parquet(w) => w.write(batch)?,
            TableWriter::Csv(w) => w.write(&csv_ready(batch))?,
        }
        Ok(())
    }

    fn close(self) -> anyhow::Result<()> {
        match self {
            TableWriter::Parquet(w) => {
                w.close()?;
            }
            TableWriter::Csv(w) => {
                use std::io::Write;
                w.into_inner().flush()?;
            }
        }
        Ok(())
    }
}

/// CSV has no lists: `category_ids` becomes `3|17|240`.
fn csv_ready(input: &RecordBatch) -> RecordBatch {
    let schema = input.schema();
    let columns: Vec<(&str, ArrayRef)> = schema
        .fields()
        .iter()
        .zip(input.columns())
        .map(|(field, array)| {
            let array = match array.as_list_opt::<i32>() {
                Some(list) => {
                    let joined: StringArray = (0..list.len())
                        .map(|row| {
                            (!list.is_null(row)).then(|| {
                                let ids = list.value(row);
                                let ids = ids.as_primitive::<Int64Type>();
                                ids.values()
                                    .iter()
                                    .map(i64::to_string)
                                    .collect::<Vec<_>>()
                                    .join("|")
                            })
                        })
                        .collect();
                    Arc::new(joined) as ArrayRef
                }
                None => array.clone(),
            };
            (field.name().as_str(), array)
        })
        .collect();
    batch(&columns)
}

fn extension(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Parquet => "parquet",
        OutputFormat::Csv => "csv",
    }
}

/// One writer thread per table, fed through a small bounded channel.
struct TableSink {
    sender: SyncSender<RecordBatch>,
    handle: std::thread::JoinHandle<anyhow::Result<u64>>,
}

fn spawn_sink(path: PathBuf, schema: SchemaRef, format: OutputFormat) -> anyhow::Result<TableSink> {
    let mut writer = TableWriter::create(&path, schema, format)?;
    let (sender, receiver): (SyncSender<RecordBatch>, Receiver<RecordBatch>) = sync_channel(2);
    let handle = std::thread::spawn(move || {
        let mut rows = 0u64;
        for batch in receiver {
            rows += batch.num_rows() as u64;
            writer.write(&batch)?;
        }
        writer.close()?;
        Ok(rows)
    });
    Ok(TableSink { sender, handle })
}

/// Writes a dataset of `options.customers` customers to `options.out`.
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
