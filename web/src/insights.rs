//! The insights engine: every few seconds, the detectors over the host feature rows
//! the collector wrote, and each detection stored (extending the insight it continues).
//!
//! Windows end on 10-second bucket boundaries of flow time. Each round re-runs the
//! windows ending in the last [`LOOKBACK_MS`], because flows arrive after they end
//! (exporters' active and inactive timeouts, batching): a window is evaluated again
//! as its late rows land, and re-storing a detection only extends what is stored.
//! The backtest runs the same windows over a stored range and folds detections with
//! the same rule ([`Timeline`]), so it prints what the live engine stored.

use crate::anomaly::{AnomalyConfig, AnomalyLoop};
use crate::data::Db;
use crate::models::ModelService;
use flowvision_insights::beacon::BeaconRow;
use flowvision_insights::detect::{
    self, Changes, Evidence, ExporterMinutes, NetworkSize, PairIndex, SortedRows, Thresholds,
};
use flowvision_insights::features::{HostFeatures, HostKey};
use flowvision_insights::{Insight, Timeline, BUCKET_MS};
use std::sync::Arc;
use std::time::Duration;

/// How far back each round re-evaluates windows, ms.
pub const LOOKBACK_MS: i64 = 60_000;

/// The exporters' usual rates of a window are those of the clock hour before the one
/// it ends in, ms: the same for the live rounds and a backtest, wherever their chunks
/// of windows start.
const NETWORK_HISTORY_MS: i64 = 3_600_000;

/// An exporter's previous clock hour tells its usual rate only with this many minutes in
/// it. A newer exporter (a fresh install, one just pointed at the appliance) is measured
/// on the minutes it has, up to [`FRESH_LAG_MS`] before the window: a flood in its first
/// hour is then judged against its own network, not the configured mid-size one.
const MIN_HISTORY_MINUTES: i64 = 10;

/// How far before a window a newer exporter's minutes end, ms: the minute just before
/// is still filling while flows arrive late, and a live round must read what a
/// backtest reads.
const FRESH_LAG_MS: i64 = 120_000;

/// The usual rates of the exporters, cached per clock hour, and per minute for windows
/// with an exporter too new for its previous hour.
#[derive(Default)]
struct UsualRates {
    /// Exporters with [`MIN_HISTORY_MINUTES`] in the hour before, by clock hour.
    hours: std::collections::BTreeMap<i64, NetworkSize>,
    /// Those and the newer exporters' minutes, by the minute the minutes end at.
    fresh: std::collections::BTreeMap<i64, NetworkSize>,
}

impl UsualRates {
    /// The sizes a window ending at `end` is judged against, `seen` the exporters of its rows.
    async fn at(
        &mut self,
        db: &Db,
        end: i64,
        mut seen: impl Iterator<Item = std::net::IpAddr>,
    ) -> crate::data::DataResult<&NetworkSize> {
        let hour = end.div_euclid(NETWORK_HISTORY_MS) * NETWORK_HISTORY_MS;
        if let std::collections::btree_map::Entry::Vacant(e) = self.hours.entry(hour) {
            let rates = db.engine_network_pps(hour - NETWORK_HISTORY_MS, hour).await?;
            e.insert(NetworkSize::new(
                rates.into_iter().filter(|r| r.2 >= MIN_HISTORY_MINUTES).map(|(e, pps, _)| (e, pps)),
            ));
            self.fresh.retain(|m, _| *m >= hour - NETWORK_HISTORY_MS);
        }
        let known = self.hours.entry(hour).or_default();
        if seen.all(|e| known.pps(e).is_some()) {
            return Ok(known);
        }
        let until = end.div_euclid(60_000) * 60_000 - FRESH_LAG_MS;
        Ok(match self.fresh.entry(until) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let rates = db.engine_network_pps(hour - NETWORK_HISTORY_MS, until).await?;
                let newer =
                    rates.into_iter().filter(|r| known.pps(r.0).is_none()).map(|(e, pps, _)| (e, pps));
                e.insert(NetworkSize::new(known.rates().chain(newer)))
            }
        })
    }
}

/// Time between rounds.
pub const ROUND: Duration = Duration::from_secs(5);

/// How long after its bucket a feature row may still arrive and be read by the live
/// rounds, ms: rows of the buckets this close to the round are read again each round,
/// older ones are kept from the round before. Flows arrive after they end (an inactive
/// timeout, batching, a writer's flush); a row later than this is seen by a backtest
/// but not by the live windows.
pub const SETTLING_MS: i64 = 2 * LOOKBACK_MS;

