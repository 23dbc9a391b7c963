//! The host anomaly model: an autoencoder over hosts' minutes ([`activity_vector`]),
//! trained on the appliance's own history. A minute it reconstructs badly is unlike
//! what the hosts of this network usually do; the features with the largest
//! reconstruction error say in what (the host's value against what the model expected).
//!
//! 17-12-4-12-17, about 570 weights. A minute's error is its largest squared
//! reconstruction error of any one feature. The threshold is fixed at training: the
//! training minutes' 99th percentile error times [`THRESHOLD_MARGIN`] (a
//! percentile, so that the few odd minutes any history holds do not raise it); scores
//! are error / threshold (1 = at the threshold).
//!
//! [`activity_vector`]: flowvision_insights::activity::activity_vector

use crate::error::ModelError;
use crate::file::ModelFile;
use crate::mlp::{column_means, matrix, Mlp};
use flowvision_insights::activity::{activity_names, decode, ACTIVITY_LEN};
use serde::Serialize;
use tch::{nn, nn::OptimizerConfig};

/// The model kind in files and detector names.
pub const KIND: &str = "host_anomaly";
/// The threshold is this many times the training error's 99th percentile.
pub const THRESHOLD_MARGIN: f32 = 3.0;
/// Fewest training minutes the model is trained on.
pub const MIN_SAMPLES: usize = 200;

/// One feature of an anomalous minute.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deviation {
    /// Feature name (from [`activity_names`]).
    pub feature: &'static str,
    /// The host's count in the minute.
    pub value: f64,
    /// The count the model reconstructed (what it expected).
    pub expected: f64,
    /// Share of the minute's reconstruction error this feature carries.
    pub share: f32,
}

/// A scored minute.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnomalyScore {
    /// Reconstruction error / threshold.
    pub score: f32,
    /// The features with the largest errors, largest first (up to 3).
    pub deviations: Vec<Deviation>,
}

/// The trained model.
#[derive(Debug)]
pub struct HostAnomalyModel {
    net: Mlp,
    version: u32,
    threshold: f32,
    reference: Vec<f32>,
    training: serde_json::Value,
}

/// How to train.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnomalyTrainOptions {
    /// Seeds the initial weights.
    pub seed: u64,
    /// Full-batch Adam steps.
    pub epochs: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
}

impl Default for AnomalyTrainOptions {
    fn default() -> Self {
        AnomalyTrainOptions { seed: 1, epochs: 400, learning_rate: 0.01 }
    }
}

fn quantile(mut v: Vec<f32>, q: f64) -> f32 {
    v.sort_by(f32::total_cmp);
    let i = ((v.len().saturating_sub(1)) as f64 * q).round() as usize;
    v.get(i).copied().unwrap_or(0.0)
}

impl HostAnomalyModel {
    /// Trains on minutes of history; `version` names the result.
    pub fn train(
        rows: &[[f32; ACTIVITY_LEN]],
        version: u32,
        options: AnomalyTrainOptions,
    ) -> Result<HostAnomalyModel, ModelError> {
        if rows.len() < MIN_SAMPLES {
            return Err(ModelError::Data(format!(
                "{} minutes of history; {MIN_SAMPLES} are needed",
                rows.len()
            )));
        }
        let mut net = Mlp::new(&[ACTIVITY_LEN, 12, 4, 12, ACTIVITY_LEN], options.seed);
        let x = matrix(rows);
        let mut opt = nn::Adam::default().build(net.var_store(), options.learning_rate)?;
        let mut loss_value = f64::NAN;
        for _ in 0..options.epochs {
            let loss = net.forward(&x).mse_loss(&x, tch::Reduction::Mean);
            opt.backward_step(&loss);
            loss_value = loss.double_value(&[]);
        }
        net.var_store_mut().freeze();
        let mut model = HostAnomalyModel {
            net,
            version,
            threshold: 1.0,
            reference: column_means(rows),
            training: serde_json::Value::Null,
        };
        let errors = model.errors(rows)?;
        let p99 = quantile(errors.clone(), 0.99);
        model.threshold = (p99 * THRESHOLD_MARGIN).max(f32::MIN_POSITIVE);
        model.training = serde_json::json!({
            "seed": options.seed,
            "epochs": options.epochs,
            "learning_rate": options.learning_rate,
            "samples": rows.len(),
            "final_loss": loss_value,
            "error_p50": quantile(errors.clone(), 0.5),
            "error_p99": p99,
            "error_p999": quantile(errors.clone(), 0.999),
            "threshold": model.threshold,
        });
        Ok(model)
    }

