//! The host behaviour classifier: a [`HostProfile`] vector in, a class out, with its
//! confidence, every class's probability and the features that decided it.
//!
//! A 30-32-32-8 network (about 2,400 weights) trained with Adam on full batches of
//! labelled simulator hosts ([`crate::training`]). Deterministic: the same seed, data
//! and epochs give bit-identical weights on one thread.
//!
//! "Why" is gradient times input: for the chosen class, how much each feature's
//! distance from the training data's mean moved its log-probability; the largest
//! positive contributions are reported with the host's value and the usual one.
//!
//! [`HostProfile`]: flowvision_insights::profile::HostProfile

use crate::error::ModelError;
use crate::file::ModelFile;
use crate::mlp::{column_means, matrix, Mlp};
use flowvision_insights::profile::{feature_names, PROFILE_LEN};
use serde::Serialize;
use std::path::Path;
use tch::{nn, nn::OptimizerConfig, Kind, Tensor};

/// The model kind in files and detector names.
pub const KIND: &str = "host_class";
/// Hidden layer width.
const HIDDEN: usize = 32;

/// One input's part in a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// Feature name (from [`feature_names`]).
    pub feature: String,
    /// The host's value.
    pub value: f32,
    /// The training data's mean.
    pub usual: f32,
    /// Change of the class's log-probability attributed to this feature.
    pub weight: f32,
}

/// What the classifier says of one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// The most likely class.
    pub class: String,
    /// Its probability.
    pub confidence: f32,
    /// Every class with its probability, most likely first.
    pub probabilities: Vec<(String, f32)>,
    /// The features that pushed toward the class most (up to 4).
    pub top_features: Vec<Contribution>,
}

/// The trained classifier.
#[derive(Debug)]
pub struct HostClassifier {
    net: Mlp,
    classes: Vec<String>,
    version: u32,
    reference: Vec<f32>,
    training: serde_json::Value,
}

/// How to train.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    /// Seeds the initial weights.
    pub seed: u64,
    /// Full-batch Adam steps.
    pub epochs: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { seed: 1, epochs: 600, learning_rate: 0.01 }
    }
}

impl HostClassifier {
    /// Trains on `samples` (profile vector, class index into `classes`).
    pub fn train(
        samples: &[([f32; PROFILE_LEN], usize)],
        classes: &[&str],
        version: u32,
        options: TrainOptions,
    ) -> Result<HostClassifier, ModelError> {
        for (i, c) in classes.iter().enumerate() {
            if !samples.iter().any(|(_, y)| *y == i) {
                return Err(ModelError::Data(format!("no sample of class {c}")));
            }
        }
        if let Some((_, y)) = samples.iter().find(|(_, y)| *y >= classes.len()) {
            return Err(ModelError::Data(format!("class index {y} beyond the {} classes", classes.len())));
        }
        let rows: Vec<[f32; PROFILE_LEN]> = samples.iter().map(|(v, _)| *v).collect();
        let labels: Vec<i64> = samples.iter().map(|(_, y)| i64::try_from(*y).unwrap_or(0)).collect();
        let mut net = Mlp::new(&[PROFILE_LEN, HIDDEN, HIDDEN, classes.len()], options.seed);
        let x = matrix(&rows);
        let y = Tensor::from_slice(&labels);
        let mut opt = nn::Adam::default().build(net.var_store(), options.learning_rate)?;
        let mut loss_value = f64::NAN;
        for _ in 0..options.epochs {
            let loss = net.forward(&x).cross_entropy_for_logits(&y);
            opt.backward_step(&loss);
            loss_value = loss.double_value(&[]);
        }
        let accuracy = {
            let predicted = net.forward(&x).argmax(-1, false);
            predicted.eq_tensor(&y).to_kind(Kind::Float).mean(Kind::Float).double_value(&[])
        };
        let reference = column_means(&rows);
        net = freeze(net)?;
        Ok(HostClassifier {
            net,
            classes: classes.iter().map(|c| (*c).to_owned()).collect(),
            version,
            reference,
            training: serde_json::json!({
                "seed": options.seed,
                "epochs": options.epochs,
                "learning_rate": options.learning_rate,
                "samples": samples.len(),
                "final_loss": loss_value,
                "training_accuracy": accuracy,
            }),
        })
    }

