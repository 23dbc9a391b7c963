//! The exporter page's name-and-notes form (`POST /exporters/<addr>/name`), the same
//! operation as `PUT /api/v1/exporters/<addr>/name` ([`crate::api::exporter_names`]).

use crate::auth::{Auth, CsrfForm};
use crate::error::{AppError, AppResult};
use crate::App;
use maud::{html as m, Markup};
use rocket::response::Redirect;
use rocket::{post, routes, FromForm, Route, State};
use std::net::IpAddr;

/// The routes of this module.
pub fn routes() -> Vec<Route> {
    routes![name_form]
}

/// The form's fields.
#[derive(Debug, FromForm)]
struct NameForm {
    display_name: String,
    notes: String,
}

/// The form on the exporter page (for callers allowed to name exporters).
pub fn form(auth: &Auth, exporter: &str, display_name: Option<&str>, notes: &str) -> Markup {
    m! {
        details.card #exporter-name-card {
            summary { "Name and notes" }
            form #exporter-name-form method="post" action={ "/exporters/" (exporter) "/name" } {
                (super::layout::csrf_field(auth))
                label for="exporter-display-name" { "Display name" }
                input #exporter-display-name type="text" name="display_name" maxlength="100" value=(display_name.unwrap_or(""));
                label for="exporter-notes" { "Notes" }
                textarea #exporter-notes name="notes" rows="3" maxlength="4000" { (notes) }
                button #exporter-name-submit type="submit" { "Save" }
            }
        }
    }
}

/// How an exporter is shown where its address was: the name with the address beside
/// it, or the address alone.
pub fn label(exporter: &str, display_name: Option<&str>) -> Markup {
    m! {
        @if let Some(n) = display_name {
            span.exporter-name data-test="exporter-name" { (n) } " " span.muted.addr { (exporter) }
        } @else { (exporter) }
    }
}

#[post("/exporters/<addr>/name", data = "<form>")]
async fn name_form(
    auth: Auth,
    app: &State<App>,
    addr: &str,
    form: CsrfForm<NameForm>,
) -> AppResult<Redirect> {
    let ip: IpAddr = addr.parse().map_err(|_| AppError::NotFound)?;
    crate::api::exporter_names::set_name(app, &auth, ip, &form.0.display_name, &form.0.notes).await?;
    Ok(Redirect::to(format!("/exporters/{ip}")))
}