/// The feature rows and periodic contacts the windows read, kept between the chunks
/// of a backtest and between the live rounds, so a row is read once (live, the rows
/// that landed late in buckets already read are read when a round looks for them,
/// [`SETTLING_MS`]). Each chunk used to read its longest window again and each live
/// round its eleven minutes of rows, and reading was most of the detectors' cost
/// (session 20).
#[derive(Default)]
pub struct KeptRows {
    /// Rows sorted by bucket (older ones than the windows read are dropped in bulk).
    rows: Vec<(HostKey, HostFeatures)>,
    /// The transaction that wrote each row (its `xmin`), beside `rows`.
    written_by: Vec<i64>,
    /// Contacts sorted by their start.
    beacons: Vec<BeaconRow>,
    /// Rows and contacts before this were read, ms.
    read_to: Option<i64>,
    /// Windows ending at or before this were evaluated, ms.
    evaluated_to: Option<i64>,
    /// The rows' (exporter, host) pair indices, kept with them.
    pairs: PairIndex,
    /// Live rounds run so far ([`live_round`] looks for late rows every other one).
    rounds: u64,
    /// The last read's fresh rows, kept for its allocation: a new vector per read grew
    /// by reallocating, which copied the rows again (3 % of a backtest, session 26).
    fresh: Vec<(i64, HostKey, HostFeatures)>,
}

/// Rows per bucket (or contacts per start), in order.
fn counts_by<T>(items: &[T], key: impl Fn(&T) -> i64) -> Vec<(i64, usize)> {
    let mut out: Vec<(i64, usize)> = Vec::new();
    for k in items.iter().map(key) {
        match out.last_mut() {
            Some((last, n)) if *last == k => *n += 1,
            _ => out.push((k, 1)),
        }
    }
    out
}

/// The first key whose count differs between two ordered tallies.
fn first_difference(a: &[(i64, usize)], b: &[(i64, usize)]) -> Option<i64> {
    a.iter().zip(b).find(|(x, y)| x != y).map(|(x, y)| x.0.min(y.0)).or_else(|| {
        // One is a prefix of the other: the longer one's first extra key.
        a.get(b.len()).or_else(|| b.get(a.len())).map(|x| x.0)
    })
}

/// Merges `late` rows (any order) into `rows` and `written_by` (sorted by bucket, the
/// held row first of two in the same bucket), setting `placed` to the late rows'
/// positions, ascending. Returns the index of the first row that moved, or `None`
/// when there were none.
fn insert_late(
    rows: &mut Vec<(HostKey, HostFeatures)>,
    written_by: &mut Vec<i64>,
    mut late: Vec<(i64, HostKey, HostFeatures)>,
    placed: &mut Vec<usize>,
) -> Option<usize> {
    placed.clear();
    late.sort_by_key(|(_, k, _)| k.bucket_ms);
    let first = late.first()?.1.bucket_ms;
    let at = rows.partition_point(|(k, _)| k.bucket_ms < first);
    // Merged in place from the back: room at the end, then each late row (the last
    // first) moves the held rows of later buckets up once. Draining the tail and
    // pushing it back copied every held row after `at` twice (6 % of a live round).
    let end_of_held = rows.len().min(written_by.len());
    rows.truncate(end_of_held);
    written_by.truncate(end_of_held);
    rows.extend(late.iter().map(|(_, k, f)| (*k, *f)));
    written_by.extend(late.iter().map(|(x, _, _)| *x));
    let mut end = end_of_held;
    for (j, (xid, k, f)) in late.iter().enumerate().rev() {
        // A held row goes first of two in the same bucket.
        let pos =
            at + rows.get(at..end).unwrap_or_default().partition_point(|(h, _)| h.bucket_ms <= k.bucket_ms);
        // pos <= end and end + j + 1 <= the new length: both ranges are in bounds.
        rows.copy_within(pos..end, pos + j + 1);
        written_by.copy_within(pos..end, pos + j + 1);
        if let (Some(r), Some(x)) = (rows.get_mut(pos + j), written_by.get_mut(pos + j)) {
            (*r, *x) = ((*k, *f), *xid);
        }
        placed.push(pos + j);
        end = pos;
    }
    placed.reverse();
    Some(at)
}

