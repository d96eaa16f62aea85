//! Scripts and styles served from the binary itself: the pages work on a closed
//! network, with nothing fetched from elsewhere.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

/// (name, content type, bytes). The ECharts build is Apache ECharts 5.6.0 as published
/// (dist/echarts.min.js); its LICENSE and NOTICE sit beside it in the source tree.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.css", "text/css; charset=utf-8", include_bytes!("assets/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("assets/app.js")),
    ("echarts.min.js", "text/javascript; charset=utf-8", include_bytes!("assets/vendor/echarts/echarts-5.6.0.min.js")),
];

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => {
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "public, max-age=3600")], *bytes)
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
