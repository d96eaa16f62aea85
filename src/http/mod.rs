//! HTTP: the JSON API under `/api/v1`, health and metrics endpoints.

pub mod audit;
pub mod catalog;
pub mod companies;
pub mod error;
pub mod extract;
pub mod labs;
pub mod pagination;
pub mod planning;
pub mod requests;
pub mod validate;

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::DatabaseConnection;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use self::error::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Failed sign-ins, per account and address.
    pub limiter: std::sync::Arc<crate::web::limiter::Limiter>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "labplan", description = "Testing-demand registry and lab capacity scheduler"),
    tags(
        (name = "requests", description = "Test requests filed by companies"),
        (name = "catalog", description = "Regions, equipment classes, test types"),
        (name = "labs", description = "Labs, accreditation scope, capacity"),
        (name = "companies", description = "Companies that file requests"),
        (name = "audit", description = "Who changed what, when (admin)"),
        (name = "planning", description = "Planning runs, the published plan and the labs' answers"),
    )
)]
struct ApiDoc;

/// The whole API and its OpenAPI document, built from the same route list so they cannot drift.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .merge(requests::router())
        .merge(catalog::router())
        .merge(companies::router())
        .merge(labs::router())
        .merge(planning::router())
        .merge(audit::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1).split_for_parts()
}

pub fn router(state: AppState) -> Router {
    let (api_routes, openapi) = api();
    let openapi = std::sync::Arc::new(openapi);
    // route_layer: the policy sees the matched route, and unknown paths still answer 404.
    api_routes
        .route_layer(middleware::from_fn_with_state(state.clone(), crate::auth::policy::enforce))
        .route("/api/v1/openapi.json", get(move || async move { Json(openapi.as_ref().clone()) }))
        .merge(crate::web::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(extract::MAX_JSON_BODY))
        .layer(middleware::from_fn(track_metrics))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    if crate::db::is_ready(&state.db).await {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable or migrations pending").into_response()
    }
}

/// Unknown paths: problem+json for the API, a page in the user's language for a browser.
async fn not_found(req: Request) -> Response {
    let wants_html = req
        .headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && !req.uri().path().starts_with("/api/") {
        return crate::web::not_found_page(&req);
    }
    ApiError::NotFound("no such resource".into()).into_response()
}

/// The process-wide Prometheus recorder; several servers in one test process share it.
fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then ours just stays empty.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

async fn metrics_text() -> String {
    prometheus().render()
}

async fn track_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let response = next.run(req).await;
    let labels = [("method", method), ("path", path), ("status", response.status().as_u16().to_string())];
    metrics::counter!("labplan_http_requests_total", &labels).increment(1);
    metrics::histogram!("labplan_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// Installs the metrics recorder before the first request so `/metrics` is never empty.
pub fn init_metrics() {
    let _ = prometheus();
}