impl KeptRows {
    /// Holds the rows of buckets in `[rows_from, to)` and the contacts started in
    /// `[beacons_from, to)`, reading what is not held and, from `settled_to` on, the
    /// rows that landed since their buckets were read. Returns the buckets whose rows
    /// and the contact starts from which the contacts are not those held before.
    ///
    /// The collector only ever inserts feature rows (one per host, bucket and batch;
    /// never updated in place), a batch in one transaction, so a bucket's rows not held
    /// are those of the transactions it holds none of in that bucket
    /// ([`Db::engine_feature_rows_not_held`]): a round reads only them. Rounds that read
    /// again every row of the buckets whose row counts had moved (session 23) spent a
    /// third of their time decoding rows they held (session 24, `insights --live`).
    async fn read(
        &mut self,
        db: &Db,
        (rows_from, beacons_from): (i64, i64),
        to: i64,
        settled_to: i64,
    ) -> crate::data::DataResult<Changes> {
        let read_to = self.read_to.unwrap_or(i64::MIN).min(to);
        let (rows, written_by, fresh) = (&mut self.rows, &mut self.written_by, &mut self.fresh);
        // Rows before `rows_from` no window reads any more; they are dropped once they
        // are half of what is held, since dropping moves every row after them (and
        // re-indexes their pairs): a round dropping its five oldest seconds moved six
        // minutes of half-kilobyte rows.
        let mut unchanged = rows.len();
        let old = rows.partition_point(|(k, _)| k.bucket_ms < rows_from);
        if old > 0 && old >= rows.len() / 2 {
            rows.drain(..old);
            written_by.drain(..old.min(written_by.len()));
            unchanged = 0;
        }
        let mut changed = Changes::none();
        // Held buckets that may have changed: [recheck_from, read_to).
        let recheck_from = read_to.min(settled_to).max(rows_from);
        if recheck_from < read_to {
            let lo = rows.partition_point(|(k, _)| k.bucket_ms < recheck_from);
            // Bucket by bucket (the rows are sorted by it, so a bucket's end is a binary
            // search), its transactions from the compact `written_by`, runs dropped as
            // they are met: reading every held row's bucket cost a cache miss per
            // half-kilobyte row, 5-6 % of a live round (session 29).
            let mut held: Vec<(i64, i64)> = Vec::new();
            let mut at = lo;
            while let Some((k, _)) = rows.get(at) {
                let bucket = k.bucket_ms;
                let end =
                    at + rows.get(at..).unwrap_or_default().partition_point(|(k, _)| k.bucket_ms <= bucket);
                for &xid in written_by.get(at..end).unwrap_or_default() {
                    if held.last() != Some(&(bucket, xid)) {
                        held.push((bucket, xid));
                    }
                }
                // `rows[at]` is of `bucket`: the end is past it.
                at = end.max(at + 1);
            }
            held.sort_unstable();
            held.dedup();
            let mut late = Vec::new();
            db.engine_feature_rows_not_held(recheck_from, read_to, &held, &mut late).await?;
            let mut placed = Vec::new();
            if let Some(at) = insert_late(rows, written_by, late, &mut placed) {
                changed.buckets =
                    placed.iter().filter_map(|&i| rows.get(i)).map(|(k, _)| k.bucket_ms).collect();
                changed.buckets.dedup();
                if unchanged > 0 && self.pairs.len() + placed.len() == rows.len() {
                    // The held rows were all indexed: the index follows them.
                    self.pairs.insert(rows, &placed);
                    unchanged = rows.len();
                } else {
                    unchanged = unchanged.min(at);
                }
            }
        }
        // Buckets not read yet.
        let fresh_from = read_to.max(rows_from);
        if fresh_from < to {
            fresh.clear();
            db.engine_feature_rows_not_held(fresh_from, to, &[], fresh).await?;
            // After the kept rows, which are all of earlier buckets, in bucket order:
            // their indices sorted, and each half-kilobyte row copied once (sorting the
            // rows themselves moved each a dozen times, the live round's largest copying
            // in session 25).
            let mut order: Vec<usize> = (0..fresh.len()).collect();
            order.sort_by_key(|&i| fresh.get(i).map_or(i64::MAX, |(_, k, _)| k.bucket_ms));
            if let Some((_, k, _)) = order.first().and_then(|&i| fresh.get(i)) {
                changed.rows_from = k.bucket_ms;
            }
            rows.reserve(fresh.len());
            written_by.reserve(fresh.len());
            for (xid, k, f) in order.into_iter().filter_map(|i| fresh.get(i)) {
                rows.push((*k, *f));
                written_by.push(*xid);
            }
        }
        self.pairs.update(rows, unchanged);

        // Contacts are few: those that may have changed are read again, and compared.
        let beacons = &mut self.beacons;
        let recheck_from = read_to.min(settled_to).max(beacons_from);
        let before = counts_by(
            beacons.get(beacons.partition_point(|b| b.start_ms < recheck_from)..).unwrap_or_default(),
            |b| b.start_ms,
        );
        beacons.truncate(beacons.partition_point(|b| b.start_ms < recheck_from));
        beacons.drain(..beacons.partition_point(|b| b.start_ms < beacons_from));
        let fresh = db.engine_beacon_rows(recheck_from, to).await?;
        if let Some(at) = first_difference(&before, &counts_by(&fresh, |b| b.start_ms)) {
            changed.beacons_from = at;
        }
        beacons.extend(fresh);
        self.read_to = Some(to);
        Ok(changed)
    }
}

