//! The host anomaly model's life in the console: trained on this appliance's own host
//! feature rows, retrained on a schedule, each version kept in PostgreSQL, and every
//! minute of every host that appears in the feature rows scored once its rows have
//! landed. A minute over the model's threshold becomes a `host_anomaly` insight naming
//! the host and the features that carry the error.
//!
//! Training samples minutes spread evenly over the history (the last
//! [`AnomalyConfig::history`]) so that day and night, weekdays and weekends are all in
//! it, and stops at [`AnomalyConfig::max_samples`] host-minutes. Without enough
//! history (a fresh appliance) there is no model and the rules work alone; the
//! insights page says so.

use crate::data::insights::unix_ms;
use crate::data::Db;
use crate::models::ModelService;
use flowvision_insights::activity::{activity_vector, is_outbound, is_significant, minutes, MINUTE_MS};
use flowvision_insights::detect::{grade, Kind, Observation, Why};
use flowvision_insights::features::InternalNetworks;
use flowvision_insights::Insight;
use flowvision_models::anomaly::{AnomalyTrainOptions, KIND, MIN_SAMPLES};
use flowvision_models::HostAnomalyModel;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// When and on what the model is trained and how its findings are reported.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyConfig {
    /// Retrain after this long (`INSIGHT_RETRAIN_HOURS` [24]).
    pub retrain_ms: i64,
    /// History the training minutes are drawn from [7 days].
    pub history_ms: i64,
    /// Minutes drawn from the history [240].
    pub sample_minutes: i64,
    /// Host-minutes trained on at most [50,000].
    pub max_samples: usize,
    /// A minute is scored this long after it ends, once late rows have landed [60 s].
    pub lag_ms: i64,
    /// Insights reported per minute at most, the highest scores [5].
    pub max_per_minute: usize,
    /// Training epochs [400].
    pub epochs: usize,
    /// The operator's own hosts (`INTERNAL_NETWORKS` [private and shared ranges], as the
    /// collector reads it): the only ones trained on and scored. An outside host is seen
    /// only in what it exchanges with this network, and its minutes are not the
    /// operator's to act on: the outside servers of two speed tests were most of the
    /// model's false positives in a held-out week (session 24), while every minute it
    /// found of an attack was an internal victim's. Outside attackers are the rules'.
    pub hosts: InternalNetworks,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            retrain_ms: 24 * 3_600_000,
            history_ms: 7 * 86_400_000,
            sample_minutes: 240,
            max_samples: 50_000,
            lag_ms: 60_000,
            max_per_minute: 5,
            epochs: 400,
            hosts: InternalNetworks::default(),
        }
    }
}

/// What the engine remembers between rounds.
#[derive(Debug)]
pub struct AnomalyLoop {
    loaded: bool,
    /// When the model in use was trained, Unix ms (`i64::MIN`: none yet); written by
    /// the training task.
    trained_at_ms: Arc<AtomicI64>,
    last_attempt_ms: Option<i64>,
    last_scored_minute: Option<i64>,
    training: Option<rocket::tokio::task::JoinHandle<()>>,
}

impl Default for AnomalyLoop {
    fn default() -> Self {
        AnomalyLoop {
            loaded: false,
            trained_at_ms: Arc::new(AtomicI64::new(i64::MIN)),
            last_attempt_ms: None,
            last_scored_minute: None,
            training: None,
        }
    }
}

/// How long to wait before trying again when there was too little history.
const RETRY_MS: i64 = 600_000;
/// Minutes scored per round at most (catching up after a pause).
const CATCH_UP_MINUTES: i64 = 5;

