//! Bitmaps of rows: built fast from rows in any order or from a bitset, walked a chunk
//! at a time, and filtered without a branch a row.

use roaring::RoaringBitmap;

/// Builds a bitmap from rows in any order, repeats allowed: sorted when few, put in their
/// containers and sorted in each when more, through a bitset when many (a bitset costs
/// about a nanosecond per 64 rows of `space`, and zeroing its pages).
pub fn bitmap_from_rows(mut rows: Vec<u32>, space: usize) -> RoaringBitmap {
    if rows.len() < 4_096 {
        rows.sort_unstable();
        rows.dedup();
        bitmap_from_ascending(&rows)
    } else if rows.len() * 256 < space {
        bitmap_by_containers(&rows)
    } else {
        let mut bits = Bitset::new(space);
        rows.iter().for_each(|&row| bits.insert(row));
        bits.into_bitmap()
    }
}

/// Calls `f` on every row, in order: a run at a time when the rows are dense, a chunk at
/// a time ([`for_each_chunk`]) when they are sparse.
#[inline]
pub fn for_each_row(rows: &RoaringBitmap, mut f: impl FnMut(u32)) {
    if scattered(rows) {
        for_each_chunk(rows, |chunk| chunk.iter().for_each(|&row| f(row)));
        return;
    }
    let mut runs = rows.iter();
    while let Some(run) = runs.next_range() {
        run.for_each(&mut f);
    }
}

/// Whether `rows` fill less than half of the span from the first to the last.
fn scattered(rows: &RoaringBitmap) -> bool {
    match (rows.min(), rows.max()) {
        (Some(min), Some(max)) => rows.len() * 2 < (max - min) as u64 + 1,
        _ => false,
    }
}

/// Runs in a container beyond which it is kept as an array or bitset by
/// [`for_intersecting`]: a binary search over this many runs is a handful of steps.
const MAX_INTERSECTED_RUNS: u32 = 64;

/// `rows` with each container in the form that intersects fastest: runs where they are
/// few, else an array or a bitset. `optimize` keeps up to 2,047 runs as runs (fewer
/// bytes), and roaring intersects those with an array by a binary search a row and with
/// a bitset by setting every run into a new bitset first: for a set that many bitmaps are
/// intersected with (the rows of a scope), a few bytes more cost far less.
pub fn for_intersecting(mut rows: RoaringBitmap) -> RoaringBitmap {
    let mut many_runs: Vec<u32> = Vec::new();
    let mut runs_in = |key: u32, runs: u32| {
        if runs > MAX_INTERSECTED_RUNS {
            many_runs.push(key);
        }
    };
    let (mut key, mut runs) = (u32::MAX, 0u32);
    let mut ranges = rows.iter();
    while let Some(range) = ranges.next_range() {
        // A run across containers is a run in each.
        for of_range in range.start() >> 16..=range.end() >> 16 {
            if of_range != key {
                if key != u32::MAX {
                    runs_in(key, runs);
                }
                (key, runs) = (of_range, 0);
            }
            runs += 1;
        }
    }
    if key != u32::MAX {
        runs_in(key, runs);
    }
    // Whole containers dropped from a clone (a range of them at a time) rather than
    // rows copied one by one.
    let mut dense = rows.clone();
    let mut kept_from = 0u64;
    for &key in &many_runs {
        let start = u64::from(key) << 16;
        dense.remove_range(kept_from as u32..start as u32);
        rows.remove_range(start as u32..=(start as u32 | 0xFFFF));
        kept_from = start + (1 << 16);
    }
    if kept_from < 1 << 32 {
        dense.remove_range(kept_from as u32..);
    }
    dense.remove_run_compression();
    rows.optimize();
    rows |= &dense;
    rows
}

/// Rows a chunk holds at most in [`for_each_chunk`].
pub const ROW_CHUNK: usize = 1_024;