/// The detections of every window ending on a bucket boundary in `(from_ms, to_ms]`,
/// folded into insights.
pub async fn detect_range(
    db: &Db,
    t: &Thresholds,
    from_ms: i64,
    to_ms: i64,
) -> crate::data::DataResult<Vec<Insight>> {
    detect_windows(db, t, (from_ms, to_ms), &mut KeptRows::default(), i64::MAX).await
}

/// One live round at `now_ms`: the windows ending in the last [`LOOKBACK_MS`], reading
/// from the store only the rows `kept` does not hold or that may still change
/// ([`SETTLING_MS`]). What [`detect_range`] over the same range finds, for rows that
/// arrive within [`SETTLING_MS`] of their bucket.
///
/// Rows that landed in buckets already read are looked for every other round (the
/// second, the fourth, ...), reaching one round further back so that no bucket leaves
/// the settling time unchecked after it last changed; the rounds between read only
/// the buckets not read yet and evaluate only the windows ending there. A window's
/// late rows (the exporters' inactive timeouts put them 15-30 s after their bucket)
/// had it evaluated again nearly every round, which cost 2.6 times a backtest at 300
/// flows/s (session 24); what they reveal is now found at most one round later.
pub async fn live_round(
    db: &Db,
    t: &Thresholds,
    kept: &mut KeptRows,
    now_ms: i64,
) -> crate::data::DataResult<Vec<Insight>> {
    let latest = now_ms.div_euclid(BUCKET_MS) * BUCKET_MS;
    kept.rounds = kept.rounds.wrapping_add(1);
    let round_ms = i64::try_from(ROUND.as_millis()).unwrap_or(i64::MAX);
    let settled_to = if kept.rounds % 2 == 0 { latest - SETTLING_MS - round_ms } else { i64::MAX };
    detect_windows(db, t, (latest - LOOKBACK_MS, latest), kept, settled_to).await
}

