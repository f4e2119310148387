//! One chunk's rows, column by column, as its random stream draws each customer, visitor
//! and guest order with their addresses, orders, carts, wishlists and views.

use rand::Rng;
use rand_distr::{Distribution, Geometric};
use rand_pcg::Pcg64Mcg;

use super::vocab::{
    COUNTRIES, Catalog, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES, Place, STREETS, Vocab,
};
use crate::data::value::{DECIMAL_SCALE, MICROS_PER_DAY, MICROS_PER_SECOND};

pub(super) fn cents(value: f64) -> i64 {
    (value * 100.0).round() as i64 * 100
}

/// Rows of one chunk, column by column. Address, order and cart ids are numbered from 0
/// within the chunk; the main thread adds each chunk's base.
#[derive(Default)]
pub(super) struct ChunkRows {
    // customers
    pub(super) customer_id: Vec<i64>,
    pub(super) website: Vec<i64>,
    pub(super) group: Vec<i64>,
    pub(super) email: Vec<String>,
    pub(super) first: Vec<Option<i32>>,
    pub(super) last: Vec<Option<i32>>,
    pub(super) gender: Vec<Option<i32>>,
    pub(super) dob: Vec<Option<i32>>,
    pub(super) created: Vec<Option<i64>>,
    pub(super) login: Vec<Option<i64>>,
    pub(super) newsletter: Vec<Option<bool>>,
    pub(super) credit: Vec<Option<i64>>,
    pub(super) tier: Vec<Option<i32>>,
    pub(super) points: Vec<Option<i64>>,
    // addresses
    pub(super) a_id: Vec<i64>,
    pub(super) a_customer: Vec<i64>,
    pub(super) a_billing: Vec<Option<bool>>,
    pub(super) a_shipping: Vec<Option<bool>>,
    pub(super) a_first: Vec<Option<i32>>,
    pub(super) a_last: Vec<Option<i32>>,
    pub(super) a_company: Vec<Option<i32>>,
    pub(super) a_street: Vec<String>,
    pub(super) a_place: Vec<Place>,
    pub(super) a_phone: Vec<String>,
    // orders
    pub(super) o_id: Vec<i64>,
    pub(super) o_customer: Vec<Option<i64>>,
    pub(super) o_website: Vec<i64>,
    pub(super) o_created: Vec<Option<i64>>,
    pub(super) o_status: Vec<Option<i32>>,
    pub(super) o_grand: Vec<Option<i64>>,
    pub(super) o_sub: Vec<Option<i64>>,
    pub(super) o_tax: Vec<Option<i64>>,
    pub(super) o_ship: Vec<Option<i64>>,
    pub(super) o_discount: Vec<Option<i64>>,
    pub(super) o_qty: Vec<Option<i64>>,
    // order items
    pub(super) i_order: Vec<i64>,
    pub(super) i_product: Vec<i64>,
    pub(super) i_qty: Vec<Option<i64>>,
    pub(super) i_price: Vec<Option<i64>>,
    pub(super) i_total: Vec<Option<i64>>,
    // order addresses
    pub(super) oa_order: Vec<i64>,
    pub(super) oa_type: Vec<Option<i32>>,
    pub(super) oa_first: Vec<Option<i32>>,
    pub(super) oa_last: Vec<Option<i32>>,
    pub(super) oa_place: Vec<Place>,
    // carts
    pub(super) c_id: Vec<i64>,
    pub(super) c_customer: Vec<Option<i64>>,
    pub(super) c_visitor: Vec<Option<i64>>,
    pub(super) c_website: Vec<i64>,
    pub(super) c_active: Vec<Option<bool>>,
    pub(super) c_created: Vec<Option<i64>>,
    pub(super) c_updated: Vec<Option<i64>>,
    pub(super) c_count: Vec<Option<i64>>,
    pub(super) c_qty: Vec<Option<i64>>,
    pub(super) c_sub: Vec<Option<i64>>,
    pub(super) c_grand: Vec<Option<i64>>,
    pub(super) c_tax: Vec<Option<i64>>,
    pub(super) c_ship: Vec<Option<i64>>,
    pub(super) c_credit: Vec<Option<i64>>,
    pub(super) c_gift: Vec<Option<i64>>,
    // cart items
    pub(super) ci_cart: Vec<i64>,
    pub(super) ci_product: Vec<i64>,
    pub(super) ci_qty: Vec<Option<i64>>,
    pub(super) ci_price: Vec<Option<i64>>,
    pub(super) ci_added: Vec<Option<i64>>,
    // wishlist
    pub(super) w_customer: Vec<i64>,
    pub(super) w_product: Vec<i64>,
    pub(super) w_added: Vec<Option<i64>>,
    // product views
    pub(super) v_customer: Vec<Option<i64>>,
    pub(super) v_visitor: Vec<Option<i64>>,
    pub(super) v_product: Vec<i64>,
    pub(super) v_website: Vec<i64>,
    pub(super) v_viewed: Vec<Option<i64>>,
}

pub(super) struct Generator<'a> {
    pub(super) rng: Pcg64Mcg,
    pub(super) catalog: &'a Catalog,
    pub(super) vocab: &'a Vocab,
    pub(super) rows: ChunkRows,
    pub(super) few_items: Geometric,
    pub(super) cart_items: Geometric,
    pub(super) wishes: Geometric,
    pub(super) views: Geometric,
    pub(super) visitor_views: Geometric,
    /// The reference instant: generated dates lie before it.
    pub(super) reference: i64,
}

const DAY: i64 = MICROS_PER_DAY;

impl Generator<'_> {
    /// A whole-second instant uniformly in `[from, to)`.
    pub(super) fn instant(&mut self, from: i64, to: i64) -> i64 {
        let seconds = ((to - from) / MICROS_PER_SECOND).max(1);
        from + self.rng.random_range(0..seconds) * MICROS_PER_SECOND
    }

    pub(super) fn pick<T: Copy>(&mut self, weighted: &[(T, u32)]) -> T {
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

    pub(super) fn customer(&mut self, id: i64) {
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

    pub(super) fn order(
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

    pub(super) fn cart(
        &mut self,
        customer: Option<i64>,
        visitor: Option<i64>,
        website: i64,
        active: bool,
    ) {
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

    pub(super) fn visitor(&mut self, id: i64) {
        let website = if self.rng.random_bool(0.8) { 1 } else { 2 };
        if self.rng.random_bool(0.4) {
            self.cart(None, Some(id), website, true);
        }
        let views = 1 + self.visitor_views.sample(&mut self.rng) as usize;
        self.product_views(None, Some(id), website, views);
    }

    pub(super) fn guest_order(&mut self) {
        let website = if self.rng.random_bool(0.8) { 1 } else { 2 };
        let created = self.instant(self.reference - 3 * 365 * DAY, self.reference);
        self.order(None, website, created, None, None, &[]);
    }
}