/// Calls `f` on every row in ascending chunks of at most [`ROW_CHUNK`] rows.
/// `Iter::next_many` reads a container's rows in one call, where `next` costs a dispatch
/// per row (a third of the time of a `has` over wishlists). In roaring 0.12.0 it skips
/// full containers (all 65,536 rows, as `insert_range` leaves them): those are found in
/// the gaps between the keys it returns and read here, in order.
pub fn for_each_chunk(rows: &RoaringBitmap, mut f: impl FnMut(&[u32])) {
    let mut buffer = [0u32; ROW_CHUNK];
    // Without 65,536 rows no container is full.
    let may_skip = rows.len() >= 1 << 16;
    let full_in = |from_key: u32, to_key: u32, f: &mut dyn FnMut(&[u32])| {
        if !may_skip || from_key >= to_key {
            return;
        }
        let (first, last) = (from_key << 16, ((to_key - 1) << 16) | 0xFFFF);
        if rows.range_cardinality(first..=last) == 0 {
            return;
        }
        for key in from_key..to_key {
            let start = key << 16;
            if rows.contains_range(start..=start | 0xFFFF) {
                let mut run = [0u32; ROW_CHUNK];
                for part in (0..1u32 << 16).step_by(ROW_CHUNK) {
                    run.iter_mut()
                        .zip(start + part..)
                        .for_each(|(slot, row)| *slot = row);
                    f(&run);
                }
            }
        }
    };
    let mut iter = rows.iter();
    // Keys below this are read.
    let mut next_key = rows.min().map_or(0, |min| min >> 16);
    loop {
        let chunk = iter.next_many(&mut buffer);
        let Some(&last) = chunk.last() else { break };
        let mut start = 0;
        let first_key = chunk[0] >> 16;
        full_in(next_key, first_key, &mut f);
        if may_skip && (last >> 16) - first_key >= 2 {
            for i in 1..chunk.len() {
                let (before, key) = (chunk[i - 1] >> 16, chunk[i] >> 16);
                if key > before + 1 {
                    f(&chunk[start..i]);
                    full_in(before + 1, key, &mut f);
                    start = i;
                }
            }
        }
        f(&chunk[start..]);
        next_key = (last >> 16) + 1;
    }
    if let Some(max) = rows.max() {
        full_in(next_key, (max >> 16) + 1, &mut f);
    }
}

/// The rows of `within` for which `keep` says yes.
pub fn filter_rows(within: &RoaringBitmap, keep: impl Fn(usize) -> bool) -> RoaringBitmap {
    let mut passing = Vec::new();
    if scattered(within) {
        // Scattered rows, each read likely a cache miss: a chunk's rows are all tested
        // before any is kept, so that no read waits on the one before. Keeping as they
        // pass puts each row's slot after the previous row's answer, and the reads of
        // the rows after it behind that answer (57 ns a row for the cut bin of a cart
        // total at 10 million customers, over a column of 24 MB).
        let mut kept_flags = [false; ROW_CHUNK];
        for_each_chunk(within, |chunk| {
            for (flag, &row) in kept_flags.iter_mut().zip(chunk) {
                *flag = keep(row as usize);
            }
            let start = passing.len();
            passing.resize(start + chunk.len(), 0);
            let mut kept = start;
            for (&row, &flag) in chunk.iter().zip(&kept_flags) {
                passing[kept] = row;
                kept += usize::from(flag);
            }
            passing.truncate(kept);
        });
        return bitmap_from_ascending(&passing);
    }
    // Rows in runs, read in order: without a branch on `keep`, every row is written and
    // the next slot moves only when it passes. A branch on a value still on its way
    // from memory mispredicts about as often as rows pass, and each miss stops the
    // reads of the rows after it.
    const CHUNK: usize = 1024;
    let mut chunk = [0u32; CHUNK];
    let mut kept = 0;
    for_each_row(within, |row| {
        chunk[kept] = row;
        kept += usize::from(keep(row as usize));
        if kept == CHUNK {
            passing.extend_from_slice(&chunk);
            kept = 0;
        }
    });
    passing.extend_from_slice(&chunk[..kept]);
    bitmap_from_ascending(&passing)
}

/// A plain bitset for building dense bitmaps fast.
pub struct Bitset {
    words: Vec<u64>,
}

impl Bitset {
    pub fn new(space: usize) -> Bitset {
        Bitset {
            words: vec![0; space.div_ceil(64)],
        }
    }

    #[inline]
    pub fn insert(&mut self, row: u32) {
        self.words[row as usize / 64] |= 1 << (row % 64);
    }

