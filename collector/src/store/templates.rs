//! Persistence of the template cache ([`CacheSnapshot`]): one row per template in
//! `templates` and one per scope in `template_options`, plus a local JSON copy in the
//! spool directory so a collector that starts while the database is down still
//! decodes data whose templates it learned before the restart.
//!
//! Saving replaces, per scope present in the snapshot, the set of templates: a
//! template withdrawn by its exporter disappears from the database with the next save.
//! Scopes absent from the snapshot are left alone (another collector may own them).

use super::error::StoreError;
use super::time::{system_time, unix_ms};
use flowvision_codec::template::{SavedOptions, SavedTemplate, ScopeKey, TemplateKind};
use flowvision_codec::{CacheSnapshot, Protocol};
use flowvision_schema::tables::{TEMPLATES, TEMPLATE_OPTIONS};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use tokio_postgres::Client;

/// File name of the local copy inside the spool directory.
pub const LOCAL_FILE: &str = "templates.json";

/// Reads every persisted template and options state.
pub async fn load_templates(client: &Client) -> Result<CacheSnapshot, StoreError> {
    let mut snap = CacheSnapshot::default();
    for r in client
        .query(
            &format!(
                "SELECT exporter, protocol::text, observation_domain, template_id, kind, fields, last_seen \
             FROM {TEMPLATES} ORDER BY exporter, protocol, observation_domain, template_id"
            ),
            &[],
        )
        .await?
    {
        let protocol: String = r.get(1);
        let Some(scope) = scope(r.get(0), &protocol, r.get(2)) else { continue };
        let id: i32 = r.get(3);
        let Ok(id) = u16::try_from(id) else { continue };
        let kind: TemplateKind = serde_json::from_value(r.get(4))?;
        let fields = serde_json::from_value(r.get(5))?;
        let last_seen: SystemTime = r.get(6);
        snap.templates.push(SavedTemplate { scope, id, kind, fields, last_seen_ms: unix_ms(last_seen) });
    }
    for r in client
        .query(
            &format!(
                "SELECT exporter, protocol::text, observation_domain, domain_rate, samplers, system_init_ms \
             FROM {TEMPLATE_OPTIONS} ORDER BY exporter, protocol, observation_domain"
            ),
            &[],
        )
        .await?
    {
        let protocol: String = r.get(1);
        let Some(scope) = scope(r.get(0), &protocol, r.get(2)) else { continue };
        let rate: Option<i64> = r.get(3);
        let samplers: Vec<(u64, u32)> = serde_json::from_value(r.get(4))?;
        snap.options.push(SavedOptions {
            scope,
            domain_rate: rate.and_then(|v| u32::try_from(v).ok()),
            samplers,
            system_init_ms: r.get(5),
        });
    }
    Ok(snap)
}

fn scope(exporter: IpAddr, protocol: &str, domain: i64) -> Option<ScopeKey> {
    Some(ScopeKey { exporter, protocol: Protocol::from_name(protocol)?, domain: u32::try_from(domain).ok()? })
}

