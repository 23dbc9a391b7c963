//! A window of feature rows merged per host.

use crate::features::{merge_by, Counters, HostFeatures, HostKey};
use flowvision_codec::hash::FxHashMap;
use std::net::IpAddr;

/// One host's features merged over a window, as one exporter saw them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostWindow {
    /// Window start, Unix ms.
    pub from_ms: i64,
    /// Window end, Unix ms (exclusive).
    pub to_ms: i64,
    /// The exporter.
    pub exporter: IpAddr,
    /// The host.
    pub host: IpAddr,
    /// The merged features.
    pub features: HostFeatures,
}

impl HostWindow {
    /// The window's length in seconds (at least 1).
    pub fn secs(&self) -> f64 {
        ((self.to_ms - self.from_ms) as f64 / 1000.0).max(1.0)
    }

    /// `v` per second over the window.
    pub fn per_s(&self, v: i64) -> f64 {
        v as f64 / self.secs()
    }
}

/// Merges the rows whose bucket lies in `[from_ms, to_ms)` per (exporter, host), in
/// address order (so detectors see hosts in a stable order), by address
/// ([`merge_by`]); [`SortedRows::merge_pairs`] does the same by pair index.
pub fn merge<'a>(
    rows: impl IntoIterator<Item = &'a (HostKey, HostFeatures)>,
    from_ms: i64,
    to_ms: i64,
) -> Vec<HostWindow> {
    let in_window =
        |k: &HostKey| (k.bucket_ms >= from_ms && k.bucket_ms < to_ms).then_some((k.exporter, k.host));
    merge_by(rows, in_window)
        .into_iter()
        .map(|((exporter, host), features)| HostWindow { from_ms, to_ms, exporter, host, features })
        .collect()
}

/// Feature rows sorted by bucket, as the windows read them: a window is a slice of
/// them found by two binary searches. The order is checked (and made) once, where the
/// rows are read, not in every window: checking every window's rows again touched
/// each half-kilobyte row of the longest window once per window.
///
/// Each row also carries the index of its (exporter, host) pair among the rows, given
/// once when they are sorted ([`PairIndex`]), so a window sums a counter per host in
/// an array: hashing two addresses for every row of every window was, after reading
/// the rows, the detectors' largest cost (profile of the evaluation, session 22).
#[derive(Debug, Clone, Copy, Default)]
pub struct SortedRows<'a> {
    rows: &'a [(HostKey, HostFeatures)],
    /// The pair index of each row, `rows`' length.
    pair_of_row: &'a [u32],
    /// The counters the rules sum over every row of a window, `rows`' length.
    sums: &'a [RowSums],
    /// How many pairs the rows hold (indices are below it).
    pairs: usize,
    /// Each pair's exporter, by pair index.
    exporters: &'a [IpAddr],
}

/// The pair indices of sorted rows, kept from one read of rows to the next: rows that
/// stayed where they were keep their indices, and only the rows read since are hashed
/// (a live round every 5 s indexing its six minutes of rows again was a third of the
/// live engine's cost, session 23).
#[derive(Debug, Default)]
pub struct PairIndex {
    pair_of_row: Vec<u32>,
    sums: Vec<RowSums>,
    /// Every pair indexed since the index was last started over.
    pairs: FxHashMap<(IpAddr, IpAddr), u32>,
    /// Each pair's exporter, by pair index: a rule whose floors differ by exporter
    /// rules out a pair from its sums without reading its rows.
    exporters: Vec<IpAddr>,
}

impl PairIndex {
    /// Indexes `rows`, whose first `unchanged` rows are the rows indexed before, in the
    /// same places: they keep their pairs' indices, the others get theirs, a new pair
    /// the next free one. With `unchanged` 0 the index starts over, forgetting pairs no
    /// row holds any more (the caller does so when it drops old rows from the front,
    /// which moves every row).
    pub fn update(&mut self, rows: &[(HostKey, HostFeatures)], unchanged: usize) {
        if unchanged == 0 {
            self.pairs.clear();
            self.exporters.clear();
        }
        self.pair_of_row.truncate(unchanged.min(rows.len()));
        self.sums.truncate(self.pair_of_row.len());
        for (k, f) in rows.get(self.pair_of_row.len()..).unwrap_or_default() {
            let pair = self.pair(k);
            self.pair_of_row.push(pair);
            self.sums.push(RowSums::of(&f.counters));
        }
    }

    /// The index of `k`'s pair, the next free one when the pair is new.
    fn pair(&mut self, k: &HostKey) -> u32 {
        let next = u32::try_from(self.pairs.len()).unwrap_or(u32::MAX);
        let exporters = &mut self.exporters;
        *self.pairs.entry((k.exporter, k.host)).or_insert_with(|| {
            exporters.push(k.exporter);
            next
        })
    }

