//! The JSON API under `/api/v1`: one module per resource with its handlers and routes;
//! each handler parses its input, calls the application's operation and renders JSON.
//! Health and metrics endpoints sit beside it.

pub mod audit;
pub mod catalog;
pub mod companies;
pub mod error;
pub mod extract;
pub mod labs;
pub mod planning;
pub mod policy;
pub mod requests;

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use self::error::ApiError;
use crate::app::AppError;
use crate::state::AppState;

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

/// The API routes behind the route policy, with the OpenAPI document beside them.
pub fn router(state: AppState) -> Router<AppState> {
    let (api_routes, openapi) = api();
    let openapi = std::sync::Arc::new(openapi);
    // route_layer: the policy sees the matched route, and unknown paths still answer 404.
    api_routes
        .route_layer(middleware::from_fn_with_state(state, policy::enforce))
        .route("/api/v1/openapi.json", get(move || async move { Json(openapi.as_ref().clone()) }))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
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

/// An unknown API path.
pub fn not_found() -> Response {
    ApiError::App(AppError::NotFound("no such resource".into())).into_response()
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

pub async fn track_metrics(req: Request, next: Next) -> Response {
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

/// `?page=&per_page=` of a list without other filters.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number (default 1)
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page (default 50, at most 500)
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

impl PageParams {
    pub fn parse(self) -> Result<crate::domain::paging::PageRequest, ApiError> {
        Ok(crate::domain::paging::PageRequest::parse(self.page, self.per_page)?)
    }
}