    /// The classes, in output order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// `model:host_class@VERSION`, as insights and the API name it.
    pub fn detector(&self) -> String {
        format!("model:{KIND}@{}", self.version)
    }

    /// How the weights were made (merged into the file's `training` field).
    pub fn training(&self) -> &serde_json::Value {
        &self.training
    }

    /// Records more about the training (quality on held-out data, the command).
    pub fn note_training(&mut self, key: &str, value: serde_json::Value) {
        if let Some(map) = self.training.as_object_mut() {
            map.insert(key.to_owned(), value);
        }
    }

    /// Class probabilities of many hosts at once, `[hosts][classes]`.
    pub fn probabilities(&self, rows: &[[f32; PROFILE_LEN]]) -> Result<Vec<Vec<f32>>, ModelError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let p = tch::no_grad(|| self.net.forward(&matrix(rows)).softmax(-1, Kind::Float));
        let flat = Vec::<f32>::try_from(p.flatten(0, -1))?;
        Ok(flat.chunks(self.classes.len().max(1)).map(<[f32]>::to_vec).collect())
    }

    /// Classifies one host and says why.
    pub fn classify(&self, v: &[f32; PROFILE_LEN]) -> Result<Classification, ModelError> {
        let x = matrix(std::slice::from_ref(v)).set_requires_grad(true);
        let logp = self.net.forward(&x).log_softmax(-1, Kind::Float);
        let probs = Vec::<f32>::try_from(logp.detach().exp().flatten(0, -1))?;
        let best = probs.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0);
        logp.select(1, i64::try_from(best).unwrap_or(0)).sum(Kind::Float).backward();
        let grad = Vec::<f32>::try_from(x.grad().flatten(0, -1))?;
        let names = feature_names();
        let mut contributions: Vec<Contribution> = v
            .iter()
            .zip(&self.reference)
            .zip(grad)
            .zip(names)
            .map(|(((value, usual), g), name)| Contribution {
                feature: name.to_owned(),
                value: *value,
                usual: *usual,
                weight: g * (value - usual),
            })
            .filter(|c| c.weight > 0.0)
            .collect();
        contributions.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        contributions.truncate(4);
        let mut probabilities: Vec<(String, f32)> =
            self.classes.iter().cloned().zip(probs.iter().copied()).collect();
        probabilities.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(Classification {
            class: self.classes.get(best).cloned().unwrap_or_default(),
            confidence: probs.get(best).copied().unwrap_or(0.0),
            probabilities,
            top_features: contributions,
        })
    }

    /// The model as a file document.
    pub fn to_file(&self) -> Result<ModelFile, ModelError> {
        Ok(ModelFile::new(
            KIND,
            self.version,
            &feature_names(),
            self.classes.clone(),
            self.net.widths().to_vec(),
            self.reference.clone(),
            self.training.clone(),
            self.net.export()?,
        ))
    }

    /// The classifier a checked file describes; `what` names it in errors.
    pub fn from_file(f: ModelFile, what: &str) -> Result<HostClassifier, ModelError> {
        let bad = |reason: String| ModelError::Incompatible { what: what.to_owned(), reason };
        f.expect(KIND, &feature_names(), "host profile", what)?;
        if f.layers.first() != Some(&PROFILE_LEN) || f.layers.last() != Some(&f.outputs.len()) {
            return Err(bad(format!(
                "layers {:?} do not join {PROFILE_LEN} inputs to {} classes",
                f.layers,
                f.outputs.len()
            )));
        }
        let net = freeze(Mlp::import(&f.layers, &f.tensors, what)?)?;
        Ok(HostClassifier {
            net,
            classes: f.outputs,
            version: f.version,
            reference: f.reference,
            training: f.training,
        })
    }

    /// Loads a classifier file.
    pub fn load(path: &Path) -> Result<HostClassifier, ModelError> {
        HostClassifier::from_file(ModelFile::read(path)?, &path.display().to_string())
    }

    /// Saves the classifier.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        self.to_file()?.write(path)
    }
}

fn freeze(mut net: Mlp) -> Result<Mlp, ModelError> {
    // Inference never updates weights: no gradients accumulate in them.
    net.var_store_mut().freeze();
    Ok(net)
}
