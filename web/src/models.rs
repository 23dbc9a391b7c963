//! The insights' learned models as the console holds them: loaded once at start from
//! `WEB_MODELS_DIR`, run off the async threads. A model that cannot load leaves its
//! error here for the API and pages to show; everything else (the deterministic
//! detectors, the rest of the console) goes on without it.

use flowvision_insights::profile::PROFILE_LEN;
use flowvision_models::{Classification, HostAnomalyModel, HostClassifier};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// File name of the host behaviour classifier in the models folder.
pub const CLASSIFIER_FILE: &str = "host-classes.json";

/// The models and why any is missing.
#[derive(Debug)]
pub struct ModelService {
    classifier: Result<Arc<Mutex<HostClassifier>>, String>,
    classifier_path: PathBuf,
    anomaly: RwLock<AnomalyState>,
}

/// The host anomaly model the engine uses now, and what to say about it.
#[derive(Debug, Default)]
struct AnomalyState {
    model: Option<Arc<Mutex<HostAnomalyModel>>>,
    note: String,
}

/// A model's state, as `GET /api/v1/hosts/<addr>` and the host page report it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelStatus {
    /// The file it loads from.
    pub file: String,
    /// `model:KIND@VERSION` when loaded.
    pub detector: Option<String>,
    /// Why it is not loaded.
    pub error: Option<String>,
}

impl ModelService {
    /// Loads the models found in `dir`, keeping the error of any that does not load.
    pub fn load(dir: &Path) -> ModelService {
        flowvision_models::init_torch();
        let classifier_path = dir.join(CLASSIFIER_FILE);
        let classifier = match HostClassifier::load(&classifier_path) {
            Ok(c) => {
                log::info!("loaded {} from {}", c.detector(), classifier_path.display());
                Ok(Arc::new(Mutex::new(c)))
            }
            Err(e) => {
                log::error!("host behaviour classifier unavailable, detectors run without it: {e}");
                Err(e.to_string())
            }
        };
        let anomaly = RwLock::new(AnomalyState { model: None, note: "not trained yet".into() });
        ModelService { classifier, classifier_path, anomaly }
    }

    /// The host anomaly model in use, if any.
    pub fn anomaly_model(&self) -> Option<Arc<Mutex<HostAnomalyModel>>> {
        self.anomaly.read().ok().and_then(|s| s.model.clone())
    }

    /// Puts a (newly trained or loaded) host anomaly model in use.
    pub fn set_anomaly_model(&self, model: HostAnomalyModel, note: String) {
        if let Ok(mut s) = self.anomaly.write() {
            s.model = Some(Arc::new(Mutex::new(model)));
            s.note = note;
        }
    }

    /// Records why the host anomaly model is missing or what happened to it last,
    /// keeping the model in use.
    pub fn note_anomaly(&self, note: String) {
        if let Ok(mut s) = self.anomaly.write() {
            s.note = note;
        }
    }

    /// The host anomaly model's state.
    pub fn anomaly_status(&self) -> ModelStatus {
        let (detector, note) = match self.anomaly.read() {
            Ok(s) => (s.model.as_ref().and_then(|m| m.lock().ok().map(|m| m.detector())), s.note.clone()),
            Err(_) => (None, "state lock poisoned".into()),
        };
        let error = if detector.is_none() { Some(note.clone()) } else { None };
        ModelStatus { file: format!("insight_models (PostgreSQL): {note}"), detector, error }
    }

    /// The classifier's state.
    pub fn classifier_status(&self) -> ModelStatus {
        let (detector, error) = match &self.classifier {
            Ok(c) => (c.lock().ok().map(|c| c.detector()), None),
            Err(e) => (None, Some(e.clone())),
        };
        ModelStatus { file: self.classifier_path.display().to_string(), detector, error }
    }

    /// Classifies one host profile on a blocking thread; `Err` says why no model ran.
    pub async fn classify(&self, profile: [f32; PROFILE_LEN]) -> Result<Classification, String> {
        let model = self.classifier.as_ref().map_err(Clone::clone)?;
        let model = Arc::clone(model);
        rocket::tokio::task::spawn_blocking(move || {
            let guard = model.lock().map_err(|_| "the classifier's lock is poisoned".to_owned())?;
            guard.classify(&profile).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("classifier task: {e}"))?
    }
}