    /// Follows rows inserted among those indexed: `rows` are the indexed rows with new
    /// ones placed at `inserted` (ascending positions in `rows`), the indexed rows in
    /// their old order. The rows that moved keep their pairs and sums; only the
    /// inserted rows (and any past the indexed ones) are looked up. A live round's
    /// late rows land 15-30 s back: indexing every row after the first of them anew
    /// looked up three times the round's fresh rows (14 % of a live round, session 28).
    pub fn insert(&mut self, rows: &[(HostKey, HostFeatures)], inserted: &[usize]) {
        let Some(&first) = inserted.first() else { return };
        let first = first.min(self.pair_of_row.len()).min(self.sums.len());
        let moved_pairs = self.pair_of_row.split_off(first);
        let moved_sums = self.sums.split_off(first);
        let mut moved = moved_pairs.into_iter().zip(moved_sums);
        let mut inserted = inserted.iter().copied().peekable();
        for (i, (k, f)) in rows.iter().enumerate().skip(first) {
            let kept = if inserted.next_if_eq(&i).is_some() { None } else { moved.next() };
            let (pair, sums) = match kept {
                Some(kept) => kept,
                None => (self.pair(k), RowSums::of(&f.counters)),
            };
            self.pair_of_row.push(pair);
            self.sums.push(sums);
        }
    }

    /// How many rows are indexed.
    pub fn len(&self) -> usize {
        self.pair_of_row.len()
    }

    /// Whether no row is indexed.
    pub fn is_empty(&self) -> bool {
        self.pair_of_row.is_empty()
    }
}

impl<'a> SortedRows<'a> {
    /// `rows`, sorted by bucket first if they are not, their pairs indexed in `index`
    /// anew.
    pub fn sort(rows: &'a mut [(HostKey, HostFeatures)], index: &'a mut PairIndex) -> Self {
        if !rows.windows(2).all(|w| matches!(w, [a, b] if a.0.bucket_ms <= b.0.bucket_ms)) {
            rows.sort_unstable_by_key(|(k, _)| k.bucket_ms);
        }
        index.update(rows, 0);
        SortedRows::indexed_by(rows, index)
    }

    /// `rows`, already sorted by bucket, whose pairs `index` holds
    /// ([`PairIndex::update`] with these rows).
    pub fn indexed_by(rows: &'a [(HostKey, HostFeatures)], index: &'a PairIndex) -> Self {
        debug_assert!(rows.windows(2).all(|w| matches!(w, [a, b] if a.0.bucket_ms <= b.0.bucket_ms)));
        let n = rows.len().min(index.pair_of_row.len()).min(index.sums.len());
        SortedRows {
            rows: rows.get(..n).unwrap_or_default(),
            pair_of_row: index.pair_of_row.get(..n).unwrap_or_default(),
            sums: index.sums.get(..n).unwrap_or_default(),
            pairs: index.pairs.len(),
            exporters: &index.exporters,
        }
    }

    /// The rows whose bucket lies in `[from_ms, to_ms)`.
    pub fn window(self, from_ms: i64, to_ms: i64) -> Self {
        let lo = self.rows.partition_point(|(k, _)| k.bucket_ms < from_ms);
        let hi = self.rows.partition_point(|(k, _)| k.bucket_ms < to_ms).max(lo);
        SortedRows {
            rows: self.rows.get(lo..hi).unwrap_or_default(),
            pair_of_row: self.pair_of_row.get(lo..hi).unwrap_or_default(),
            sums: self.sums.get(lo..hi).unwrap_or_default(),
            pairs: self.pairs,
            exporters: self.exporters,
        }
    }