    /// Sets every row of `rows`, a word at a time.
    pub fn insert_range(&mut self, rows: std::ops::Range<u32>) {
        let (start, end) = (rows.start as usize, rows.end as usize);
        if start >= end {
            return;
        }
        let (first, last) = (start / 64, (end - 1) / 64);
        let from_start = u64::MAX << (start % 64);
        let to_end = u64::MAX >> (63 - (end - 1) % 64);
        if first == last {
            self.words[first] |= from_start & to_end;
            return;
        }
        self.words[first] |= from_start;
        self.words[first + 1..last].fill(u64::MAX);
        self.words[last] |= to_end;
    }

    /// Calls `f` with every run of set rows, ascending: a word of all rows or none is
    /// passed whole, others a run at a time.
    pub fn for_each_run(&self, mut f: impl FnMut(std::ops::Range<u32>)) {
        let mut open: Option<u32> = None;
        for (at, &word) in self.words.iter().enumerate() {
            let base = (at * 64) as u32;
            match (word, open) {
                (u64::MAX, None) => open = Some(base),
                (u64::MAX, Some(_)) | (0, None) => {}
                (0, Some(start)) => {
                    f(start..base);
                    open = None;
                }
                _ => {
                    let mut bit = 0;
                    while bit < 64 {
                        // Shifted right, the word's top bits are 0, so the ones below
                        // `bit` count at most to the word's end.
                        let rest = word >> bit;
                        match open {
                            Some(start) => {
                                bit += (!rest).trailing_zeros();
                                if bit < 64 {
                                    f(start..base + bit);
                                    open = None;
                                }
                            }
                            None if rest == 0 => break,
                            None => {
                                bit += rest.trailing_zeros();
                                open = Some(base + bit);
                            }
                        }
                    }
                }
            }
        }
        if let Some(start) = open {
            f(start..(self.words.len() * 64) as u32);
        }
    }

    /// Whether `row` is set; rows past the end (`NONE`) are not.
    #[inline]
    pub fn contains(&self, row: u32) -> bool {
        self.words
            .get(row as usize / 64)
            .is_some_and(|word| word & (1 << (row % 64)) != 0)
    }

    /// The rows of `bitmap`, a container at a time: through roaring's portable
    /// serialization (RoaringFormatSpec), which keeps a bitset container as its 1,024
    /// words, so a dense bitmap is copied rather than read row by row (3.5M orders in
    /// about a tenth of the time).
    pub fn from_bitmap(bitmap: &RoaringBitmap) -> Bitset {
        const COOKIE_WITH_RUNS: u32 = 12_347;
        const COOKIE_WITHOUT_RUNS: u32 = 12_346;
        let containers_end = bitmap.max().map_or(0, |max| (max as usize >> 16) + 1);
        let mut bits = Bitset::new(containers_end << 16);
        let mut bytes = Vec::with_capacity(bitmap.serialized_size());
        bitmap
            .serialize_into(&mut bytes)
            .expect("writing to memory");
        let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let cookie = u32_at(0);
        // The containers' count, where the bits of which are runs start, where their keys
        // and counts start.
        let (count, runs, header) = match cookie {
            COOKIE_WITHOUT_RUNS => (u32_at(4) as usize, None, 8),
            _ if cookie & 0xFFFF == COOKIE_WITH_RUNS => {
                let count = (cookie >> 16) as usize + 1;
                (count, Some(4), 4 + count.div_ceil(8))
            }
            _ => unreachable!("roaring writes one of the two cookies"),
        };
        let mut at = header + 4 * count;
        // Offsets of the containers, written unless runs are present and containers few.
        if runs.is_none() || count >= 4 {
            at += 4 * count;
        }
        for container in 0..count {
            let base = u16_at(header + 4 * container) << 16;
            let cardinality = u16_at(header + 4 * container + 2) + 1;
            let is_run =
                runs.is_some_and(|runs| bytes[runs + container / 8] & (1 << (container % 8)) != 0);
            if is_run {
                let run_count = u16_at(at);
                at += 2;
                for _ in 0..run_count {
                    let (start, length) = (base + u16_at(at), u16_at(at + 2));
                    (start..=start + length).for_each(|row| bits.insert(row as u32));
                    at += 4;
                }
            } else if cardinality <= 4_096 {
                for _ in 0..cardinality {
                    bits.insert((base + u16_at(at)) as u32);
                    at += 2;
                }
            } else {
                let words = &mut bits.words[base / 64..base / 64 + 1_024];
                for (word, chunk) in words
                    .iter_mut()
                    .zip(bytes[at..at + 8 * 1_024].chunks_exact(8))
                {
                    *word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
                }
                at += 8 * 1_024;
            }
        }
        bits
    }