impl AnomalyLoop {
    /// One round at `now_ms`: load the stored model at the first round, start a
    /// training task when one is due (training runs beside the rounds, so the rules'
    /// detections are never held up by it), then score the minutes that became ready
    /// with the model in use. Returns the insights found.
    pub async fn round(
        &mut self,
        db: &Db,
        models: &Arc<ModelService>,
        cfg: &AnomalyConfig,
        now_ms: i64,
    ) -> Result<Vec<Insight>, String> {
        if !self.loaded {
            self.loaded = true;
            self.load(db, models).await?;
        }
        let trained = self.trained_at_ms.load(Ordering::Relaxed);
        let due = trained == i64::MIN || now_ms - trained >= cfg.retrain_ms;
        let may_try = match self.last_attempt_ms {
            Some(a) => now_ms - a >= RETRY_MS,
            None => true,
        };
        let idle = match &self.training {
            Some(t) => t.is_finished(),
            None => true,
        };
        if due && may_try && idle {
            self.last_attempt_ms = Some(now_ms);
            let (db, models, cfg) = (db.clone(), Arc::clone(models), cfg.clone());
            let trained_at = Arc::clone(&self.trained_at_ms);
            self.training = Some(rocket::tokio::spawn(async move {
                match train(&db, &models, &cfg, now_ms).await {
                    Ok(Some(_)) => trained_at.store(now_ms, Ordering::Relaxed),
                    Ok(None) => {}
                    Err(e) => models.note_anomaly(format!("training failed: {e}")),
                }
            }));
        }
        let ready = (now_ms - cfg.lag_ms).div_euclid(MINUTE_MS) * MINUTE_MS - MINUTE_MS;
        let first = match self.last_scored_minute {
            Some(m) => (m + MINUTE_MS).max(ready - (CATCH_UP_MINUTES - 1) * MINUTE_MS),
            None => ready,
        };
        let mut found = Vec::new();
        let mut minute = first;
        while minute <= ready {
            found.extend(score_minute(db, models, cfg, minute).await?);
            self.last_scored_minute = Some(minute);
            minute += MINUTE_MS;
        }
        Ok(found)
    }

    /// Waits for a training task started by [`AnomalyLoop::round`] to end.
    pub async fn wait_for_training(&mut self) {
        if let Some(t) = self.training.take() {
            let _ = t.await;
        }
    }

    /// Puts the newest stored version in use; a stored model that does not load is
    /// reported and a new one trained.
    async fn load(&mut self, db: &Db, models: &ModelService) -> Result<(), String> {
        let Some(stored) = db.engine_latest_model(KIND).await.map_err(|e| e.to_string())? else {
            return Ok(());
        };
        let what = format!("insight_models {KIND} version {}", stored.version);
        match HostAnomalyModel::from_bytes(&stored.document, &what) {
            Ok(m) => {
                let note = format!("{} loaded, trained {}", m.detector(), crate::data::ts(stored.trained_at));
                self.trained_at_ms.store(unix_ms(stored.trained_at), Ordering::Relaxed);
                models.set_anomaly_model(m, note);
            }
            Err(e) => {
                log::error!("host anomaly model not loaded, a new one will be trained: {e}");
                models.note_anomaly(format!("stored model refused ({e}); retraining"));
            }
        }
        Ok(())
    }
}

/// Trains a new version from the history before `now_ms`, stores it and puts it in
/// use. `Ok(None)` when there is too little history yet (the reason is noted).
pub async fn train(
    db: &Db,
    models: &Arc<ModelService>,
    cfg: &AnomalyConfig,
    now_ms: i64,
) -> Result<Option<u32>, String> {
    let err = |e: crate::data::DataError| e.to_string();
    let end = (now_ms - cfg.lag_ms).div_euclid(MINUTE_MS) * MINUTE_MS;
    let since = crate::data::insights::at_ms(end - cfg.history_ms);
    let Some(first) = db.engine_first_feature_bucket(since).await.map_err(err)? else {
        models.note_anomaly("not trained yet: no host feature rows".into());
        return Ok(None);
    };
    let start = unix_ms(first).div_euclid(MINUTE_MS) * MINUTE_MS;
    let span_minutes = (end - start) / MINUTE_MS;
    let n = span_minutes.min(cfg.sample_minutes).max(0);
    let mut rows = Vec::new();
    for i in 0..n {
        // Evenly spread over the history, whole minutes.
        let m = start + (i * span_minutes / n.max(1)) * MINUTE_MS;
        let features = db.engine_feature_rows_within(m, m + MINUTE_MS, &cfg.hosts).await.map_err(err)?;
        // Only the operator's own hosts' rows were read (`cfg.hosts`).
        rows.extend(minutes(&features).iter().map(|(_, f)| activity_vector(f)));
        if rows.len() >= cfg.max_samples {
            rows.truncate(cfg.max_samples);
            break;
        }
    }
    if rows.len() < MIN_SAMPLES {
        models.note_anomaly(format!(
            "not trained yet: {} host-minutes in {} minutes of history, {MIN_SAMPLES} needed",
            rows.len(),
            span_minutes
        ));
        return Ok(None);
    }
    let version = db.engine_next_model_version(KIND).await.map_err(err)?;
    let v = u32::try_from(version).unwrap_or(1);
    let options =
        AnomalyTrainOptions { seed: u64::from(v), epochs: cfg.epochs, ..AnomalyTrainOptions::default() };
    let samples = rows.len();
    let mut model = rocket::tokio::task::spawn_blocking(move || HostAnomalyModel::train(&rows, v, options))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    model.note_training("history_from", serde_json::json!(crate::data::ts(first)));
    model.note_training("history_to", serde_json::json!(crate::data::ts(crate::data::insights::at_ms(end))));
    model.note_training("minutes", serde_json::json!(n));
    let doc = model.to_file().map_err(|e| e.to_string())?.to_bytes();
    db.engine_store_model(KIND, version, i32::try_from(samples).unwrap_or(i32::MAX), &doc)
        .await
        .map_err(err)?;
    let note = format!("{} trained on {samples} host-minutes of {n} minutes", model.detector());
    log::info!("insights: {note}");
    models.set_anomaly_model(model, note);
    Ok(Some(v))
}

