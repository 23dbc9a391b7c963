//! The archive page (`/archive`, admins): the store as the collector read it, the
//! archive state per day and partition (archived, rows, size, pending, failed with the
//! reason), a warning while retention is blocked, and restores (a form to restore a
//! time range, each restore removable). The same operations as `/api/v1/archive`.

use super::layout::{csrf_field, page};
use super::{html, Html};
use crate::auth::{Auth, CsrfForm};
use crate::error::AppResult;
use crate::App;
use flowvision_archive::catalog::{PartitionEntry, Status};
use maud::{html as m, Markup};
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};
use std::collections::BTreeMap;

/// The routes.
pub fn routes() -> Vec<Route> {
    routes![archive_page, restore_form, unrestore_form]
}

fn size(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} kB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn day_rows(partitions: &[PartitionEntry]) -> Markup {
    let mut days: BTreeMap<&str, Vec<&PartitionEntry>> = BTreeMap::new();
    for p in partitions {
        days.entry(p.range_start.get(..10).unwrap_or("")).or_default().push(p);
    }
    m! {
        @for (day, parts) in days.iter().rev() {
            @let archived = parts.iter().filter(|p| p.status == Status::Archived).count();
            @let failed = parts.iter().filter(|p| p.status == Status::Failed).count();
            @let rows: i64 = parts.iter().filter_map(|p| p.rows).sum();
            @let bytes: i64 = parts.iter().filter_map(|p| p.bytes).sum();
            tbody data-test="archive-day" data-day=(day) {
                tr.day {
                    th { (day) }
                    td { (archived) " of " (parts.len()) " archived" @if failed > 0 { ", " span.error { (failed) " failed" } } }
                    td.num { (rows) } td.num { (size(bytes)) } td {}
                }
                @for p in parts {
                    tr data-test="archive-partition" data-partition=(p.partition) data-status=(p.status.as_str()) {
                        td { (p.range_start.get(11..16).unwrap_or("")) " " span.muted { (p.partition) } }
                        td.status { (p.status.as_str())
                            @if p.attempts > 1 { span.muted { " (" (p.attempts) " attempts)" } } }
                        td.num { (p.rows.map_or("-".into(), |r| r.to_string())) }
                        td.num { (p.bytes.map_or("-".into(), size)) }
                        td.reason {
                            @if let Some(e) = &p.last_error { span.error data-test="archive-error" { (e) } }
                            @if let Some(n) = &p.next_attempt { span.muted { " next attempt " (n) } }
                        }
                    }
                }
            }
        }
    }
}

#[get("/archive?<done>")]
async fn archive_page(auth: Auth, app: &State<App>, done: Option<&str>) -> AppResult<Html> {
    let o = crate::api::archive::overview(app, &auth).await?;
    let s = &o.summary;
    let body = m! {
        @if let Some(d) = done { div.notice #archive-done { (d) } }
        @if let Some(w) = &o.retention.warning { div.notice.error #archive-warning data-test="archive-warning" { (w) } }
        section.card #archive-store {
            h2 { "Store" }
            @match &o.store {
                None => p.muted { "No collector has run with the archive on (USE_EXTERNAL_STORAGE=true, MINIO_*; docs/archive.md)." },
                Some(st) => table.data {
                    tr { th { "Endpoint" } td #store-endpoint { (st.endpoint) } }
                    tr { th { "Bucket" } td #store-bucket { (st.bucket) } }
                    tr { th { "TLS" } td { (if st.secure { "yes" } else { "no" }) } }
                    tr { th { "Region" } td { (st.region) } }
                    tr { th { "Access key" } td #store-access-key { (st.access_key_id) } }
                    tr { th { "Secret key" } td.muted { "set (never shown)" } }
                    tr { th { "Key prefix" } td { (st.prefix) "/date=YYYY-MM-DD/hour=HH/" } }
                    tr { th { "Read by" } td { "collector on " (st.host) ", " (st.updated_at) } }
                },
            }
        }
        section.card #archive-summary {
            h2 { "Summary" }
            p {
                span #archive-archived { (s.archived) } " partitions archived (" (s.rows) " rows, " (size(s.bytes)) "), "
                span #archive-pending { (s.pending) } " pending, "
                span #archive-failed { (s.failed) } " failed, " (s.stale) " to archive again. Retention: "
                (o.retention.retention_days) " days"
                @if o.retention.blocked_partitions > 0 { ", blocked for " (o.retention.blocked_partitions) " partitions" }
                @if let Some(f) = o.retention.disk_free_bytes { "; database disk: " (size(f as i64)) " free" }
                "."
            }
        }
        section.card #archive-partitions {
            h2 { "Partitions" }
            table.data {
                thead { tr { th { "Day / hour" } th { "Status" } th.num { "Rows" } th.num { "Size" } th { "Reason" } } }
                (day_rows(&o.partitions))
            }
        }
        section.card #archive-restores {
            h2 { "Restores" }
            @if o.enabled {
                form #restore-form method="post" action="/archive/restores" {
                    (csrf_field(&auth))
                    label for="restore-from" { "From" }
                    input #restore-from type="text" name="from" placeholder="2026-11-02T13:00:00Z";
                    label for="restore-to" { "To" }
                    input #restore-to type="text" name="to" placeholder="2026-11-02T14:00:00Z";
                    button #restore-submit type="submit" { "Restore" }
                }
                p.muted { "Restored rows appear in flow search and statistics, marked as restored, until removed." }
            } @else {
                p.muted { "Restores need the archive's settings in the console's environment too (USE_EXTERNAL_STORAGE, MINIO_*)." }
            }
            table.data {
                thead { tr { th { "Id" } th { "Range" } th { "Status" } th.num { "Rows" } th { "By" } th {} } }
                tbody {
                    @for r in &o.restores {
                        tr data-test="restore" data-id=(r.id) data-status=(r.status) {
                            td { (r.id) } td { (r.from) " to " (r.to) }
                            td { (r.status) @if let Some(e) = &r.error { " " span.error { (e) } } }
                            td.num { (r.rows) } td { (r.requested_by) }
                            td { @if r.status == "done" {
                                form method="post" action={ "/archive/restores/" (r.id) "/remove" } {
                                    (csrf_field(&auth))
                                    button type="submit" data-test="restore-remove" { "Remove" }
                                }
                            } }
                        }
                    }
                }
            }
        }
    };
    Ok(html(page("Archive", &auth, "archive", body)))
}

/// The restore form's fields.
#[derive(Debug, FromForm)]
struct RestoreForm {
    from: String,
    to: String,
}

#[post("/archive/restores", data = "<form>")]
async fn restore_form(auth: Auth, app: &State<App>, form: CsrfForm<RestoreForm>) -> AppResult<Redirect> {
    let r = crate::api::archive::restore(app, &auth, &form.0.from, &form.0.to).await?;
    let msg = format!("restore {}: {} rows", r.id, r.rows);
    Ok(Redirect::to(format!("/archive?done={}", super::urlencode(&msg))))
}

#[post("/archive/restores/<id>/remove", data = "<_form>")]
async fn unrestore_form(
    auth: Auth,
    app: &State<App>,
    id: i64,
    _form: CsrfForm<super::account::Confirm>,
) -> AppResult<Redirect> {
    let n = crate::api::archive::unrestore(app, &auth, id).await?;
    Ok(Redirect::to(format!(
        "/archive?done={}",
        super::urlencode(&format!("restore {id} removed ({n} rows)"))
    )))
}
