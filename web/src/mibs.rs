//! The console's MIB modules: the resolved OID tree kept in memory (the base modules
//! shipped with the appliance plus the modules operators uploaded), uploads and
//! deletes that update PostgreSQL and then the tree, and the lookups and views the API
//! and the pages show (docs/mib.md, "Console and API").
//!
//! - Sources, in resolve order: the uploaded modules that are `ok` (one source per
//!   distinct file, labelled `upload:MODULE`), then the base folders
//!   ([`crate::config::WebConfig::mib_base_dirs`]). An uploaded copy of a base module
//!   therefore wins over the shipped one.
//! - An upload is resolved once on trial (incrementally, with every module still in
//!   quarantine retried: an import it missed may have just arrived) to learn each new
//!   module's diagnostics and revision; a module with an error, or one that does not
//!   load, is quarantined (stored with its diagnostics, not loaded) and never blocks
//!   the others. After the database commit, the tree is resolved again from the
//!   previous one with only what was accepted: incrementally when no source went away,
//!   fully otherwise (a delete, a file no longer shared).
//! - Uploads and deletes are serialised (one writer); readers take a snapshot
//!   (`Arc`) and never wait for a resolve.

use crate::data::mibs::StoredModule;
use crate::data::Db;
use flowvision_mib::bundle::{self, Bundle, BundleError, Limits};
use flowvision_mib::{scan, Diagnostic, Mib, MibNode, Oid, ResolveOptions, Severity, SourceText};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

/// Largest upload body (one file or archive), before expansion.
pub const MAX_UPLOAD_BYTES: u64 = 64 << 20;

/// Label prefix of uploaded sources.
const UPLOAD: &str = "upload:";

/// What the service holds at one moment; handed out as a shared snapshot.
#[derive(Debug, Default)]
pub struct MibState {
    /// The resolved tree.
    pub mib: Mib,
    /// Every stored (uploaded) module, by name, quarantined ones included.
    pub stored: Vec<StoredModule>,
    /// The base modules' files.
    base: Vec<SourceText>,
    /// The sources `mib` was resolved from, in order.
    sources: Vec<SourceText>,
    /// Module → label of the source it is loaded from, for uploaded `ok` modules.
    labels: HashMap<String, String>,
}

/// Why an upload or delete failed.
#[derive(Debug, thiserror::Error)]
pub enum MibError {
    /// The upload could not be unpacked.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The upload holds no MIB module at all.
    #[error("no MIB module found in the upload ({0})")]
    NoModule(String),
    /// No such uploaded module.
    #[error("no such module")]
    NotFound,
    /// A base module shipped with the appliance cannot be deleted.
    #[error("{0} is a base module shipped with the appliance; it cannot be deleted")]
    Base(String),
    /// The database failed.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// A resolve task failed to run (panicked or was cancelled).
    #[error("resolving failed: {0}")]
    Task(String),
}

/// One diagnostic as the API shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct DiagView {
    /// The file (its uploaded name, or the base file's path).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// error, warning or info.
    pub severity: String,
    /// What is wrong.
    pub message: String,
}

/// What an upload did to one module.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleOutcome {
    /// Module name.
    pub module: String,
    /// The file (inside the archive) declaring it.
    pub file: String,
    /// `added`, `replaced`, `unchanged` (same bytes as stored), `older_revision` (not
    /// stored: the stored copy is newer; `force=true` overrides), `kept_previous` (the
    /// new copy is quarantined and the stored working copy stays), `retried` (a module
    /// in quarantine resolved again because of this upload).
    pub action: &'static str,
    /// `ok` or `quarantined`.
    pub status: &'static str,
    /// Newest revision of the uploaded copy.
    pub revision: Option<String>,
    /// Revision of the copy stored before, if any.
    pub previous_revision: Option<String>,
    /// Its diagnostics.
    pub diagnostics: Vec<DiagView>,
}

/// A file of the upload that gave no module, or an entry not taken.
#[derive(Debug, Clone, Serialize)]
pub struct FileNote {
    /// The file or entry name.
    pub file: String,
    /// Why.
    pub reason: String,
}

/// The answer to an upload.
#[derive(Debug, Clone, Serialize)]
pub struct UploadReport {
    /// `file`, `gzip`, `zip`, `tar` or `tar.gz`.
    pub kind: &'static str,
    /// Files found in the upload.
    pub files: usize,
    /// Per module.
    pub modules: Vec<ModuleOutcome>,
    /// Files without a module, skipped entries, modules declared twice in the upload.
    pub notes: Vec<FileNote>,
    /// Modules loaded in the tree afterwards.
    pub loaded_modules: usize,
    /// Named nodes in the tree afterwards.
    pub nodes: usize,
}