/// [`detect_range`] with the rows held in `kept`, rows of buckets from `settled_to` on
/// read again.
async fn detect_windows(
    db: &Db,
    t: &Thresholds,
    (from_ms, to_ms): (i64, i64),
    kept: &mut KeptRows,
    settled_to: i64,
) -> crate::data::DataResult<Vec<Insight>> {
    let longest = t.longest_window_ms();
    let mut timeline = Timeline::default();
    let mut usual = UsualRates::default();
    // A chunk of windows per query, so a long backtest never holds days of rows.
    const CHUNK_MS: i64 = 600_000;
    let first_end = (from_ms.div_euclid(BUCKET_MS) + 1) * BUCKET_MS;
    let mut chunk_start = first_end;
    while chunk_start <= to_ms {
        let chunk_end = (chunk_start + CHUNK_MS - BUCKET_MS).min(to_ms);
        let beacons_from = chunk_start - t.beacon_window_secs.max(1) * 1000;
        let changes = kept.read(db, (chunk_start - longest, beacons_from), chunk_end, settled_to).await?;
        // A window is evaluated when it is new, or when it holds a bucket (or a
        // contact start) whose rows changed since it was: the same rows give the same
        // detections, which are stored already (and then only the rules whose span
        // holds the change run, [`Evidence::changed`]). A live round re-evaluates the
        // last minute's windows only as their late rows land.
        let evaluated_to = kept.evaluated_to.unwrap_or(i64::MIN);
        let changed_from = changes.earliest();
        let due = |end: i64| end > evaluated_to || end > changed_from;
        let (rows, beacons) = (SortedRows::indexed_by(&kept.rows, &kept.pairs), &kept.beacons);
        // The daily band's minutes, only when a window of the chunk is checked.
        let step = t.traffic_step_secs.max(10) * 1000;
        let first_check = (chunk_start - 1).div_euclid(step) * step + step;
        let checked = (first_check..=chunk_end).step_by(usize::try_from(step).unwrap_or(usize::MAX));
        let traffic = if checked.clone().any(due) {
            let ranges = ExporterMinutes::ranges(chunk_start, chunk_end, t);
            let mut minutes = ExporterMinutes::new(db.engine_exporter_minutes(&ranges).await?)
                .with_interfaces(db.engine_interface_minutes(&ranges).await?);
            // Each checked window's busiest hosts (a rise one host carries is a transfer).
            for check in checked.filter(|&c| due(c)) {
                if let Some((from, to)) = ExporterMinutes::window(check, t) {
                    minutes = minutes.with_busiest_hosts(
                        to,
                        db.engine_busiest_hosts(from, to, t.traffic_max_hosts).await?,
                    );
                }
            }
            minutes
        } else {
            ExporterMinutes::default()
        };
        // Each window reads only its own rows (a chunk holds sixty windows' worth).
        let mut end = chunk_start;
        while end <= chunk_end {
            if !due(end) {
                end += BUCKET_MS;
                continue;
            }
            let hosts = rows.window(end - longest, end);
            // The floors are the flood rules', read over the flood window's rows only.
            let flood = hosts.window(end - t.flood_window_secs.max(1) * 1000, end);
            let network = usual.at(db, end, flood.rows().iter().map(|(k, _)| k.exporter)).await?;
            let changed = (end <= evaluated_to).then_some(&changes);
            let ev = Evidence { hosts, beacons, network, traffic: &traffic, changed };
            for i in detect::run(&ev, end, t) {
                timeline.absorb(i);
            }
            end += BUCKET_MS;
        }
        kept.evaluated_to = Some(evaluated_to.max(chunk_end));
        chunk_start = end;
    }
    Ok(timeline.into_insights())
}

