//! Record spaces: the rows of one related table as seen from subjects — which subject a
//! row belongs to, which rows a subject has, and which rows count for a segment's scope.

use roaring::RoaringBitmap;

use crate::model::TableName;
use crate::segment::bitmaps::{Bitset, ROW_CHUNK, bitmap_from_rows, for_each_chunk, for_each_row};
use crate::segment::schema::RelationKind;
use crate::store::{Dataset, Groups, NONE, Relation};

/// A table whose rows belong to subjects: a relation of `has` / `aggregate`, or the carts
/// that `cart.*` fields read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Space {
    Cart,
    Relation(RelationKind),
}

impl Space {
    pub fn table_name(self) -> TableName {
        match self {
            Space::Cart => TableName::Carts,
            Space::Relation(relation) => relation.table().table_name(),
        }
    }

    #[inline]
    pub fn relation(self, dataset: &Dataset) -> &Relation {
        match self {
            Space::Cart => &dataset.carts,
            Space::Relation(RelationKind::Address) => &dataset.addresses,
            Space::Relation(RelationKind::Order) => &dataset.orders,
            Space::Relation(RelationKind::OrderAddress) => &dataset.order_addresses,
            Space::Relation(RelationKind::OrderItem) => &dataset.order_items,
            Space::Relation(RelationKind::CartItem) => &dataset.cart_items,
            Space::Relation(RelationKind::WishlistItem) => &dataset.wishlist_items,
            Space::Relation(RelationKind::ProductView) => &dataset.product_views,
        }
    }

    /// The table whose rows own this one's (orders for order items and addresses, carts
    /// for cart items); `None` when subjects own the rows directly.
    pub fn parent(self) -> Option<Space> {
        match self {
            Space::Relation(RelationKind::OrderItem | RelationKind::OrderAddress) => {
                Some(Space::Relation(RelationKind::Order))
            }
            Space::Relation(RelationKind::CartItem) => Some(Space::Cart),
            _ => None,
        }
    }

    /// The column that dates a row, as its table and name: a view's `viewed_at`, an
    /// order item's order's `created_at`. Rows by product keep each product's rows in
    /// this order.
    pub fn time_field(self) -> Option<(TableName, &'static str)> {
        match self {
            Space::Relation(RelationKind::OrderItem) => Some((TableName::Orders, "created_at")),
            Space::Relation(RelationKind::ProductView) => {
                Some((TableName::ProductViews, "viewed_at"))
            }
            Space::Relation(RelationKind::CartItem) => Some((TableName::CartItems, "added_at")),
            Space::Relation(RelationKind::WishlistItem) => {
                Some((TableName::WishlistItems, "added_at"))
            }
            _ => None,
        }
    }

    /// Whether visitors own rows of this space.
    pub fn visitors_have_it(self) -> bool {
        match self {
            Space::Cart => true,
            Space::Relation(relation) => relation.visitors_have_it(),
        }
    }

    /// The subjects owning `rows`.
    pub fn subjects_of(self, dataset: &Dataset, rows: &RoaringBitmap) -> RoaringBitmap {
        let lookup = SubjectLookup::of(self, dataset);
        let mut subjects = Vec::new();
        // Rows ascend and so do their subjects. When subjects have many rows and many of
        // them are here, a row before the end of the last subject's rows is that
        // subject's and needs no lookup; otherwise finding that end costs more than it
        // saves.
        let all_rows = self.relation(dataset).rows() as u64;
        let subject_count = dataset.subject_count();
        let dense = rows.len() * 16 > all_rows && all_rows >= 4 * subject_count as u64;
        if !dense {
            return subjects_by_chunks(rows, &lookup, subject_count);
        }
        let mut last = NONE;
        let mut end_of_last = 0u32;
        for_each_row(rows, |row| {
            if row < end_of_last {
                return;
            }
            let subject = lookup.subject_of(row as usize);
            if subject != NONE && subject != last {
                subjects.push(subject);
                last = subject;
                end_of_last = self.rows_of_subject(dataset, subject).end as u32;
            }
        });
        bitmap_from_rows(subjects, subject_count)
    }

    /// The subjects of `within` owning some of `rows`, found by walking both in order:
    /// each subject's range of rows against the rows. Cheaper than [`Space::subjects_of`]
    /// when the subjects are fewer than the rows, or the rows far apart (the owner of
    /// each is a chain of lookups scattered over memory).
    pub fn subjects_among(
        self,
        dataset: &Dataset,
        rows: &RoaringBitmap,
        within: &RoaringBitmap,
    ) -> RoaringBitmap {
        let mut sorted = Vec::with_capacity(rows.len() as usize);
        for_each_row(rows, |row| sorted.push(row));
        let mut next = 0;
        let mut subjects = Vec::new();
        for subject in within {
            let range = self.rows_of_subject(dataset, subject);
            while next < sorted.len() && (sorted[next] as usize) < range.start {
                next += 1;
            }
            if next == sorted.len() {
                break;
            }
            if (sorted[next] as usize) < range.end {
                subjects.push(subject);
            }
        }
        RoaringBitmap::from_sorted_iter(subjects).expect("ascending subjects")
    }