/// The answer to a delete.
#[derive(Debug, Clone, Serialize)]
pub struct DeleteReport {
    /// The deleted module.
    pub module: String,
    /// Loaded modules that named it (IMPORTS, compliance, capabilities) before the
    /// delete; they now lack it unless a base copy took its place.
    pub dependents: Vec<String>,
    /// A base module of the same name is loaded in its place.
    pub base_restored: bool,
}

/// A module in the list.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleSummary {
    /// Module name.
    pub name: String,
    /// `uploaded` or `base`.
    pub source: &'static str,
    /// `ok` (in the tree) or `quarantined`.
    pub status: &'static str,
    /// File name (uploaded name, or base path; `embedded:NAME` for the parser's own
    /// SMI modules).
    pub file: String,
    /// Newest revision.
    pub revision: Option<String>,
    /// SMIv1 / SMIv2 / SPPI, when loaded.
    pub language: Option<String>,
    /// Number of diagnostics.
    pub diagnostics: usize,
    /// Of which errors.
    pub errors: usize,
    /// Of which warnings.
    pub warnings: usize,
    /// Who uploaded it (uploads only).
    pub uploaded_by: Option<String>,
    /// When (RFC 3339; uploads only).
    pub uploaded_at: Option<String>,
}

/// One module in detail.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleDetail {
    /// The list's fields.
    #[serde(flatten)]
    pub summary: ModuleSummary,
    /// ORGANIZATION.
    pub organization: String,
    /// The MODULE-IDENTITY's DESCRIPTION.
    pub description: String,
    /// Modules it imports.
    pub imports: Vec<String>,
    /// Loaded modules that name it (what a delete would leave without it).
    pub dependents: Vec<String>,
    /// Its diagnostics.
    pub diagnostics_list: Vec<DiagView>,
}

/// A node in short (children, search hits, parents).
#[derive(Debug, Clone, Serialize)]
pub struct NodeRef {
    /// Descriptor.
    pub name: String,
    /// Defining module.
    pub module: String,
    /// Dotted OID.
    pub oid: String,
    /// What defines it.
    pub kind: &'static str,
    /// Whether named nodes lie below it (for lazy expansion).
    pub has_children: bool,
}

/// A named value of an enumeration or BITS.
#[derive(Debug, Clone, Serialize)]
pub struct NamedValue {
    /// Label.
    pub name: String,
    /// Number.
    pub value: i64,
}

/// SYNTAX with its textual convention resolved.
#[derive(Debug, Clone, Serialize)]
pub struct SyntaxView {
    /// The type named in SYNTAX.
    pub type_name: String,
    /// The nearest TEXTUAL-CONVENTION, if any.
    pub textual_convention: Option<String>,
    /// The SMI base type.
    pub base: String,
    /// DISPLAY-HINT in effect.
    pub display_hint: Option<String>,
    /// Enumeration or BITS labels.
    pub named_values: Vec<NamedValue>,
    /// Value or SIZE ranges.
    pub ranges: Vec<String>,
}

/// An object page.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    /// Descriptor.
    pub name: String,
    /// Defining module.
    pub module: String,
    /// `MODULE::name`.
    pub qualified_name: String,
    /// Dotted OID.
    pub oid: String,
    /// What defines it.
    pub kind: &'static str,
    /// SYNTAX, for OBJECT-TYPEs.
    pub syntax: Option<SyntaxView>,
    /// MAX-ACCESS.
    pub access: Option<&'static str>,
    /// STATUS.
    pub status: Option<&'static str>,
    /// UNITS.
    pub units: Option<String>,
    /// DEFVAL.
    pub defval: Option<String>,
    /// INDEX objects of a row.
    pub index: Vec<String>,
    /// The last INDEX object is IMPLIED.
    pub index_implied_last: bool,
    /// AUGMENTS target.
    pub augments: Option<String>,
    /// OBJECTS / NOTIFICATIONS members.
    pub members: Vec<String>,
    /// DESCRIPTION.
    pub description: String,
    /// The module's newest revision.
    pub module_revision: Option<String>,
    /// The file the module came from.
    pub module_file: Option<String>,
    /// Other names of the same OID (`MODULE::name`).
    pub other_names: Vec<String>,
    /// The nearest named ancestor.
    pub parent: Option<NodeRef>,
    /// When looked up by an instance OID: the arcs after the object's OID.
    pub instance: Option<String>,
    /// Named nodes directly below (the nearest named descendants).
    pub children: Vec<NodeRef>,
}

