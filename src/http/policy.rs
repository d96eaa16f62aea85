//! Every API route and the operation it performs, in one table; one middleware
//! authenticates the caller and asks the operation's rule before the handler reads a
//! body. A route missing from the table is refused to everyone, and the access-matrix
//! test fails until it has a rule.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::app::policy::Op;
use crate::app::{AppError, users};
use crate::auth;
use crate::domain::access::{Caller, TokenClaim};
use crate::state::AppState;

/// (method, path under /api/v1, the operation)
pub const RULES: &[(&str, &str, Op)] = &[
    ("GET", "/regions", Op::ReadCatalog),
    ("POST", "/regions", Op::ManageCatalog),
    ("GET", "/regions/{code}", Op::ReadCatalog),
    ("PUT", "/regions/{code}", Op::ManageCatalog),
    ("DELETE", "/regions/{code}", Op::ManageCatalog),
    ("GET", "/equipment", Op::ReadCatalog),
    ("POST", "/equipment", Op::ManageCatalog),
    ("GET", "/equipment/{code}", Op::ReadCatalog),
    ("PUT", "/equipment/{code}", Op::ManageCatalog),
    ("DELETE", "/equipment/{code}", Op::ManageCatalog),
    ("GET", "/test-types", Op::ReadCatalog),
    ("POST", "/test-types", Op::ManageCatalog),
    ("GET", "/test-types/{code}", Op::ReadCatalog),
    ("PUT", "/test-types/{code}", Op::ManageCatalog),
    ("DELETE", "/test-types/{code}", Op::ManageCatalog),
    ("GET", "/labs", Op::ReadCatalog),
    ("POST", "/labs", Op::ManageCatalog),
    ("GET", "/labs/{id}", Op::ReadCatalog),
    ("PUT", "/labs/{id}", Op::ManageCatalog),
    ("DELETE", "/labs/{id}", Op::ManageCatalog),
    ("GET", "/labs/{id}/accreditations", Op::ReadCatalog),
    ("POST", "/labs/{id}/accreditations", Op::KeepLab),
    ("PUT", "/labs/{id}/accreditations/{test_type}", Op::KeepLab),
    ("DELETE", "/labs/{id}/accreditations/{test_type}", Op::KeepLab),
    ("GET", "/labs/{id}/capacity", Op::ReadCatalog),
    ("PUT", "/labs/{id}/capacity/{equipment}", Op::KeepLab),
    ("DELETE", "/labs/{id}/capacity/{equipment}", Op::KeepLab),
    ("GET", "/labs/{id}/capacity-overrides", Op::ReadCatalog),
    ("PUT", "/labs/{id}/capacity-overrides", Op::KeepLab),
    ("DELETE", "/labs/{id}/capacity-overrides/{equipment}/{week_start}", Op::KeepLab),
    ("GET", "/companies", Op::ReadCompanies),
    ("POST", "/companies", Op::ManageCompanies),
    ("GET", "/companies/{id}", Op::ReadCompanies),
    ("PUT", "/companies/{id}", Op::ManageCompanies),
    ("GET", "/requests", Op::ReadRequests),
    ("POST", "/requests", Op::FileRequest),
    ("GET", "/requests/{id}", Op::ReadRequests),
    ("PATCH", "/requests/{id}", Op::ChangeRequest),
    ("POST", "/requests/{id}/cancel", Op::ChangeRequest),
    ("GET", "/planning-runs", Op::ReadRuns),
    ("POST", "/planning-runs", Op::Plan),
    ("GET", "/planning-runs/{id}", Op::ReadRuns),
    ("POST", "/planning-runs/{id}/cancel", Op::Plan),
    ("POST", "/planning-runs/{id}/publish", Op::Plan),
    ("GET", "/planning-runs/{id}/plan", Op::ReadRuns),
    ("GET", "/planning-runs/{id}/instance", Op::ReadRuns),
    ("GET", "/planning-runs/{id}/diff", Op::ReadRuns),
    ("GET", "/planning-runs/{id}/events", Op::ReadRuns),
    ("GET", "/scenarios", Op::ReadScenarios),
    ("POST", "/scenarios", Op::Scenarios),
    ("GET", "/scenarios/{id}", Op::ReadScenarios),
    ("GET", "/scenarios/{id}/compare", Op::ReadScenarios),
    ("GET", "/scenarios/{id}/instance", Op::ReadScenarios),
    ("GET", "/assignments", Op::ReadBookings),
    ("POST", "/assignments/{id}/confirm", Op::AnswerBooking),
    ("POST", "/assignments/{id}/decline", Op::AnswerBooking),
    ("GET", "/audit", Op::ReadAudit),
    ("GET", "/assignments/{id}", Op::ReadBookings),
    ("POST", "/assignments/{id}/receive", Op::KeepBooking),
    ("POST", "/assignments/{id}/start", Op::KeepBooking),
    ("POST", "/assignments/{id}/complete", Op::KeepBooking),
    ("POST", "/assignments/{id}/withdraw", Op::KeepBooking),
    ("GET", "/assignments/{id}/protocol", Op::ReadBookings),
    ("GET", "/dashboard/progress", Op::ReadDashboard),
    ("GET", "/dashboard/demand", Op::ReadDashboard),
    ("GET", "/dashboard/capacity", Op::ReadDashboard),
    ("GET", "/dashboard/unmet", Op::ReadDashboard),
    ("GET", "/dashboard/bottlenecks", Op::ReadDashboard),
    ("GET", "/notices", Op::ReadNotices),
    ("POST", "/notices/{id}/read", Op::ReadNotices),
    ("GET", "/notices/preferences", Op::ReadNotices),
    ("PUT", "/notices/preferences", Op::ReadNotices),
    ("GET", "/imports/requests/template", Op::ImportRequests),
    ("POST", "/imports/requests", Op::ImportRequests),
    ("GET", "/imports/labs/{id}", Op::KeepLab),
    ("POST", "/imports/labs/{id}", Op::KeepLab),
    ("GET", "/requests/export", Op::ReadRequests),
    ("GET", "/planning-runs/{id}/plan/export", Op::ReadRuns),
];