    /// The bitset of these words (row `64 * i + b` is bit `b` of word `i`).
    pub fn from_words(words: Vec<u64>) -> Bitset {
        Bitset { words }
    }

    /// The set rows as a bitmap: each container's rows straight from its words (only
    /// the set bits of a sparse one visited, a dense one copied), not the bitset read
    /// byte by byte.
    pub fn into_bitmap(self) -> RoaringBitmap {
        // Every container holding a row: its key and its count of rows.
        let containers: Vec<(usize, u32)> = self
            .words
            .chunks(WORDS_PER_CONTAINER)
            .enumerate()
            .map(|(key, words)| (key, words.iter().map(|word| word.count_ones()).sum()))
            .filter(|&(_, count)| count > 0)
            .collect();
        bitmap_of_containers(&containers, |key, body| {
            let start = key * WORDS_PER_CONTAINER;
            let words = &self.words[start..(start + WORDS_PER_CONTAINER).min(self.words.len())];
            match body {
                ContainerBody::Array(bytes) => array_of_words(words, bytes),
                ContainerBody::Bits(bits) => bits[..words.len()].copy_from_slice(words),
            }
        })
    }
}

/// Writes the set bits of a container's `words` to `bytes` as its array (two bytes a row,
/// ascending). Four positions are written for every word whatever it holds, and the end
/// moves by its count: at a row or two a word (a week of birthdays among 10 million
/// customers), a loop over each word's bits mispredicts its end about once a word.
fn array_of_words(words: &[u64], bytes: &mut Vec<u8>) {
    const UNCONDITIONAL: usize = 4;
    let mut rows = [0u16; MAX_ARRAY_ROWS as usize + UNCONDITIONAL];
    let mut end = 0;
    for (at, &word) in words.iter().enumerate() {
        let base = (at * 64) as u16;
        let count = word.count_ones() as usize;
        let mut rest = word;
        // An empty word's positions are 64 past its base: written, then overwritten.
        for slot in &mut rows[end..end + UNCONDITIONAL] {
            *slot = base.wrapping_add(rest.trailing_zeros() as u16);
            rest &= rest.wrapping_sub(1);
        }
        let mut at = end + UNCONDITIONAL;
        while rest != 0 {
            rows[at] = base + rest.trailing_zeros() as u16;
            rest &= rest - 1;
            at += 1;
        }
        end += count;
    }
    bytes.extend(rows[..end].iter().flat_map(|row| row.to_le_bytes()));
}

/// Rows a container of a roaring bitmap spans, and the words of its bitset form.
const CONTAINER_ROWS: usize = 1 << 16;
const WORDS_PER_CONTAINER: usize = CONTAINER_ROWS / 64;
/// Rows up to which roaring keeps a container as a sorted array, beyond as a bitset.
const MAX_ARRAY_ROWS: u32 = 4_096;