    /// The rows.
    pub fn rows(self) -> &'a [(HostKey, HostFeatures)] {
        self.rows
    }

    /// How many (exporter, host) pairs the rows this came from hold: the length of an
    /// array indexed by [`SortedRows::indexed`]'s pairs.
    pub fn pairs(self) -> usize {
        self.pairs
    }

    /// The exporter of pair `p`, when `p` is one of the rows' pairs.
    pub fn exporter_of(self, p: usize) -> Option<IpAddr> {
        self.exporters.get(p).copied()
    }

    /// Each row with the index of its pair.
    pub fn indexed(self) -> impl Iterator<Item = (usize, &'a (HostKey, HostFeatures))> {
        self.pair_of_row.iter().map(|&p| p as usize).zip(self.rows)
    }

    /// Each row's pair index with its [`RowSums`]: what a rule sums over every row of a
    /// window, read from a compact array rather than the rows.
    pub fn summed(self) -> impl Iterator<Item = (usize, &'a RowSums)> {
        self.pair_of_row.iter().map(|&p| p as usize).zip(self.sums)
    }

    /// `add` summed over each pair's rows, for the pairs these rows hold (in the order
    /// of their first rows): what a rule sums per host of a short window before it
    /// merges the few that could reach a threshold. An array over every pair of the
    /// index, whose rows reach back over the longest window (about 30,000 pairs where
    /// a flood window holds 1,000 rows, seed 108 at 300 flows/s), cost more to clear
    /// and scan than the window's rows; a long window holds most pairs, and an array
    /// indexed by pair is the cheaper sum there (session 29).
    pub fn sum_by_pair<T: Default>(self, mut add: impl FnMut(&mut T, &RowSums)) -> Vec<(usize, T)> {
        let mut slot = vec![u32::MAX; self.pairs];
        let mut sums: Vec<(usize, T)> = Vec::new();
        for (p, s) in self.summed() {
            let Some(at) = slot.get_mut(p) else { continue };
            if *at == u32::MAX {
                *at = u32::try_from(sums.len()).unwrap_or(u32::MAX);
                sums.push((p, T::default()));
            }
            if let Some((_, sum)) = sums.get_mut(*at as usize) {
                add(sum, s);
            }
        }
        sums
    }

    /// The pairs `chosen`, as a flag per pair of the index ([`SortedRows::merge_where`]'s
    /// `keep` reads them).
    pub fn choose(self, chosen: impl IntoIterator<Item = usize>) -> Vec<bool> {
        let mut flags = vec![false; self.pairs];
        for p in chosen {
            if let Some(f) = flags.get_mut(p) {
                *f = true;
            }
        }
        flags
    }

    /// What [`merge`] makes of these rows, for the pairs `keep` accepts, each window with
    /// its pair index.
    pub fn merge_pairs(
        self,
        from_ms: i64,
        to_ms: i64,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(usize, HostWindow)> {
        let mut slot = vec![u32::MAX; self.pairs];
        let mut merged: Vec<(usize, HostKey, HostFeatures)> = Vec::new();
        // The pairs first, from their compact array: a row is touched only when its
        // host is kept (reading every row's key to check its bucket cost a cache miss
        // per row, and callers mostly keep a few hosts of a window's rows).
        for (p, (k, f)) in
            self.pair_of_row.iter().map(|&p| p as usize).zip(self.rows).filter(|(p, _)| keep(*p))
        {
            if k.bucket_ms < from_ms || k.bucket_ms >= to_ms {
                continue;
            }
            let Some(s) = slot.get_mut(p) else { continue };
            match merged.get_mut(*s as usize) {
                Some((_, _, m)) => m.merge(f),
                None => {
                    *s = u32::try_from(merged.len()).unwrap_or(u32::MAX);
                    merged.push((p, *k, *f));
                }
            }
        }
        merged.sort_unstable_by_key(|(_, k, _)| (k.exporter, k.host));
        merged
            .into_iter()
            .map(|(p, k, features)| {
                (p, HostWindow { from_ms, to_ms, exporter: k.exporter, host: k.host, features })
            })
            .collect()
    }

    /// What [`merge`] makes of these rows, for the pairs `keep` accepts.
    pub fn merge_where(self, from_ms: i64, to_ms: i64, keep: impl Fn(usize) -> bool) -> Vec<HostWindow> {
        self.merge_pairs(from_ms, to_ms, keep).into_iter().map(|(_, w)| w).collect()
    }
}

/// The counters the rules sum over every row of a window before they merge the few
/// hosts that could reach a threshold (floods, scans, exfiltration), kept beside the
/// pair index: summed from the half-kilobyte rows, they cost a cache miss or two per
/// row and window, and those passes were most of the detectors' work in a live round
/// (profile of `insights --live`, session 24).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowSums {
    /// [`Counters::packets_in`].
    pub packets_in: i64,
    /// [`Counters::packets_out`].
    pub packets_out: i64,
    /// [`Counters::flows_out`].
    pub flows_out: i64,
    /// [`Counters::probe_flows_out`].
    pub probe_flows_out: i64,
    /// [`Counters::probe_records_out`].
    pub probe_records_out: i64,
    /// [`Counters::bytes_out_external`].
    pub bytes_out_external: i64,
    /// [`Counters::bytes_in_external`].
    pub bytes_in_external: i64,
}

impl RowSums {
    /// A row's.
    pub fn of(c: &Counters) -> RowSums {
        RowSums {
            packets_in: c.packets_in,
            packets_out: c.packets_out,
            flows_out: c.flows_out,
            probe_flows_out: c.probe_flows_out,
            probe_records_out: c.probe_records_out,
            bytes_out_external: c.bytes_out_external,
            bytes_in_external: c.bytes_in_external,
        }
    }
}
