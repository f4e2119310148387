//! What generated rows are drawn from: names, countries and their places, statuses,
//! and the product catalog with its prices and popularity.

use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, ListArray, RecordBatch, StringArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field};
use rand::Rng;
use rand_distr::Distribution;
use rand_distr::weighted::WeightedAliasIndex;
use rand_pcg::Pcg64Mcg;

use super::{CATEGORIES, batch, dictionary, ids_array, money, stream};

pub(super) const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannah", "Ivan", "Julia", "Karl",
    "Laura", "Max", "Nina", "Oscar", "Paula", "Quinn", "Rosa", "Sam", "Tara", "Ugo", "Vera",
    "Will", "Xenia", "Yusuf", "Zoe", "Liam", "Olivia", "Noah", "Mia", "Lucas", "Sofia", "Élodie",
    "Jörg", "Ana", "Marco", "Lena", "Piotr", "Sven", "Ingrid",
];
pub(super) const LAST_NAMES: &[&str] = &[
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
pub(super) const GENDERS: &[&str] = &["male", "female", "not_specified"];
pub(super) const EMAIL_DOMAINS: &[&str] = &[
    "example.com",
    "mail.example",
    "shop.test",
    "web.example",
    "post.example",
];
pub(super) const LOYALTY_TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];
pub(super) const STATUSES: &[&str] = &[
    "pending",
    "processing",
    "complete",
    "closed",
    "canceled",
    "holded",
];
pub(super) const ADDRESS_TYPES: &[&str] = &["billing", "shipping"];
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
pub(super) const STREETS: &[&str] = &[
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
pub(super) const COUNTRIES: &[Country] = &[
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
pub(super) struct Place {
    pub(super) country: i32,
    pub(super) region: i32,
    pub(super) city: i32,
    pub(super) postcode: i32,
}

pub(super) struct Vocab {
    pub(super) places: Vec<Place>,
    pub(super) place_pick: WeightedAliasIndex<u32>,
    pub(super) regions: Vec<String>,
    pub(super) cities: Vec<String>,
    pub(super) postcodes: Vec<String>,
    pub(super) companies: Vec<String>,
    brands: Vec<String>,
}

impl Vocab {
    pub(super) fn new() -> Self {
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
pub(super) struct Catalog {
    prices: Vec<i64>,
    pub(super) pick: WeightedAliasIndex<f64>,
    pub(super) batch: RecordBatch,
}

impl Catalog {
    fn product_count(customers: u64) -> usize {
        (customers / 2).clamp(200, 50_000) as usize
    }

    pub(super) fn new(customers: u64, seed: u64, vocab: &Vocab) -> Catalog {
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
    pub(super) fn draw(&self, rng: &mut Pcg64Mcg) -> (i64, i64) {
        let i = self.pick.sample(rng);
        (i as i64 + 1, self.prices[i])
    }
}
