//! What the console knows of one host: its behaviour class (the host behaviour
//! classifier over the host's stored flows, within the caller's scope), the features
//! that decided it, and the insights that name it. Shared by `GET /api/v1/hosts/<addr>`
//! and the host page.

use crate::auth::Scope;
use crate::data::insights::{InsightQuery, InsightRow};
use crate::data::ts;
use crate::data::Db;
use crate::error::AppResult;
use crate::models::ModelService;
use flowvision_insights::profile::HostProfile;
use serde::Serialize;
use std::net::IpAddr;
use time::OffsetDateTime;

/// The newest flows a profile reads; a busier host is profiled from these.
pub const PROFILE_FLOWS: i64 = 20_000;
/// Fewer flows than this say too little about a host to classify it.
pub const MIN_FLOWS: u64 = 5;

/// One host, as the API answers it.
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    /// The address.
    pub address: String,
    /// Start of the window the flows were read from.
    pub from: String,
    /// Its end.
    pub to: String,
    /// Flows of the host in the window that the profile read.
    pub flows: u64,
    /// More flows than [`PROFILE_FLOWS`] were in the window (the newest were read).
    pub flows_truncated: bool,
    /// The behaviour class, when a model ran.
    pub class: Option<String>,
    /// Its probability.
    pub confidence: Option<f32>,
    /// `model:host_class@VERSION`.
    pub detector: Option<String>,
    /// The features that decided the class and every class's probability.
    pub why: Option<serde_json::Value>,
    /// Why there is no class (no model, too few flows).
    pub unclassified_because: Option<String>,
    /// Insights of the last 24 hours of `to` naming the host as source or target.
    pub insights: Vec<InsightRow>,
}

/// Builds the report of `host` over `[from, to)` within `scope`.
pub async fn report(
    db: &Db,
    models: &ModelService,
    scope: &Scope,
    host: IpAddr,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> AppResult<HostReport> {
    let (flows, truncated) = db.host_flows(scope, host, from, to, PROFILE_FLOWS).await?;
    let mut profile = HostProfile::new(host);
    for f in &flows {
        profile.observe(f);
    }
    let n = profile.flows();
    let status = models.classifier_status();
    let mut r = HostReport {
        address: host.to_string(),
        from: ts(from),
        to: ts(to),
        flows: n,
        flows_truncated: truncated,
        class: None,
        confidence: None,
        detector: status.detector.clone(),
        why: None,
        unclassified_because: None,
        insights: Vec::new(),
    };
    if n < MIN_FLOWS {
        r.unclassified_because =
            Some(format!("{n} flows of this host in the window; {MIN_FLOWS} are needed"));
    } else {
        match models.classify(profile.vector()).await {
            Ok(c) => {
                r.class = Some(c.class);
                r.confidence = Some(c.confidence);
                let probabilities: serde_json::Map<String, serde_json::Value> =
                    c.probabilities.into_iter().map(|(k, p)| (k, serde_json::json!(p))).collect();
                r.why = Some(
                    serde_json::json!({ "top_features": c.top_features, "probabilities": probabilities }),
                );
            }
            Err(e) => r.unclassified_because = Some(format!("host behaviour classifier unavailable: {e}")),
        }
    }
    let q = InsightQuery {
        from: to - time::Duration::hours(24),
        to,
        kind: None,
        exporter: None,
        limit: crate::data::insights::MAX_LIMIT,
        acknowledged: None,
        host: Some(host),
    };
    r.insights = db.insights(scope, &q).await?;
    Ok(r)
}
