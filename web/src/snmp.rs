//! SNMP in the console: credentials sealed before they reach the database, polls on
//! a schedule (an exporter's first flows, then every interval, sooner after a
//! failure) and on demand, bounded concurrency, counters for /metrics, and
//! sysObjectID → vendor and product. The SNMP itself is `flowvision-snmp`; the rows
//! are `data::snmp`. docs/snmp.md.
//!
//! Polls run on the console's runtime but never hold a database connection while
//! waiting for an agent, so a slow or dead agent delays neither page loads nor other
//! polls; the collector never waits for SNMP at all.

use crate::config::{SnmpKeySource, SnmpSettings};
use crate::data::snmp::{CredentialsOwner, StoredCredentials};
use crate::data::Db;
use crate::mibs::MibService;
use flowvision_snmp::{
    AuthProtocol, Credentials, Device, Enterprises, PollError, PollErrorKind, PollOptions, PrivProtocol,
    SealKey,
};
use rocket::tokio::sync::Semaphore;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the scheduler looks for due polls.
const TICK: Duration = Duration::from_secs(5);

/// The secrets of a credentials row, sealed as one JSON document.
#[derive(Serialize, Deserialize, Default)]
struct Secrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    community: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    priv_password: Option<String>,
}

/// Poll counters since start (for /metrics).
#[derive(Debug, Default)]
pub struct SnmpCounters {
    ok: AtomicU64,
    failed: [AtomicU64; 6],
    poll_ms_total: AtomicU64,
}

impl SnmpCounters {
    /// (result label, polls) for every result, `ok` first.
    pub fn polls(&self) -> Vec<(&'static str, u64)> {
        let mut v = vec![("ok", self.ok.load(Ordering::Relaxed))];
        for (k, n) in PollErrorKind::ALL.iter().zip(self.failed.iter()) {
            v.push((k.as_str(), n.load(Ordering::Relaxed)));
        }
        v
    }

    /// Milliseconds spent polling, summed.
    pub fn poll_ms_total(&self) -> u64 {
        self.poll_ms_total.load(Ordering::Relaxed)
    }