/// A search hit.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    /// The node.
    #[serde(flatten)]
    pub node: NodeRef,
    /// `MODULE::name`.
    pub qualified_name: String,
    /// How it matched: `oid`, `oid-prefix`, `name`, `name-prefix`, `name-part`,
    /// `description`.
    pub matched: &'static str,
    /// The start of its description.
    pub excerpt: String,
}

/// Search results.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    /// The query.
    pub q: String,
    /// Matches in all (before the limit).
    pub total: usize,
    /// The best `limit` of them.
    pub hits: Vec<SearchHit>,
}

/// The service: state, writer lock, base folders.
#[derive(Debug)]
pub struct MibService {
    state: RwLock<Arc<MibState>>,
    writer: rocket::tokio::sync::Mutex<()>,
    base_dirs: Vec<PathBuf>,
    limits: Limits,
}

fn label_of(module: &str) -> String {
    format!("{UPLOAD}{module}")
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// The sources of `stored` (ok modules; one per distinct file) followed by `base`,
/// and module → label.
fn sources_for(stored: &[StoredModule], base: &[SourceText]) -> (Vec<SourceText>, HashMap<String, String>) {
    let mut by_sha: HashMap<&[u8], String> = HashMap::new();
    let mut sources = Vec::new();
    let mut labels = HashMap::new();
    for m in stored.iter().filter(|m| m.is_ok()) {
        let label = by_sha
            .entry(m.sha256.as_slice())
            .or_insert_with(|| {
                let l = label_of(&m.module);
                sources.push(SourceText::new(l.as_str(), Arc::clone(&m.content)));
                l
            })
            .clone();
        labels.insert(m.module.clone(), label);
    }
    sources.extend(base.iter().cloned());
    (sources, labels)
}

/// `sources` resolved again after the `changed` labels were added or changed (none went
/// away): incrementally from `previous` when the change is small. A bulk upload (a
/// quarter of the files or more) re-resolves most modules anyway, so a full resolve is
/// as fast and exact.
fn resolve_changes(previous: &Mib, sources: &[SourceText], changed: &[&str]) -> Mib {
    let options = ResolveOptions::default();
    if changed.len().saturating_mul(4) >= sources.len() {
        return flowvision_mib::resolve(sources, &options);
    }
    flowvision_mib::resolve_incremental(previous, sources, changed, &options)
}

fn severity_word(s: Severity) -> String {
    s.as_str().to_owned()
}

/// The diagnostics of `module` in the file labelled `label`, for the API.
fn diagnostics_of(mib: &Mib, label: &str, module: &str, file_shown: &str) -> Vec<DiagView> {
    mib.diagnostics()
        .iter()
        .filter(|d| d.file == label && d.module.as_deref().map_or(true, |m| m == module))
        .map(|d| view_diag(d, file_shown))
        .collect()
}

fn view_diag(d: &Diagnostic, file_shown: &str) -> DiagView {
    DiagView {
        file: file_shown.to_owned(),
        line: d.line,
        severity: severity_word(d.severity),
        message: d.message.clone(),
    }
}

fn stored_diags(m: &StoredModule) -> Vec<DiagView> {
    serde_json::from_value(m.diagnostics.clone()).unwrap_or_default()
}

fn counts(diags: &[DiagView]) -> (usize, usize, usize) {
    let errors = diags.iter().filter(|d| d.severity == "error").count();
    let warnings = diags.iter().filter(|d| d.severity == "warning").count();
    (diags.len(), errors, warnings)
}

/// Runs a resolve off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, MibError> {
    rocket::tokio::task::spawn_blocking(f).await.map_err(|e| MibError::Task(e.to_string()))
}

impl MibService {
    /// An empty service reading base modules from `base_dirs` (loaded by [`Self::load`]).
    pub fn new(base_dirs: Vec<PathBuf>) -> Self {
        Self {
            state: RwLock::new(Arc::new(MibState::default())),
            writer: rocket::tokio::sync::Mutex::new(()),
            base_dirs,
            limits: Limits::default(),
        }
    }