/// Scores every host's minute starting at `minute_ms`; the highest over the threshold
/// become insights.
pub async fn score_minute(
    db: &Db,
    models: &ModelService,
    cfg: &AnomalyConfig,
    minute_ms: i64,
) -> Result<Vec<Insight>, String> {
    let Some(model) = models.anomaly_model() else { return Ok(Vec::new()) };
    let rows = db
        .engine_feature_rows_within(minute_ms, minute_ms + MINUTE_MS, &cfg.hosts)
        .await
        .map_err(|e| e.to_string())?;
    // Only the operator's own hosts' rows were read (`cfg.hosts`).
    let merged = minutes(&rows);
    if merged.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<_> = merged.iter().map(|(k, _)| *k).collect();
    let vectors: Vec<_> = merged.iter().map(|(_, f)| activity_vector(f)).collect();
    let (scores, detector) = rocket::tokio::task::spawn_blocking(move || {
        let m = model.lock().map_err(|_| "model lock poisoned".to_owned())?;
        Ok::<_, String>((m.score(&vectors).map_err(|e| e.to_string())?, m.detector()))
    })
    .await
    .map_err(|e| e.to_string())??;
    // Over the threshold, and changed by more than a floor an operator cares about in
    // at least one of the features that carry the error.
    let significant = |s: &flowvision_models::AnomalyScore| {
        s.deviations.iter().any(|d| is_significant(d.feature, d.value, d.expected))
    };
    let mut over: Vec<_> =
        keys.into_iter().zip(scores).filter(|(_, s)| s.score >= 1.0 && significant(s)).collect();
    over.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
    over.truncate(cfg.max_per_minute);
    Ok(over
        .into_iter()
        .map(|((minute, exporter, host), s)| {
            let (score, severity) = grade(f64::from(s.score), 1.0);
            // What changed by an operator-visible amount is named first (in the order of
            // their errors): a count the model expected out of nowhere for a minute unlike
            // its history (refusals where there were none) explains less than the change.
            // And a rise before a count that fell short of what the model expected: what
            // the host did explains more than what the model imagined (trained on its
            // clients alone, it expected thousands of refusals at an uploading one).
            let mut deviations = s.deviations;
            deviations
                .sort_by_key(|d| (!is_significant(d.feature, d.value, d.expected), d.value < d.expected));
            let outbound = deviations.first().is_some_and(|d| is_outbound(d.feature));
            let described: Vec<String> = deviations
                .iter()
                .map(|d| format!("{} {} (expected about {})", d.feature, d.value, d.expected))
                .collect();
            Insight {
                kind: Kind::HostAnomaly,
                severity,
                score,
                start_ms: minute,
                end_ms: minute + MINUTE_MS,
                exporter,
                interface: None,
                source: outbound.then_some(host),
                target: (!outbound).then_some(host),
                detector: detector.clone(),
                why: Why {
                    summary: format!(
                        "{host}'s minute is {:.1} times the model's anomaly threshold: {}",
                        s.score,
                        described.join(", ")
                    ),
                    observed: deviations
                        .iter()
                        .map(|d| Observation { feature: d.feature, value: d.value, threshold: d.expected })
                        .collect(),
                },
            }
        })
        .collect())
}