/// Runs forever: a round every [`ROUND`], storing what it finds (the rules' and the
/// host anomaly model's, [`crate::anomaly`]). Errors are logged and the next round
/// tries again.
pub async fn run(db: Db, t: Thresholds, models: Arc<ModelService>, anomaly: AnomalyConfig) {
    let mut model_loop = AnomalyLoop::default();
    let mut kept = KeptRows::default();
    loop {
        let now_ms = crate::data::insights::unix_ms(time::OffsetDateTime::now_utc());
        match live_round(&db, &t, &mut kept, now_ms).await {
            Ok(found) => {
                for i in &found {
                    if let Err(e) = db.engine_record(i).await {
                        log::warn!("insights: storing a {} detection: {e}", i.kind.as_str());
                    }
                }
            }
            Err(e) => log::warn!("insights: reading host features: {e}"),
        }
        match model_loop.round(&db, &models, &anomaly, now_ms).await {
            Ok(found) => {
                for i in &found {
                    if let Err(e) = db.engine_record(i).await {
                        log::warn!("insights: storing a host_anomaly detection: {e}");
                    }
                }
            }
            Err(e) => log::warn!("insights: host anomaly model: {e}"),
        }
        rocket::tokio::time::sleep(ROUND).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::{counts_by, first_difference, insert_late};
    use flowvision_insights::detect::{PairIndex, RowSums, SortedRows};
    use flowvision_insights::features::{HostFeatures, HostKey};

    /// A row of `host` (its exporter and address), its flows out the host's number so
    /// that rows differ in their sums too.
    fn row(bucket_ms: i64, host: u8) -> (HostKey, HostFeatures) {
        let addr = std::net::IpAddr::from([10, 0, 0, host]);
        let mut f = HostFeatures::default();
        f.counters.flows_out = i64::from(host);
        (HostKey { bucket_ms, exporter: addr, host: addr }, f)
    }

    #[test]
    fn late_rows_go_after_the_held_rows_of_their_bucket() {
        let mut rows = vec![row(0, 1), row(10, 2), row(10, 3), row(20, 4)];
        let mut written_by = vec![100, 100, 101, 102];
        let late = vec![
            (201, row(10, 9).0, row(10, 9).1),
            (200, row(5, 8).0, row(5, 8).1),
            (202, row(30, 7).0, row(30, 7).1),
        ];
        let mut placed = Vec::new();
        assert_eq!(
            insert_late(&mut rows, &mut written_by, late, &mut placed),
            Some(1),
            "the first row moved"
        );
        assert_eq!(placed, [1, 4, 6], "where the late rows went");
        let order: Vec<(i64, u8)> = rows
            .iter()
            .map(|(k, _)| {
                (
                    k.bucket_ms,
                    match k.host {
                        std::net::IpAddr::V4(a) => a.octets()[3],
                        std::net::IpAddr::V6(_) => 0,
                    },
                )
            })
            .collect();
        assert_eq!(order, vec![(0, 1), (5, 8), (10, 2), (10, 3), (10, 9), (20, 4), (30, 7)]);
        assert_eq!(written_by, vec![100, 200, 100, 101, 201, 102, 202], "each row keeps its writer");
        assert_eq!(insert_late(&mut rows, &mut written_by, Vec::new(), &mut placed), None);
        assert!(placed.is_empty());
        assert_eq!(rows.len(), 7);
    }

    /// Late rows merge as a stable sort by bucket would, and the pair index kept with
    /// the held rows follows them: each row's pair is its own (exporter, host), its
    /// sums its own, as an index made anew gives.
    #[test]
    fn late_rows_merge_as_a_stable_sort_would() {
        // Held rows (sorted) and late rows (any order) of a few buckets, many shapes.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for _ in 0..500 {
            let mut held: Vec<(i64, u8)> = (0..next(12)).map(|i| (next(6) as i64 * 10, i as u8)).collect();
            held.sort_by_key(|(b, _)| *b);
            let late: Vec<(i64, u8)> = (0..next(6)).map(|i| (next(6) as i64 * 10, 100 + i as u8)).collect();
            let mut rows: Vec<_> = held.iter().map(|&(b, h)| row(b, h)).collect();
            let mut written_by: Vec<i64> = held.iter().map(|&(_, h)| i64::from(h)).collect();
            let late_rows = late.iter().map(|&(b, h)| (i64::from(h), row(b, h).0, row(b, h).1)).collect();
            let mut index = PairIndex::default();
            index.update(&rows, 0);
            let mut placed = Vec::new();
            insert_late(&mut rows, &mut written_by, late_rows, &mut placed);
            index.insert(&rows, &placed);
            assert_eq!(index.len(), rows.len());
            let sorted = SortedRows::indexed_by(&rows, &index);
            let mut pair_of: std::collections::HashMap<usize, std::net::IpAddr> = Default::default();
            for ((p, sums), (q, (k, f))) in sorted.summed().zip(sorted.indexed()) {
                assert_eq!((p, *sums), (q, RowSums::of(&f.counters)), "a row's sums are its own");
                assert_eq!(*pair_of.entry(p).or_insert(k.host), k.host, "pair {p} is one host's");
            }
            let hosts: std::collections::HashSet<_> = rows.iter().map(|(k, _)| k.host).collect();
            assert_eq!(pair_of.len(), hosts.len(), "one pair per host");
            // The reference: held rows then late rows, stably sorted by bucket.
            let mut want: Vec<(i64, u8)> = held.iter().chain(late.iter()).copied().collect();
            want.sort_by_key(|(b, _)| *b);
            let got: Vec<(i64, u8)> = rows
                .iter()
                .zip(&written_by)
                .map(|((k, _), x)| {
                    let h = match k.host {
                        std::net::IpAddr::V4(a) => a.octets()[3],
                        std::net::IpAddr::V6(_) => 0,
                    };
                    assert_eq!(i64::from(h), *x, "a row keeps its writer");
                    (k.bucket_ms, h)
                })
                .collect();
            assert_eq!(got, want, "held {held:?} late {late:?}");
        }
    }

    #[test]
    fn the_first_changed_bucket_is_where_the_counts_first_differ() {
        let held = counts_by(&[10, 10, 20, 30, 30, 30], |b| *b);
        assert_eq!(held, vec![(10, 2), (20, 1), (30, 3)]);
        assert_eq!(first_difference(&held, &held), None, "same rows");
        // A late row in bucket 20.
        assert_eq!(first_difference(&held, &[(10, 2), (20, 2), (30, 3)]), Some(20));
        // Bucket 20 had no rows before and has now.
        assert_eq!(first_difference(&[(10, 2), (30, 3)], &[(10, 2), (20, 1), (30, 3)]), Some(20));
        // A new bucket after the held ones, and every row of bucket 30 gone.
        assert_eq!(first_difference(&held, &[(10, 2), (20, 1), (30, 3), (40, 1)]), Some(40));
        assert_eq!(first_difference(&held, &[(10, 2), (20, 1)]), Some(30));
        assert_eq!(first_difference(&[], &held), Some(10));
    }
}