    /// The current state.
    pub fn snapshot(&self) -> Arc<MibState> {
        // A poisoned lock only means a writer panicked between two whole states.
        Arc::clone(&self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn swap(&self, next: MibState) {
        *self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
    }

    /// Reads the base folders and the stored modules and resolves everything (start-up).
    /// An unreadable base folder is logged and skipped: the uploads still load.
    pub async fn load(&self, db: &Db) -> Result<(), MibError> {
        let _w = self.writer.lock().await;
        let stored = db.mib_modules().await?;
        let dirs = self.base_dirs.clone();
        let state = blocking(move || {
            let base = match flowvision_mib::fs::base_files(&dirs)
                .and_then(|f| flowvision_mib::fs::read_files(&f))
            {
                Ok(b) => b,
                Err(e) => {
                    log::warn!("MIB base modules: {e}");
                    Vec::new()
                }
            };
            let (sources, labels) = sources_for(&stored, &base);
            let mib = flowvision_mib::resolve(&sources, &ResolveOptions::default());
            MibState { mib, stored, base, sources, labels }
        })
        .await?;
        log::info!(
            "MIB tree: {} modules ({} uploaded), {} nodes",
            state.mib.modules().len(),
            state.stored.len(),
            state.mib.nodes().len()
        );
        self.swap(state);
        Ok(())
    }

    /// Unpacks, resolves and stores an upload; see the module documentation.
    pub async fn upload(
        &self,
        db: &Db,
        user: &str,
        name: &str,
        bytes: Vec<u8>,
        force: bool,
    ) -> Result<UploadReport, MibError> {
        let limits = self.limits;
        let name = name.to_owned();
        let bundle = blocking(move || bundle::unpack(&name, &bytes, &limits)).await??;
        let _w = self.writer.lock().await;
        let previous = self.snapshot();
        let user = user.to_owned();
        let (report, upserts, next) =
            blocking(move || plan_upload(&previous, bundle, &user, force)).await??;
        if !upserts.is_empty() {
            db.mib_apply(&upserts, &[]).await?;
        }
        if let Some(next) = next {
            self.swap(next);
        }
        let now = self.snapshot();
        Ok(UploadReport { loaded_modules: now.mib.modules().len(), nodes: now.mib.nodes().len(), ..report })
    }

    /// Deletes an uploaded module and re-resolves; reports what named it.
    pub async fn delete(&self, db: &Db, module: &str) -> Result<DeleteReport, MibError> {
        let _w = self.writer.lock().await;
        let previous = self.snapshot();
        let Some(row) = previous.stored.iter().find(|m| m.module == module) else {
            return Err(match previous.mib.module(module) {
                Some(_) => MibError::Base(module.to_owned()),
                None => MibError::NotFound,
            });
        };
        let dependents = dependents(&previous.mib, module);
        let was_loaded = row.is_ok();
        db.mib_apply(&[], &[module.to_owned()]).await?;
        let stored: Vec<StoredModule> =
            previous.stored.iter().filter(|m| m.module != module).cloned().collect();
        let next = if was_loaded {
            let base = previous.base.clone();
            blocking(move || {
                let (sources, labels) = sources_for(&stored, &base);
                // A source went away: only a full resolve is exact (docs/mib.md).
                let mib = flowvision_mib::resolve(&sources, &ResolveOptions::default());
                MibState { mib, stored, base, sources, labels }
            })
            .await?
        } else {
            MibState {
                mib: previous.mib.clone(),
                stored,
                base: previous.base.clone(),
                sources: previous.sources.clone(),
                labels: previous.labels.clone(),
            }
        };
        let base_restored = next.mib.module(module).is_some();
        self.swap(next);
        Ok(DeleteReport { module: module.to_owned(), dependents, base_restored })
    }
}

/// Loaded modules naming `module`, by name.
fn dependents(mib: &Mib, module: &str) -> Vec<String> {
    mib.modules()
        .iter()
        .filter(|m| m.references.iter().any(|r| r == module))
        .map(|m| m.name.clone())
        .collect()
}

/// One module of the trial: where it was declared and what the resolver made of it.
struct Candidate {
    module: String,
    file: String,
    label: String,
    content: Arc<[u8]>,
    sha: Vec<u8>,
}

/// The trial resolve's verdict on a candidate.
fn verdict(trial: &Mib, c: &Candidate) -> (bool, Option<String>, Vec<DiagView>) {
    let info = trial.module(&c.module).filter(|m| m.file == c.label);
    let diags = diagnostics_of(trial, &c.label, &c.module, &c.file);
    let ok = info.is_some() && !diags.iter().any(|d| d.severity == "error");
    (ok, info.and_then(|m| m.last_revision.clone()), diags)
}

type Planned = (UploadReport, Vec<StoredModule>, Option<MibState>);

/// Decides what an upload does (blocking: resolves).
fn plan_upload(previous: &MibState, bundle: Bundle, user: &str, force: bool) -> Result<Planned, MibError> {
    let Bundle { kind, files, skipped } = bundle;
    let mut notes: Vec<FileNote> =
        skipped.into_iter().map(|s| FileNote { file: s.name, reason: s.reason }).collect();
    let file_count = files.len();
    // New candidates: the first file declaring each module.
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut new_sources = Vec::new();
    for (i, f) in files.into_iter().enumerate() {
        let headers = scan::module_headers(&f.bytes);
        if headers.is_empty() {
            notes.push(FileNote {
                file: f.name,
                reason: "no MIB module in this file (no `NAME DEFINITIONS ::= BEGIN` line)".into(),
            });
            continue;
        }
        let label = format!("new:{i}:{}", f.name);
        let content: Arc<[u8]> = f.bytes.into();
        let sha = sha256(&content);
        let mut used = false;
        for h in headers {
            if let Some(first) = candidates.iter().find(|c| c.module == h.name) {
                notes.push(FileNote {
                    file: f.name.clone(),
                    reason: format!("module {} is also in {}, which is used", h.name, first.file),
                });
                continue;
            }
            used = true;
            candidates.push(Candidate {
                module: h.name,
                file: f.name.clone(),
                label: label.clone(),
                content: Arc::clone(&content),
                sha: sha.clone(),
            });
        }
        if used {
            new_sources.push(SourceText::new(label, content));
        }
    }
    if candidates.is_empty() {
        let why = notes.iter().map(|n| format!("{}: {}", n.file, n.reason)).collect::<Vec<_>>().join("; ");
        return Err(MibError::NoModule(if why.is_empty() { "no files".into() } else { why }));
    }
    // Quarantined modules get another chance, unless replaced now or sharing a file
    // that is already loaded (their errors are their own then).
    let new_modules: HashSet<&str> = candidates.iter().map(|c| c.module.as_str()).collect();
    let loaded_shas: HashSet<&[u8]> =
        previous.stored.iter().filter(|m| m.is_ok()).map(|m| m.sha256.as_slice()).collect();
    let new_shas: HashSet<&[u8]> = candidates.iter().map(|c| c.sha.as_slice()).collect();
    // Modules of one file share its source (and label), as in `sources_for`.
    let mut retry_labels: HashMap<&[u8], String> = HashMap::new();
    let retries: Vec<Candidate> = previous
        .stored
        .iter()
        .filter(|m| !m.is_ok() && !new_modules.contains(m.module.as_str()))
        .filter(|m| !loaded_shas.contains(m.sha256.as_slice()) && !new_shas.contains(m.sha256.as_slice()))
        .map(|m| Candidate {
            module: m.module.clone(),
            file: m.file_name.clone(),
            label: retry_labels.entry(m.sha256.as_slice()).or_insert_with(|| label_of(&m.module)).clone(),
            content: Arc::clone(&m.content),
            sha: m.sha256.clone(),
        })
        .collect();

    // The trial: new files first (they win over stored copies), then the retries,
    // then what the previous tree was resolved from.
    let mut trial_sources = new_sources;
    let mut seen_retry: HashSet<&[u8]> = HashSet::new();
    for r in &retries {
        if seen_retry.insert(r.sha.as_slice()) {
            trial_sources.push(SourceText::new(r.label.as_str(), Arc::clone(&r.content)));
        }
    }
    let changed: Vec<String> = trial_sources.iter().map(|s| s.label().to_owned()).collect();
    trial_sources.extend(previous.sources.iter().cloned());
    let changed_refs: Vec<&str> = changed.iter().map(String::as_str).collect();
    let trial = resolve_changes(&previous.mib, &trial_sources, &changed_refs);

    let now = OffsetDateTime::now_utc();
    let stored_by_name: BTreeMap<&str, &StoredModule> =
        previous.stored.iter().map(|m| (m.module.as_str(), m)).collect();
    let mut outcomes = Vec::new();
    let mut upserts = Vec::new();
    for c in &candidates {
        let (ok, revision, diags) = verdict(&trial, c);
        let before = stored_by_name.get(c.module.as_str()).copied();
        let previous_revision = before.and_then(|b| b.revision.clone());
        let action = match before {
            None => "added",
            Some(b) if b.sha256 == c.sha => "unchanged",
            Some(b) if b.is_ok() && !ok => "kept_previous",
            Some(b)
                if b.is_ok()
                    && !force
                    && matches!((&revision, &b.revision), (Some(new), Some(old)) if new < old) =>
            {
                "older_revision"
            }
            Some(_) => "replaced",
        };
        let status = if ok { "ok" } else { "quarantined" };
        let store = match action {
            "older_revision" | "kept_previous" => false,
            // Same bytes: stored again only when the verdict changed.
            "unchanged" => before.is_some_and(|b| b.is_ok() != ok),
            _ => true,
        };
        if store {
            upserts.push(StoredModule {
                module: c.module.clone(),
                file_name: c.file.clone(),
                content: Arc::clone(&c.content),
                sha256: c.sha.clone(),
                revision: revision.clone(),
                status: status.to_owned(),
                diagnostics: serde_json::to_value(&diags).unwrap_or_default(),
                uploaded_by: user.to_owned(),
                uploaded_at: now,
            });
        }
        outcomes.push(ModuleOutcome {
            module: c.module.clone(),
            file: c.file.clone(),
            action,
            status,
            revision,
            previous_revision,
            diagnostics: diags,
        });
    }
    for r in &retries {
        let (ok, revision, diags) = verdict(&trial, r);
        if let Some(b) = stored_by_name.get(r.module.as_str()) {
            if ok {
                upserts.push(StoredModule {
                    revision: revision.clone(),
                    status: "ok".into(),
                    diagnostics: serde_json::to_value(&diags).unwrap_or_default(),
                    ..(*b).clone()
                });
            }
        }
        outcomes.push(ModuleOutcome {
            module: r.module.clone(),
            file: r.file.clone(),
            action: "retried",
            status: if ok { "ok" } else { "quarantined" },
            revision,
            previous_revision: stored_by_name.get(r.module.as_str()).and_then(|b| b.revision.clone()),
            diagnostics: diags,
        });
    }

    let report = UploadReport {
        kind: kind.as_str(),
        files: file_count,
        modules: outcomes,
        notes,
        loaded_modules: 0,
        nodes: 0,
    };
    if upserts.is_empty() {
        return Ok((report, upserts, None));
    }
    // The stored set after the commit, and the tree resolved from it.
    let mut stored: BTreeMap<String, StoredModule> =
        previous.stored.iter().map(|m| (m.module.clone(), m.clone())).collect();
    for u in &upserts {
        stored.insert(u.module.clone(), u.clone());
    }
    let stored: Vec<StoredModule> = stored.into_values().collect();
    let (sources, labels) = sources_for(&stored, &previous.base);
    let before: HashMap<&str, &[u8]> = previous.sources.iter().map(|s| (s.label(), s.bytes())).collect();
    let after: HashSet<&str> = sources.iter().map(SourceText::label).collect();
    let mib = if before.keys().all(|l| after.contains(l)) {
        let changed: Vec<&str> = sources
            .iter()
            .filter(|s| before.get(s.label()).map_or(true, |b| *b != s.bytes()))
            .map(SourceText::label)
            .collect();
        resolve_changes(&previous.mib, &sources, &changed)
    } else {
        flowvision_mib::resolve(&sources, &ResolveOptions::default())
    };
    let next = MibState { mib, stored, base: previous.base.clone(), sources, labels };
    Ok((report, upserts, Some(next)))
}

// ---- Views ----

impl MibState {
    /// The file a module is shown with: the uploaded name, or the base path.
    fn shown_file(&self, label: &str) -> String {
        match label.strip_prefix(UPLOAD) {
            Some(module) => self
                .stored
                .iter()
                .find(|m| m.module == module)
                .map_or_else(|| label.to_owned(), |m| m.file_name.clone()),
            None => label.to_owned(),
        }
    }

    fn stored(&self, module: &str) -> Option<&StoredModule> {
        self.stored.iter().find(|m| m.module == module)
    }

    /// Diagnostics of a module: as stored for a quarantined upload, else live from the
    /// tree.
    pub fn module_diagnostics(&self, module: &str) -> Vec<DiagView> {
        match (self.stored(module), self.mib.module(module)) {
            (Some(s), _) if !s.is_ok() => stored_diags(s),
            (_, Some(info)) => diagnostics_of(&self.mib, &info.file, module, &self.shown_file(&info.file)),
            (Some(s), None) => stored_diags(s),
            (None, None) => Vec::new(),
        }
    }

    /// A module's list entry. An upload is listed as such even when it is quarantined
    /// and a base module of the same name is the one loaded (deleting the upload then
    /// changes nothing in the tree).
    fn summary(&self, name: &str) -> Option<ModuleSummary> {
        let info = self.mib.module(name);
        let stored = self.stored(name);
        if info.is_none() && stored.is_none() {
            return None;
        }
        let diags = self.module_diagnostics(name);
        let (n, errors, warnings) = counts(&diags);
        let from_upload = info.is_some_and(|i| i.file.starts_with(UPLOAD));
        Some(ModuleSummary {
            name: name.to_owned(),
            source: if stored.is_some() { "uploaded" } else { "base" },
            status: match stored {
                Some(s) if !s.is_ok() => "quarantined",
                Some(_) | None => "ok",
            },
            file: match (stored, info) {
                (Some(s), _) => s.file_name.clone(),
                (None, Some(i)) => self.shown_file(&i.file),
                (None, None) => String::new(),
            },
            revision: match (stored, info) {
                (Some(s), _) if !from_upload => s.revision.clone(),
                (_, Some(i)) => i.last_revision.clone(),
                (Some(s), None) => s.revision.clone(),
                (None, None) => None,
            },
            language: info.filter(|_| from_upload || stored.is_none()).map(|i| i.language.clone()),
            diagnostics: n,
            errors,
            warnings,
            uploaded_by: stored.map(|s| s.uploaded_by.clone()),
            uploaded_at: stored.map(|s| crate::data::ts(s.uploaded_at)),
        })
    }

    /// Every module: loaded ones and quarantined uploads, by name.
    pub fn modules(&self) -> Vec<ModuleSummary> {
        let mut names: Vec<&str> = self.mib.modules().iter().map(|m| m.name.as_str()).collect();
        names.extend(self.stored.iter().map(|m| m.module.as_str()));
        names.sort_unstable();
        names.dedup();
        names.into_iter().filter_map(|n| self.summary(n)).collect()
    }

    /// One module in detail.
    pub fn module_detail(&self, name: &str) -> Option<ModuleDetail> {
        let summary = self.summary(name)?;
        let info = self.mib.module(name);
        Some(ModuleDetail {
            summary,
            organization: info.map(|i| i.organization.clone()).unwrap_or_default(),
            description: info.map(|i| i.description.clone()).unwrap_or_default(),
            imports: info.map(|i| i.imports.clone()).unwrap_or_default(),
            dependents: dependents(&self.mib, name),
            diagnostics_list: self.module_diagnostics(name),
        })
    }

    /// Finds a node by `MODULE::name`, a plain name, or a dotted OID (an instance OID
    /// gives its object and the instance arcs).
    pub fn find(&self, q: &str) -> Option<(&MibNode, Option<String>)> {
        let q = q.trim();
        if q.contains("::") {
            return self.mib.lookup(q).map(|n| (n, None));
        }
        if let Ok(oid) = q.parse::<Oid>() {
            if let Some(n) = self.mib.at(&oid).first() {
                return Some((&**n, None));
            }
            let n = self.mib.longest_prefix(&oid)?;
            let rest: Vec<String> = oid.arcs().iter().skip(n.oid.len()).map(u32::to_string).collect();
            return Some((n, Some(rest.join("."))));
        }
        self.mib.lookup(q).map(|n| (n, None))
    }

    fn node_ref(&self, n: &MibNode) -> NodeRef {
        let has_children = self.mib.subtree(&n.oid).next().is_some();
        NodeRef {
            name: n.name.clone(),
            module: n.module.clone(),
            oid: n.oid.to_string(),
            kind: n.kind.as_str(),
            has_children,
        }
    }

    /// The nearest named descendants of `oid` (one per OID: the first name), in OID
    /// order. The empty OID gives the roots.
    pub fn children(&self, oid: &Oid) -> Vec<NodeRef> {
        let mut out: Vec<NodeRef> = Vec::new();
        let mut last: Option<&Oid> = None;
        for n in self.mib.subtree(oid) {
            if last.is_some_and(|l| l.is_prefix_of(&n.oid)) {
                continue;
            }
            out.push(self.node_ref(n));
            last = Some(&n.oid);
        }
        out
    }

    /// The object page of a node.
    pub fn node_view(&self, n: &MibNode, instance: Option<String>) -> NodeView {
        let module = self.mib.module(&n.module);
        let parent = (1..n.oid.len()).rev().find_map(|len| {
            let prefix = Oid::new(n.oid.arcs().get(..len)?.to_vec());
            self.mib.at(&prefix).first().map(|p| self.node_ref(p))
        });
        NodeView {
            name: n.name.clone(),
            module: n.module.clone(),
            qualified_name: n.qualified_name(),
            oid: n.oid.to_string(),
            kind: n.kind.as_str(),
            syntax: n.syntax.as_ref().map(|s| SyntaxView {
                type_name: s.type_name.clone(),
                textual_convention: s.textual_convention.clone(),
                base: s.base.clone(),
                display_hint: Some(s.display_hint.clone()).filter(|h| !h.is_empty()),
                named_values: s
                    .named_values
                    .iter()
                    .map(|(name, value)| NamedValue { name: name.clone(), value: *value })
                    .collect(),
                ranges: s.ranges.clone(),
            }),
            access: n.access.map(|a| a.as_str()),
            status: n.status.map(|s| s.as_str()),
            units: Some(n.units.clone()).filter(|u| !u.is_empty()),
            defval: n.defval.clone(),
            index: n.index.clone(),
            index_implied_last: n.index_implied_last,
            augments: n.augments.clone(),
            members: n.members.clone(),
            description: n.description.clone(),
            module_revision: module.and_then(|m| m.last_revision.clone()),
            module_file: module.map(|m| self.shown_file(&m.file)),
            other_names: self
                .mib
                .at(&n.oid)
                .iter()
                .filter(|o| !(o.module == n.module && o.name == n.name))
                .map(|o| o.qualified_name())
                .collect(),
            parent,
            instance,
            children: self.children(&n.oid),
        }
    }

    /// Searches names, OIDs and description words (ASCII case-insensitive); best first.
    pub fn search(&self, q: &str, limit: usize) -> SearchResult {
        let q = q.trim();
        let mut hits: Vec<(u8, &MibNode, &'static str)> = Vec::new();
        if let Ok(oid) = q.parse::<Oid>() {
            for n in self.mib.at(&oid) {
                hits.push((0, n, "oid"));
            }
            if hits.is_empty() {
                if let Some(n) = self.mib.longest_prefix(&oid) {
                    hits.push((1, n, "oid-prefix"));
                }
            }
        } else if q.contains("::") {
            if let Some(n) = self.mib.lookup(q) {
                hits.push((0, n, "name"));
            }
        } else if !q.is_empty() {
            let lower = q.to_ascii_lowercase();
            let words: Vec<String> = lower.split_whitespace().map(str::to_owned).collect();
            for n in self.mib.nodes() {
                let name = n.name.as_str();
                let hit = if name.eq_ignore_ascii_case(q) {
                    Some((2, "name"))
                } else if starts_with_ci(name, &lower) {
                    Some((3, "name-prefix"))
                } else if contains_ci(name, &lower) {
                    Some((4, "name-part"))
                } else if !words.is_empty()
                    && words.iter().all(|w| contains_ci(&n.description, w) || contains_ci(name, w))
                {
                    Some((5, "description"))
                } else {
                    None
                };
                if let Some((rank, how)) = hit {
                    hits.push((rank, &**n, how));
                }
            }
        }
        hits.sort_by(|a, b| {
            (a.0, a.1.name.len(), &a.1.name, &a.1.oid).cmp(&(b.0, b.1.name.len(), &b.1.name, &b.1.oid))
        });
        let total = hits.len();
        let hits = hits
            .into_iter()
            .take(limit)
            .map(|(_, n, matched)| SearchHit {
                node: self.node_ref(n),
                qualified_name: n.qualified_name(),
                matched,
                excerpt: excerpt(&n.description),
            })
            .collect();
        SearchResult { q: q.to_owned(), total, hits }
    }
}

fn starts_with_ci(hay: &str, lower_needle: &str) -> bool {
    hay.as_bytes().get(..lower_needle.len()).is_some_and(|p| p.eq_ignore_ascii_case(lower_needle.as_bytes()))
}

fn contains_ci(hay: &str, lower_needle: &str) -> bool {
    let n = lower_needle.as_bytes();
    !n.is_empty() && hay.as_bytes().windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// The description's first 160 characters, whitespace folded.
fn excerpt(description: &str) -> String {
    let folded = description.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() > 160 {
        let mut s: String = folded.chars().take(160).collect();
        s.push('…');
        s
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn case_insensitive_matching() {
        assert!(contains_ci("ifHCInOctets", "hcin"));
        assert!(!contains_ci("ifIndex", ""));
        assert!(starts_with_ci("ifDescr", "ifd"));
        assert!(!starts_with_ci("if", "ifd"));
        assert_eq!(excerpt("  a\n   b  "), "a b");
        assert!(excerpt(&"x ".repeat(200)).ends_with('…'));
    }
}