    /// The rows of one subject: one contiguous range, because rows are grouped by owner
    /// and owners by subject.
    pub fn rows_of_subject(self, dataset: &Dataset, subject: u32) -> std::ops::Range<usize> {
        let relation = self.relation(dataset);
        match self.parent() {
            Some(parent) => {
                let parents = parent.rows_of_subject(dataset, subject);
                let offsets = relation.groups.offsets();
                offsets[parents.start] as usize..offsets[parents.end] as usize
            }
            None => {
                let customers = dataset.customer_count();
                if (subject as usize) < customers {
                    relation.groups.rows_of(subject as usize)
                } else {
                    match &relation.visitor_groups {
                        Some(groups) if groups.owners() > 0 => {
                            groups.rows_of(subject as usize - customers)
                        }
                        _ => 0..0,
                    }
                }
            }
        }
    }

    /// The rows of every row of `parents` (rows of the parent space).
    pub fn expand_parents(self, dataset: &Dataset, parents: &RoaringBitmap) -> RoaringBitmap {
        expand(&self.relation(dataset).groups, parents)
    }

    /// [`Space::expand_parents`] of a bitset of parent rows, into a bitset of this
    /// space's rows: each run of consecutive parents' rows set as one range of words
    /// (a customer's recent orders lie together).
    pub fn expand_parent_bits(self, dataset: &Dataset, parents: &Bitset) -> Bitset {
        let relation = self.relation(dataset);
        let offsets = relation.groups.offsets();
        let owners = relation.groups.owners() as u32;
        let mut rows = Bitset::new(relation.rows());
        parents.for_each_run(|run| {
            let (first, end) = (run.start.min(owners), run.end.min(owners));
            rows.insert_range(offsets[first as usize]..offsets[end as usize]);
        });
        rows
    }
}

/// The rows of the owners in `owners`, as ranges (runs of consecutive owners are one range).
pub fn expand(groups: &Groups, owners: &RoaringBitmap) -> RoaringBitmap {
    let mut rows = RoaringBitmap::new();
    let mut run: Option<(u32, u32)> = None;
    let offsets = groups.offsets();
    let flush = |run: (u32, u32), rows: &mut RoaringBitmap| {
        let (first, last) = run;
        if (last as usize) < groups.owners() {
            rows.insert_range(offsets[first as usize]..offsets[last as usize + 1]);
        }
    };
    for owner in owners {
        run = match run {
            Some((first, last)) if owner == last + 1 => Some((first, owner)),
            Some(done) => {
                flush(done, &mut rows);
                Some((owner, owner))
            }
            None => Some((owner, owner)),
        };
    }
    if let Some(done) = run {
        flush(done, &mut rows);
    }
    rows
}

/// The subjects owning `rows`, a chunk of rows at a time without a branch on a subject:
/// the lookups of a chunk wait on memory together, and a subject is kept by moving the
/// next slot only when it differs from the one before (rows ascend, so a subject's rows
/// are together).
fn subjects_by_chunks(
    rows: &RoaringBitmap,
    lookup: &SubjectLookup,
    subject_count: usize,
) -> RoaringBitmap {
    let mut subjects: Vec<u32> = Vec::new();
    let mut kept = [0u32; ROW_CHUNK];
    let mut last = NONE;
    for_each_chunk(rows, |chunk| {
        // A local, not the captured `last`: kept in a register across the loop.
        let (mut count, mut previous) = (0, last);
        for &row in chunk {
            let subject = lookup.subject_of(row as usize);
            kept[count] = subject;
            count += usize::from((subject != previous) & (subject != NONE));
            previous = subject;
        }
        last = previous;
        subjects.extend_from_slice(&kept[..count]);
    });
    bitmap_from_rows(subjects, subject_count)
}

/// How a space's rows name their subjects, resolved once for many rows.
pub struct SubjectLookup<'a> {
    /// Row to parent row, for rows that belong to another table's rows (an order's items).
    to_parent: Option<&'a Groups>,
    customers: &'a Groups,
    visitors: Option<&'a Groups>,
    customer_count: u32,
}

impl<'a> SubjectLookup<'a> {
    pub fn of(space: Space, dataset: &'a Dataset) -> SubjectLookup<'a> {
        let relation = space.relation(dataset);
        let (to_parent, owned) = match space.parent() {
            Some(parent) => (Some(&relation.groups), parent.relation(dataset)),
            None => (None, relation),
        };
        SubjectLookup {
            to_parent,
            customers: &owned.groups,
            visitors: owned.visitor_groups.as_ref(),
            customer_count: dataset.customer_count() as u32,
        }
    }

    /// The subject owning `row` (customer `c` is `c`, visitor `v` is `customers + v`),
    /// or `NONE` (a guest order's rows).
    #[inline(always)]
    pub fn subject_of(&self, row: usize) -> u32 {
        let row = match self.to_parent {
            Some(groups) => match groups.owner_of(row) {
                NONE => return NONE,
                parent => parent as usize,
            },
            None => row,
        };
        self.subject_of_owned(row)
    }

    /// The subject owning `row` of the table subjects own (an order, for order items).
    #[inline(always)]
    fn subject_of_owned(&self, row: usize) -> u32 {
        match self.customers.owner_of(row) {
            NONE => match self.visitors.map_or(NONE, |groups| groups.owner_of(row)) {
                NONE => NONE,
                visitor => self.customer_count + visitor,
            },
            customer => customer,
        }
    }
}
