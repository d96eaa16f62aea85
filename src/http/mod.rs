//! The JSON API under `/api/v1`: one module per resource with its handlers and routes;
//! each handler parses its input, calls the application's operation and renders JSON.
//! Health and metrics endpoints sit beside it.

pub mod audit;
pub mod catalog;
pub mod companies;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod labs;
pub mod life;
pub mod notices;
pub mod planning;
pub mod policy;
pub mod requests;
pub mod scenarios;
pub mod spreadsheets;

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
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
        (name = "scenarios", description = "What-if scenarios: the registry with changes, solved and compared with a baseline"),
        (name = "dashboard", description = "The ministry's figures"),
        (name = "notices", description = "The caller's notices"),
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
        .merge(scenarios::router())
        .merge(audit::router())
        .merge(life::router())
        .merge(dashboard::router())
        .merge(notices::router())
        .merge(spreadsheets::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1).split_for_parts()
}

/// The OpenAPI document as served: the routes' own declarations, completed with what
/// every route answers alike — the bearer scheme, and the problem documents of refused
/// credentials (401), roles (403), bodies (400, 413, 415, 422) and an absent database
/// (503) — so that the document says all the server does.
pub fn document() -> serde_json::Value {
    let (_, openapi) = api();
    let mut doc = serde_json::to_value(&openapi).unwrap_or_default();
    complete(&mut doc);
    doc
}

fn complete(doc: &mut serde_json::Value) {
    use serde_json::json;
    doc["components"]["securitySchemes"]["bearer"] =
        json!({"type": "http", "scheme": "bearer", "description": "An API token from `labplan users token`"});
    doc["security"] = json!([{"bearer": []}]);
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else { return };
    for operations in paths.values_mut().filter_map(|o| o.as_object_mut()) {
        for operation in operations.values_mut().filter_map(|o| o.as_object_mut()) {
            if let Some(body) = operation.get_mut("requestBody") {
                declare_body(body);
            }
            let has_body = operation.contains_key("requestBody");
            let has_params = operation.get("parameters").and_then(|p| p.as_array()).is_some_and(|p| !p.is_empty());
            let responses = operation.entry("responses").or_insert_with(|| json!({}));
            if let Some(responses) = responses.as_object_mut() {
                for answer in responses.values_mut() {
                    problem_media_type(answer);
                }
                add_common_answers(responses, has_body, has_params);
            }
        }
    }
}

/// A body that may be left out is declared by its own schema and `required: false`, not
/// as "this or null"; any other body is required.
fn declare_body(body: &mut serde_json::Value) {
    let Some(schema) = body.pointer_mut("/content/application~1json/schema") else { return };
    let inner = schema
        .get("oneOf")
        .and_then(|one| one.as_array())
        .filter(|one| one.len() == 2 && one.iter().any(|s| s["type"] == "null"))
        .and_then(|one| one.iter().find(|s| s["type"] != "null").cloned());
    match inner {
        Some(inner) => {
            *schema = inner;
            body["required"] = serde_json::json!(false);
        }
        None if body.get("required").is_none() => body["required"] = serde_json::json!(true),
        None => {}
    }
}

/// Problem documents are `application/problem+json`, as the server sends them.
fn problem_media_type(answer: &mut serde_json::Value) {
    let Some(content) = answer.get_mut("content").and_then(|c| c.as_object_mut()) else { return };
    let is_problem =
        content.get("application/json").is_some_and(|json| json["schema"]["$ref"] == "#/components/schemas/Problem");
    if let (true, Some(json)) = (is_problem, content.remove("application/json")) {
        content.insert("application/problem+json".into(), json);
    }
}

fn add_common_answers(responses: &mut serde_json::Map<String, serde_json::Value>, has_body: bool, has_params: bool) {
    let mut add = |code: &str, description: &str| {
        responses.entry(code.to_string()).or_insert_with(|| {
            serde_json::json!({"description": description,
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
        });
    };
    add("401", "no credentials, or a token that is unknown, revoked or expired");
    add("403", "the caller's role may not do this");
    add("503", "the database is unavailable; try again after Retry-After seconds");
    if has_body {
        add("400", "the body is not JSON");
        add("413", "the body is too large");
        add("415", "the body is not declared as JSON");
        add("422", "invalid field values, each named");
    }
    if has_params {
        add("400", "a path parameter of the wrong type");
        add("422", "a query parameter of the wrong type or out of range");
    }
}

/// The API routes behind the route policy, with the OpenAPI document beside them.
pub fn router(state: AppState) -> Router<AppState> {
    let (api_routes, _) = api();
    let openapi = std::sync::Arc::new(document());
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

/// The Prometheus text. Gauges of the moment (the database pool, the planning queue) are
/// read when scraped.
async fn metrics_text(State(state): State<AppState>) -> String {
    if let Some(pool) = crate::db::pool_stats(&state.db) {
        metrics::gauge!("labplan_db_pool_size").set(f64::from(pool.size));
        metrics::gauge!("labplan_db_pool_idle").set(pool.idle as f64);
        metrics::gauge!("labplan_db_pool_in_use").set(f64::from(pool.size).max(pool.idle as f64) - pool.idle as f64);
    }
    if let Ok(queued) = crate::app::runs::queue_length(&state.db).await {
        metrics::gauge!("labplan_planning_queue_length").set(queued as f64);
    }
    if let Ok(pending) = crate::db::notices::mail_pending(&state.db).await {
        metrics::gauge!("labplan_notices_pending").set(pending as f64);
    }
    let in_flight = state.max_in_flight().saturating_sub(state.in_flight.available_permits());
    metrics::gauge!("labplan_http_in_flight").set(in_flight as f64);
    prometheus().render()
}

/// Routes the in-flight limit leaves alone: probes, metrics, and event streams, which stay
/// open for as long as a run solves.
fn unlimited(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics") || path.ends_with("/events")
}

/// Past the in-flight limit a request is answered 503 with Retry-After at once, so that
/// waiting times stay bounded under overload instead of growing with the queue.
pub async fn limit_in_flight(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if unlimited(req.uri().path()) {
        return next.run(req).await;
    }
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        metrics::counter!("labplan_http_shed_total").increment(1);
        return overloaded();
    };
    next.run(req).await
}

fn overloaded() -> Response {
    let problem = error::Problem {
        kind: "https://labplan.local/problems/overloaded".into(),
        title: "Service Unavailable".into(),
        status: 503,
        detail: "the server is at its limit of requests in flight; try again shortly".into(),
        errors: Vec::new(),
    };
    error::problem_response(StatusCode::SERVICE_UNAVAILABLE, &problem)
}

pub async fn track_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    // Label values come from fixed sets only: a client can invent methods and paths, and
    // every new label value is a new series kept for ever.
    let method = match *req.method() {
        Method::GET | Method::HEAD | Method::POST | Method::PUT | Method::PATCH | Method::DELETE | Method::OPTIONS => {
            req.method().as_str().to_string()
        }
        _ => "other".to_string(),
    };
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