/// Writes `snap` (see the module doc for what replaces what); returns the number of
/// templates written.
pub async fn save_templates(client: &Client, snap: &CacheSnapshot) -> Result<usize, StoreError> {
    let mut t_exp = Vec::new();
    let mut t_proto = Vec::new();
    let mut t_dom = Vec::new();
    let mut t_id = Vec::new();
    let mut t_kind = Vec::new();
    let mut t_fields = Vec::new();
    let mut t_seen = Vec::new();
    for t in &snap.templates {
        t_exp.push(t.scope.exporter);
        t_proto.push(t.scope.protocol.as_str());
        t_dom.push(i64::from(t.scope.domain));
        t_id.push(i32::from(t.id));
        t_kind.push(serde_json::to_value(t.kind)?);
        t_fields.push(serde_json::to_value(&t.fields)?);
        t_seen.push(system_time(t.last_seen_ms));
    }
    // Scopes the snapshot speaks for: their template sets are replaced.
    let mut scopes: Vec<ScopeKey> = snap.templates.iter().map(|t| t.scope).collect();
    scopes.extend(snap.options.iter().map(|o| o.scope));
    scopes.sort_unstable_by_key(|s| (s.exporter, s.protocol.as_str(), s.domain));
    scopes.dedup();
    let s_exp: Vec<IpAddr> = scopes.iter().map(|s| s.exporter).collect();
    let s_proto: Vec<&str> = scopes.iter().map(|s| s.protocol.as_str()).collect();
    let s_dom: Vec<i64> = scopes.iter().map(|s| i64::from(s.domain)).collect();
    let mut o_exp = Vec::new();
    let mut o_proto = Vec::new();
    let mut o_dom = Vec::new();
    let mut o_rate = Vec::new();
    let mut o_samplers = Vec::new();
    let mut o_init = Vec::new();
    for o in &snap.options {
        o_exp.push(o.scope.exporter);
        o_proto.push(o.scope.protocol.as_str());
        o_dom.push(i64::from(o.scope.domain));
        o_rate.push(o.domain_rate.map(i64::from));
        o_samplers.push(serde_json::to_value(&o.samplers)?);
        o_init.push(o.system_init_ms);
    }
    super::tx::transaction(client, "", async {
        client
            .execute(
                &format!("DELETE FROM {TEMPLATES} t USING unnest($1::inet[], $2::text[], $3::int8[]) AS s(e, p, d) \
                 WHERE t.exporter = s.e AND t.protocol = s.p::flow_protocol AND t.observation_domain = s.d"),
                &[&s_exp, &s_proto, &s_dom],
            )
            .await?;
        client
            .execute(
                &format!("INSERT INTO {TEMPLATES} (exporter, protocol, observation_domain, template_id, kind, fields, \
                   last_seen) \
                 SELECT e, p::flow_protocol, d, i, k, f, s FROM unnest($1::inet[], $2::text[], $3::int8[], \
                   $4::int4[], $5::jsonb[], $6::jsonb[], $7::timestamptz[]) AS u(e, p, d, i, k, f, s) \
                 ON CONFLICT (exporter, protocol, observation_domain, template_id) DO UPDATE SET \
                   kind = excluded.kind, fields = excluded.fields, last_seen = excluded.last_seen, saved_at = now()"),
                &[&t_exp, &t_proto, &t_dom, &t_id, &t_kind, &t_fields, &t_seen],
            )
            .await?;
        client
            .execute(
                &format!("INSERT INTO {TEMPLATE_OPTIONS} (exporter, protocol, observation_domain, domain_rate, samplers, \
                   system_init_ms) \
                 SELECT e, p::flow_protocol, d, r, s, i FROM unnest($1::inet[], $2::text[], $3::int8[], \
                   $4::int8[], $5::jsonb[], $6::int8[]) AS u(e, p, d, r, s, i) \
                 ON CONFLICT (exporter, protocol, observation_domain) DO UPDATE SET \
                   domain_rate = excluded.domain_rate, samplers = excluded.samplers, \
                   system_init_ms = excluded.system_init_ms, saved_at = now()"),
                &[&o_exp, &o_proto, &o_dom, &o_rate, &o_samplers, &o_init],
            )
            .await?;
        Ok::<_, tokio_postgres::Error>(())
    })
    .await?;
    Ok(snap.templates.len())
}

fn local_path(dir: &Path) -> PathBuf {
    dir.join(LOCAL_FILE)
}

/// Writes the local JSON copy atomically (temp file, fsync, rename).
pub fn save_local(dir: &Path, snap: &CacheSnapshot) -> Result<(), StoreError> {
    use std::io::Write;
    let path = local_path(dir);
    let tmp = dir.join(format!("{LOCAL_FILE}.tmp"));
    let json = serde_json::to_vec(snap)?;
    (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })()
    .map_err(StoreError::io(&path))
}

/// Reads the local JSON copy (`None` when there is none).
pub fn load_local(dir: &Path) -> Result<Option<CacheSnapshot>, StoreError> {
    let path = local_path(dir);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::Io { path, source: e }),
    }
}