    fn count(&self, r: &Result<Device, PollError>, took: Duration) {
        self.poll_ms_total.fetch_add(u64::try_from(took.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
        match r {
            Ok(_) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                if let Some(i) = PollErrorKind::ALL.iter().position(|k| *k == e.kind) {
                    if let Some(c) = self.failed.get(i) {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// Credentials as the API takes them (secrets in clear, over TLS in production).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsInput {
    /// `2c` or `3`.
    pub version: String,
    /// v2c community.
    #[serde(default)]
    pub community: Option<String>,
    /// v3 user.
    #[serde(default)]
    pub user: Option<String>,
    /// v3 authentication protocol (MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512).
    #[serde(default)]
    pub auth_protocol: Option<String>,
    /// v3 authentication password.
    #[serde(default)]
    pub auth_password: Option<String>,
    /// v3 privacy protocol (DES, AES-128, AES-192, AES-256, AES-192-C, AES-256-C).
    #[serde(default)]
    pub priv_protocol: Option<String>,
    /// v3 privacy password.
    #[serde(default)]
    pub priv_password: Option<String>,
    /// The agent's address when it is not the exporter's.
    #[serde(default)]
    pub agent: Option<String>,
    /// UDP port [161].
    #[serde(default)]
    pub port: Option<u16>,
}

/// Checked input: credentials, agent and port.
#[derive(Debug, Clone)]
pub struct ValidInput {
    /// The credentials.
    pub credentials: Credentials,
    /// Agent address override.
    pub agent: Option<IpAddr>,
    /// UDP port.
    pub port: u16,
}

impl CredentialsInput {
    /// Checks and converts; the message is for the caller (never echoes a secret).
    pub fn validate(self) -> Result<ValidInput, String> {
        let blank = |o: &Option<String>| o.as_deref().map(str::trim).filter(|s| !s.is_empty()).is_none();
        let credentials = match self.version.trim() {
            "2c" | "2" | "v2c" => {
                if !blank(&self.user) || !blank(&self.auth_password) || !blank(&self.priv_password) {
                    return Err("v2c takes only a community (user and passwords are SNMPv3)".into());
                }
                Credentials::V2c { community: self.community.unwrap_or_default() }
            }
            "3" | "v3" => {
                if !blank(&self.community) {
                    return Err("SNMPv3 takes a user and passwords, not a community".into());
                }
                let user = self.user.map(|u| u.trim().to_string()).unwrap_or_default();
                let auth = match (&self.auth_protocol, self.auth_password) {
                    (None, None) => None,
                    (Some(p), Some(pw)) => Some((
                        AuthProtocol::parse(p).ok_or_else(|| {
                            format!("auth_protocol {p:?}: use MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512")
                        })?,
                        pw,
                    )),
                    _ => return Err("auth_protocol and auth_password go together".into()),
                };
                let privacy = match (&self.priv_protocol, self.priv_password) {
                    (None, None) => None,
                    (Some(p), Some(pw)) => Some((
                        PrivProtocol::parse(p).ok_or_else(|| {
                            format!("priv_protocol {p:?}: use DES, AES-128, AES-192, AES-256, AES-192-C or AES-256-C")
                        })?,
                        pw,
                    )),
                    _ => return Err("priv_protocol and priv_password go together".into()),
                };
                Credentials::V3 { user, auth, privacy }
            }
            other => return Err(format!("version {other:?}: use \"2c\" or \"3\"")),
        };
        credentials.validate().map_err(|e| e.to_string())?;
        let agent = match self.agent.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => Some(a.parse::<IpAddr>().map_err(|_| format!("agent {a:?} is not an IP address"))?),
        };
        let port = self.port.unwrap_or(161);
        if port == 0 {
            return Err("port must be 1-65535".into());
        }
        Ok(ValidInput { credentials, agent, port })
    }
}

/// Vendor and product of a sysObjectID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The organisation of the OID's enterprise number (IANA registry, else the MIB
    /// name of the enterprise node).
    pub vendor: Option<String>,
    /// The MIB name of the sysObjectID itself (a product MIB's, e.g.
    /// `CISCO-PRODUCTS-MIB::ciscoASR1002`), when a loaded module names it.
    pub product: Option<String>,
}

/// The console's SNMP: key, registry, schedule, counters.
pub struct SnmpService {
    key: Result<SealKey, String>,
    enterprises: Enterprises,
    settings: SnmpSettings,
    limit: Arc<Semaphore>,
    /// Poll counters.
    pub counters: SnmpCounters,
}

impl SnmpService {
    /// Loads the sealing key (creating the key file if needed) and the enterprise
    /// registry. Neither failing stops the console: without a key, SNMP credentials
    /// cannot be set or used and the console says why; without the registry, vendors
    /// come from MIB names only.
    pub fn new(settings: &SnmpSettings) -> SnmpService {
        let key = match &settings.key {
            SnmpKeySource::Env(k) => SealKey::from_base64(k).map_err(|e| e.to_string()),
            SnmpKeySource::File(p) => SealKey::from_file(p).map_err(|e| e.to_string()),
        };
        if let Err(e) = &key {
            log::warn!("SNMP credentials unavailable: {e}");
        }
        let enterprises = match std::fs::read_to_string(&settings.enterprises_file) {
            Ok(t) => Enterprises::parse(&t),
            Err(e) => {
                log::warn!(
                    "IANA enterprise registry {}: {e}; vendors come from MIB names only",
                    settings.enterprises_file.display()
                );
                Enterprises::default()
            }
        };
        SnmpService {
            key,
            enterprises,
            settings: settings.clone(),
            limit: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            counters: SnmpCounters::default(),
        }
    }

    /// Why credentials cannot be sealed or opened here, if they cannot.
    pub fn unavailable(&self) -> Option<&str> {
        self.key.as_ref().err().map(String::as_str)
    }

    fn key(&self) -> Result<&SealKey, String> {
        self.key.as_ref().map_err(|e| format!("SNMP credentials are unavailable: {e}"))
    }

    /// Seals the secrets of `c` for `owner`.
    pub fn seal(&self, owner: CredentialsOwner, c: &Credentials) -> Result<Vec<u8>, String> {
        let key = self.key()?;
        let secrets = match c {
            Credentials::V2c { community } => {
                Secrets { community: Some(community.clone()), ..Secrets::default() }
            }
            Credentials::V3 { auth, privacy, .. } => Secrets {
                community: None,
                auth_password: auth.as_ref().map(|a| a.1.clone()),
                priv_password: privacy.as_ref().map(|p| p.1.clone()),
            },
        };
        let plain = serde_json::to_vec(&secrets).map_err(|e| e.to_string())?;
        Ok(key.seal(&owner.seal_context(), &plain))
    }

    /// Opens a stored row into usable credentials.
    pub fn open(&self, s: &StoredCredentials) -> Result<Credentials, String> {
        let key = self.key()?;
        let plain = key.open(&s.owner.seal_context(), &s.sealed).map_err(|e| e.to_string())?;
        let secrets: Secrets =
            serde_json::from_slice(&plain).map_err(|_| "sealed credentials are damaged".to_string())?;
        let protocol_err = |what: &str, v: &str| format!("stored {what} {v:?} is unknown");
        Ok(match s.version.as_str() {
            "2c" => Credentials::V2c { community: secrets.community.unwrap_or_default() },
            _ => {
                let auth = match (&s.auth_protocol, secrets.auth_password) {
                    (Some(p), Some(pw)) => {
                        Some((AuthProtocol::parse(p).ok_or_else(|| protocol_err("auth_protocol", p))?, pw))
                    }
                    _ => None,
                };
                let privacy = match (&s.priv_protocol, secrets.priv_password) {
                    (Some(p), Some(pw)) => {
                        Some((PrivProtocol::parse(p).ok_or_else(|| protocol_err("priv_protocol", p))?, pw))
                    }
                    _ => None,
                };
                Credentials::V3 { user: s.user.clone().unwrap_or_default(), auth, privacy }
            }
        })
    }

    fn options(&self) -> PollOptions {
        PollOptions {
            timeout: self.settings.timeout,
            retries: self.settings.retries,
            ..PollOptions::default()
        }
    }

    /// Polls `exporter` now with the credentials that apply and stores the outcome.
    /// `Ok(None)`: a poll of it is already running. `Err`: a database failure.
    pub async fn poll_exporter(
        &self,
        db: &Db,
        exporter: IpAddr,
    ) -> Result<Option<Result<Device, PollError>>, crate::data::DataError> {
        let Some(stored) = db.snmp_credentials_for(exporter).await? else {
            let e = PollError {
                kind: PollErrorKind::Configuration,
                message: format!("{exporter}: no SNMP credentials apply to this exporter"),
            };
            return Ok(Some(Err(e)));
        };
        if !db.snmp_begin(exporter).await? {
            return Ok(None);
        }
        let agent = SocketAddr::new(stored.agent.unwrap_or(exporter), stored.port);
        let started = Instant::now();
        let outcome = match self.open(&stored) {
            Err(why) => {
                Err(PollError { kind: PollErrorKind::Configuration, message: format!("{agent}: {why}") })
            }
            Ok(creds) => {
                // The permit bounds agents polled at once, for scheduled and on-demand
                // polls alike; a closed semaphore cannot happen (never closed).
                let _permit = self.limit.acquire().await.ok();
                flowvision_snmp::poll(agent, &creds, &self.options()).await
            }
        };
        let took = started.elapsed();
        self.counters.count(&outcome, took);
        match &outcome {
            Ok(device) => db.snmp_record_success(exporter, device, took).await?,
            Err(e) => {
                log::info!("SNMP poll of {exporter} failed: {e}");
                db.snmp_record_failure(exporter, e, took).await?;
            }
        }
        Ok(Some(outcome))
    }

    /// The scheduler: every few seconds, polls what is due (bounded by the semaphore).
    pub async fn run(self: Arc<Self>, db: Db) {
        loop {
            match db.snmp_due(self.settings.interval, self.settings.retry_interval, 1000).await {
                Ok(due) => {
                    let mut tasks = Vec::with_capacity(due.len());
                    for exporter in due {
                        let (svc, db) = (Arc::clone(&self), db.clone());
                        tasks.push(rocket::tokio::spawn(async move {
                            if let Err(e) = svc.poll_exporter(&db, exporter).await {
                                log::warn!("SNMP poll of {exporter}: {e}");
                            }
                        }));
                    }
                    for t in tasks {
                        let _ = t.await;
                    }
                }
                Err(e) => log::warn!("SNMP schedule: {e}"),
            }
            rocket::tokio::time::sleep(TICK).await;
        }
    }

    /// Vendor and product of `sys_object_id` from the loaded MIBs and the registry.
    pub fn identify(&self, mibs: &MibService, sys_object_id: Option<&str>) -> Identity {
        let Some(dotted) = sys_object_id else { return Identity::default() };
        let state = mibs.snapshot();
        let product = dotted
            .parse::<flowvision_mib::Oid>()
            .ok()
            .and_then(|oid| state.mib.at(&oid).first().map(|n| format!("{}::{}", n.module, n.name)));
        let enterprise = flowvision_snmp::enterprises::enterprise_of(dotted);
        let vendor = enterprise.and_then(|n| self.enterprises.get(n).map(str::to_string)).or_else(|| {
            let n = enterprise?;
            let oid: flowvision_mib::Oid = format!("1.3.6.1.4.1.{n}").parse().ok()?;
            state.mib.at(&oid).first().map(|node| node.name.clone())
        });
        Identity { vendor, product }
    }

    /// Fills in vendor and product of each exporter from its sysObjectID.
    pub fn fill_identity(&self, mibs: &MibService, rows: &mut [crate::data::exporters::ExporterHealth]) {
        for r in rows {
            let id = self.identify(mibs, r.sys_object_id.as_deref());
            r.vendor = id.vendor;
            r.product = id.product;
        }
    }
}
