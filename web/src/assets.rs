//! Static assets: the console's own CSS and JavaScript (compiled in), and Chart.js,
//! served from the npm install under `WEB_ASSETS_DIR` (web/node_modules), never copied
//! into the repository. Public: they hold no data.

use crate::App;
use rocket::fs::NamedFile;
use rocket::http::ContentType;
use rocket::{get, routes, Route, State};

/// The console's stylesheet.
pub const APP_CSS: &str = include_str!("../static/app.css");
/// The console's script (charts, range picker, confirmations).
pub const APP_JS: &str = include_str!("../static/app.js");
/// The forwarding rules page's script (filter check as typed, live counters).
pub const RULES_JS: &str = include_str!("../static/rules.js");
/// The MIB pages' script (uploads, lazy OID tree).
pub const MIBS_JS: &str = include_str!("../static/mibs.js");
/// Path of Chart.js under the assets directory.
pub const CHART_JS: &str = "chart.js/dist/chart.umd.js";

/// The asset routes.
pub fn routes() -> Vec<Route> {
    routes![css, js, rules_js, mibs_js, chart]
}

#[get("/static/app.css")]
fn css() -> (ContentType, &'static str) {
    (ContentType::CSS, APP_CSS)
}

#[get("/static/app.js")]
fn js() -> (ContentType, &'static str) {
    (ContentType::JavaScript, APP_JS)
}

#[get("/static/rules.js")]
fn rules_js() -> (ContentType, &'static str) {
    (ContentType::JavaScript, RULES_JS)
}

#[get("/static/mibs.js")]
fn mibs_js() -> (ContentType, &'static str) {
    (ContentType::JavaScript, MIBS_JS)
}

#[get("/static/vendor/chart.umd.js")]
async fn chart(app: &State<App>) -> Option<NamedFile> {
    let path = app.cfg.assets_dir.join(CHART_JS);
    match NamedFile::open(&path).await {
        Ok(f) => Some(f),
        Err(e) => {
            log::warn!("{}: {e} (run `npm ci` in web/, or set WEB_ASSETS_DIR)", path.display());
            None
        }
    }
}