/// The operation of a route; None if the route has no rule. HEAD is GET without a body.
pub fn operation(method: &Method, api_path: &str) -> Option<Op> {
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    RULES.iter().find(|(m, p, _)| *m == method && *p == api_path).map(|(_, _, op)| *op)
}

/// The methods a path answers, for a 405's `Allow` header.
fn allowed_methods(api_path: &str) -> Vec<&'static str> {
    let mut methods: Vec<&str> = RULES.iter().filter(|(_, p, _)| *p == api_path).map(|(m, _, _)| *m).collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods
}

/// Authenticates the caller and applies the route's rule; runs on every API route.
pub async fn enforce(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_default();
    let api_path = path.strip_prefix("/api/v1").unwrap_or(&path);
    let Some(op) = operation(req.method(), api_path) else {
        let allow = allowed_methods(api_path);
        if !allow.is_empty() {
            return method_not_allowed(req.method(), &allow);
        }
        tracing::error!(method = %req.method(), path, "route has no access rule; refused");
        return ApiError::App(AppError::Forbidden("this route is not open to anyone".into())).into_response();
    };
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let hash = match bearer(authorization) {
        Some(token) => auth::token_hash(token),
        None => return ApiError::Unauthorized.into_response(),
    };
    // A route whose statement checks the token itself may act on a token read lately.
    let known = if self_checking(req.method(), api_path) { state.tokens.get(&hash) } else { None };
    // A refusal is never taken from memory: the role may have changed since.
    let known = known.filter(|(caller, _)| crate::app::require(caller, op).is_ok());
    let (caller, vouched) = match known {
        Some((caller, claim)) => (caller, Some(claim)),
        None => match authenticate(&state, &hash).await {
            Ok(caller) => (caller, None),
            Err(e) => return e.into_response(),
        },
    };
    if let Err(refused) = crate::app::require(&caller, op) {
        return ApiError::App(refused).into_response();
    }
    req.extensions_mut().insert(caller);
    req.extensions_mut().insert(Vouched(vouched));
    next.run(req).await
}

/// The routes whose work checks, in its own statement, that the caller's token still
/// stands for the caller (see [`TokenClaim`]): the busiest ones, which would otherwise
/// spend a statement of every two reading the token.
const SELF_CHECKING: &[(&str, &str)] = &[("GET", "/requests"), ("POST", "/requests")];

fn self_checking(method: &Method, api_path: &str) -> bool {
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    SELF_CHECKING.iter().any(|(m, p)| *m == method && *p == api_path)
}

fn method_not_allowed(method: &Method, allow: &[&str]) -> Response {
    let problem = super::error::Problem {
        kind: "https://labplan.local/problems/method-not-allowed".into(),
        title: "Method Not Allowed".into(),
        status: 405,
        detail: format!("{method} is not a method of this resource; it answers {}", allow.join(", ")),
        errors: Vec::new(),
    };
    let mut response = super::error::problem_response(axum::http::StatusCode::METHOD_NOT_ALLOWED, &problem);
    if let Ok(value) = axum::http::HeaderValue::from_str(&allow.join(", ")) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

fn bearer(authorization: Option<&str>) -> Option<&str> {
    authorization
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Reads the token: the caller it stands for now, remembered for the self-checking routes.
async fn authenticate(state: &AppState, hash: &str) -> Result<Caller, ApiError> {
    let (caller, claim) = users::authenticate_hash(&state.db, hash).await?.ok_or(ApiError::Unauthorized)?;
    state.tokens.put(&caller, &claim);
    Ok(caller)
}

/// A token read lately, on a self-checking route: what it stood for. None when the
/// middleware read the token for this request.
#[derive(Clone)]
pub struct Vouched(pub Option<TokenClaim>);

impl Vouched {
    /// The caller after the work's statement found that the token no longer stands for
    /// the caller it was read as: read again (401 if it is gone), and allowed `op` again.
    pub async fn reread(&self, state: &AppState, op: Op) -> Result<Caller, ApiError> {
        let Some(claim) = &self.0 else { return Err(ApiError::Unauthorized) };
        state.tokens.forget(&claim.token_hash);
        let caller = authenticate(state, &claim.token_hash).await?;
        crate::app::require(&caller, op)?;
        Ok(caller)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Vouched {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Vouched>().cloned().ok_or(ApiError::Unauthorized)
    }
}

/// The caller the middleware put on the request.
pub struct Authenticated(pub Caller);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The policy middleware runs on every API route; a handler without it is a wiring error.
        parts.extensions.get::<Caller>().cloned().map(Authenticated).ok_or(ApiError::Unauthorized)
    }
}