    /// `model:host_anomaly@VERSION`.
    pub fn detector(&self) -> String {
        format!("model:{KIND}@{}", self.version)
    }

    /// The version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The reconstruction error at which a minute is reported.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// How the model was trained.
    pub fn training(&self) -> &serde_json::Value {
        &self.training
    }

    /// Records more about the training (its data's time range).
    pub fn note_training(&mut self, key: &str, value: serde_json::Value) {
        if let Some(map) = self.training.as_object_mut() {
            map.insert(key.to_owned(), value);
        }
    }

    fn reconstruct(&self, rows: &[[f32; ACTIVITY_LEN]]) -> Result<Vec<f32>, ModelError> {
        let y = tch::no_grad(|| self.net.forward(&matrix(rows)));
        Ok(Vec::<f32>::try_from(y.flatten(0, -1))?)
    }

    /// The anomaly error of each row: the largest squared reconstruction error of any
    /// one feature (a host that changes in one respect, its bytes out, stands out as
    /// much as one that changes in many; a mean over 17 features would dilute it).
    pub fn errors(&self, rows: &[[f32; ACTIVITY_LEN]]) -> Result<Vec<f32>, ModelError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let y = self.reconstruct(rows)?;
        Ok(rows.iter().zip(y.chunks(ACTIVITY_LEN)).map(|(x, r)| worst(x, r)).collect())
    }

    /// Scores every row: error / threshold and the features that carry the error.
    pub fn score(&self, rows: &[[f32; ACTIVITY_LEN]]) -> Result<Vec<AnomalyScore>, ModelError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let y = self.reconstruct(rows)?;
        let names = activity_names();
        Ok(rows
            .iter()
            .zip(y.chunks(ACTIVITY_LEN))
            .map(|(x, r)| {
                let sq: Vec<f32> = x.iter().zip(r).map(|(a, b)| (a - b) * (a - b)).collect();
                let total: f32 = sq.iter().sum();
                let error = worst(x, r);
                let mut deviations: Vec<Deviation> = sq
                    .iter()
                    .zip(x.iter().zip(r))
                    .zip(names)
                    .map(|((e, (v, rec)), feature)| Deviation {
                        feature,
                        value: decode(*v).round(),
                        expected: decode(*rec).round(),
                        share: if total > 0.0 { e / total } else { 0.0 },
                    })
                    .collect();
                deviations.sort_by(|a, b| b.share.total_cmp(&a.share));
                deviations.truncate(3);
                AnomalyScore { score: error / self.threshold, deviations }
            })
            .collect())
    }

    /// The model as a file document.
    pub fn to_file(&self) -> Result<ModelFile, ModelError> {
        let mut training = self.training.clone();
        if let Some(m) = training.as_object_mut() {
            m.insert("threshold".into(), serde_json::json!(self.threshold));
        }
        Ok(ModelFile::new(
            KIND,
            self.version,
            &activity_names(),
            activity_names().iter().map(|s| (*s).to_owned()).collect(),
            self.net.widths().to_vec(),
            self.reference.clone(),
            training,
            self.net.export()?,
        ))
    }

    /// The model a checked document describes; `what` names it in errors.
    pub fn from_file(f: ModelFile, what: &str) -> Result<HostAnomalyModel, ModelError> {
        let bad = |reason: String| ModelError::Incompatible { what: what.to_owned(), reason };
        f.expect(KIND, &activity_names(), "activity vector", what)?;
        if f.layers.first() != Some(&ACTIVITY_LEN) || f.layers.last() != Some(&ACTIVITY_LEN) {
            return Err(bad(format!(
                "layers {:?} are not an autoencoder of {ACTIVITY_LEN} values",
                f.layers
            )));
        }
        let threshold = f
            .training
            .get("threshold")
            .and_then(serde_json::Value::as_f64)
            .filter(|t| t.is_finite() && *t > 0.0)
            .ok_or_else(|| bad("no positive threshold in its training record".to_owned()))?
            as f32;
        let mut net = Mlp::import(&f.layers, &f.tensors, what)?;
        net.var_store_mut().freeze();
        Ok(HostAnomalyModel {
            net,
            version: f.version,
            threshold,
            reference: f.reference,
            training: f.training,
        })
    }

    /// Parses and checks a model document.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<HostAnomalyModel, ModelError> {
        HostAnomalyModel::from_file(ModelFile::parse(bytes, what)?, what)
    }
}

/// The largest squared difference of one feature.
fn worst(x: &[f32], r: &[f32]) -> f32 {
    x.iter().zip(r).map(|(a, b)| (a - b) * (a - b)).fold(0.0, f32::max)
}