/// Where a container's rows go: the bytes of its array (two a row, ascending), or the
/// words of its bitset (zeroed).
enum ContainerBody<'a> {
    Array(&'a mut Vec<u8>),
    Bits(&'a mut [u64; WORDS_PER_CONTAINER]),
}

/// A bitmap of `containers` (key and count of rows, keys ascending), `fill` writing
/// each one's rows: through roaring's portable serialization (RoaringFormatSpec),
/// read back without checks, which costs a copy of the rows rather than roaring's
/// insertion of each row (a branch and a bounds check a row).
fn bitmap_of_containers(
    containers: &[(usize, u32)],
    mut fill: impl FnMut(usize, ContainerBody<'_>),
) -> RoaringBitmap {
    const COOKIE_WITHOUT_RUNS: u32 = 12_346;
    let container_bytes = |count: u32| match count <= MAX_ARRAY_ROWS {
        true => 2 * count as usize,
        false => 8 * WORDS_PER_CONTAINER,
    };
    let header = 8 + 8 * containers.len();
    let body: usize = containers
        .iter()
        .map(|&(_, count)| container_bytes(count))
        .sum();
    let mut bytes = Vec::with_capacity(header + body);
    bytes.extend(COOKIE_WITHOUT_RUNS.to_le_bytes());
    bytes.extend((containers.len() as u32).to_le_bytes());
    for &(key, count) in containers {
        bytes.extend((key as u16).to_le_bytes());
        bytes.extend(((count - 1) as u16).to_le_bytes());
    }
    let mut offset = header;
    for &(_, count) in containers {
        bytes.extend((offset as u32).to_le_bytes());
        offset += container_bytes(count);
    }
    let mut bits = Box::new([0u64; WORDS_PER_CONTAINER]);
    for &(key, count) in containers {
        if count <= MAX_ARRAY_ROWS {
            let before = bytes.len();
            fill(key, ContainerBody::Array(&mut bytes));
            debug_assert_eq!(bytes.len() - before, 2 * count as usize, "container {key}");
        } else {
            bits.fill(0);
            fill(key, ContainerBody::Bits(&mut bits));
            bits.iter()
                .for_each(|word| bytes.extend(word.to_le_bytes()));
        }
    }
    RoaringBitmap::deserialize_unchecked_from(&bytes[..])
        .expect("the portable serialization written above")
}

/// The bitmap of `rows`, ascending without repeats (what `from_sorted_iter` takes), a
/// container at a time (see [`bitmap_of_containers`]).
pub fn bitmap_from_ascending(rows: &[u32]) -> RoaringBitmap {
    debug_assert!(rows.windows(2).all(|pair| pair[0] < pair[1]), "ascending");
    // Each container's key and where its rows start and end in `rows`.
    let mut spans = Vec::new();
    let mut at = 0;
    while at < rows.len() {
        let key = rows[at] >> 16;
        let end = at + rows[at..].partition_point(|&row| row >> 16 == key);
        spans.push((key as usize, at, end));
        at = end;
    }
    bitmap_of_spans(&spans, |at| rows[at] as u16)
}

/// A bitmap of containers given as spans (key, start, end) of rows whose low 16 bits
/// `low_of(at)` gives, ascending and distinct within each span.
fn bitmap_of_spans(
    spans: &[(usize, usize, usize)],
    low_of: impl Fn(usize) -> u16,
) -> RoaringBitmap {
    let containers: Vec<(usize, u32)> = spans
        .iter()
        .map(|&(key, start, end)| (key, (end - start) as u32))
        .collect();
    let mut next = spans.iter();
    bitmap_of_containers(&containers, |_, body| {
        let &(_, start, end) = next.next().expect("a container a call, in order");
        match body {
            ContainerBody::Array(bytes) => {
                (start..end).for_each(|at| bytes.extend(low_of(at).to_le_bytes()))
            }
            ContainerBody::Bits(bits) => (start..end).for_each(|at| {
                let low = low_of(at) as usize;
                bits[low / 64] |= 1 << (low % 64);
            }),
        }
    })
}

/// The bitmap of `rows` (any order, repeats allowed), for rows few against their space
/// (one in 256 or fewer): each row's low 16 bits put with its container's in one
/// counting pass (a bucket sort by the high 16 bits), then each container's sorted,
/// which is short: viewed_not_bought's 50,000 views of 22.5M in 0.1 ms instead of about
/// 0.7 for a sort of them all (a bitset of 22.5M rows costs as much: its pages zeroed).
fn bitmap_by_containers(rows: &[u32]) -> RoaringBitmap {
    let keys = rows.iter().max().map_or(0, |&max| (max >> 16) as usize + 1);
    let mut starts = vec![0usize; keys + 1];
    for &row in rows {
        starts[(row >> 16) as usize + 1] += 1;
    }
    for key in 0..keys {
        starts[key + 1] += starts[key];
    }
    let mut lows = vec![0u16; rows.len()];
    let mut next = starts.clone();
    for &row in rows {
        let slot = &mut next[(row >> 16) as usize];
        lows[*slot] = row as u16;
        *slot += 1;
    }
    // Each container's distinct rows, ascending, at the start of its slice.
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for key in 0..keys {
        let (start, end) = (starts[key], starts[key + 1]);
        if start == end {
            continue;
        }
        let of_key = &mut lows[start..end];
        of_key.sort_unstable();
        let mut distinct = 1;
        for at in 1..of_key.len() {
            if of_key[at] != of_key[distinct - 1] {
                of_key[distinct] = of_key[at];
                distinct += 1;
            }
        }
        spans.push((key, start, start + distinct));
    }
    bitmap_of_spans(&spans, |at| lows[at])
}
