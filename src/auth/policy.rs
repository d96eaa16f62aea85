//! The route policy: which roles may call which API route, in one table, enforced by one
//! middleware on every route. A route missing from the table is refused to everyone,
//! and the access-matrix test fails until it has a rule.
//!
//! Row-level rules (a company sees only its own requests, a lab edits only its own
//! capacity and answers only its own bookings) are applied by the queries themselves
//! through [`Caller`]; this table decides only who may call a route at all.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Caller, Role};
use crate::http::AppState;
use crate::http::error::ApiError;

use Role::{Admin, Company, Lab, Ministry, Planner};

const EVERYONE: &[Role] = &[Company, Lab, Planner, Ministry, Admin];
const ADMIN: &[Role] = &[Admin];
const OVERSIGHT: &[Role] = &[Planner, Ministry, Admin];

/// (method, path under /api/v1, roles allowed)
pub const RULES: &[(&str, &str, &[Role])] = &[
    // The catalog and the labs are what everyone plans against; only the admin changes them.
    ("GET", "/regions", EVERYONE),
    ("POST", "/regions", ADMIN),
    ("GET", "/regions/{code}", EVERYONE),
    ("PUT", "/regions/{code}", ADMIN),
    ("DELETE", "/regions/{code}", ADMIN),
    ("GET", "/equipment", EVERYONE),
    ("POST", "/equipment", ADMIN),
    ("GET", "/equipment/{code}", EVERYONE),
    ("PUT", "/equipment/{code}", ADMIN),
    ("DELETE", "/equipment/{code}", ADMIN),
    ("GET", "/test-types", EVERYONE),
    ("POST", "/test-types", ADMIN),
    ("GET", "/test-types/{code}", EVERYONE),
    ("PUT", "/test-types/{code}", ADMIN),
    ("DELETE", "/test-types/{code}", ADMIN),
    ("GET", "/labs", EVERYONE),
    ("POST", "/labs", ADMIN),
    ("GET", "/labs/{id}", EVERYONE),
    ("PUT", "/labs/{id}", ADMIN),
    ("DELETE", "/labs/{id}", ADMIN),
    // A lab keeps its own scope and capacity (the handlers hold it to its own lab).
    ("GET", "/labs/{id}/accreditations", EVERYONE),
    ("POST", "/labs/{id}/accreditations", &[Lab, Admin]),
    ("PUT", "/labs/{id}/accreditations/{test_type}", &[Lab, Admin]),
    ("DELETE", "/labs/{id}/accreditations/{test_type}", &[Lab, Admin]),
    ("GET", "/labs/{id}/capacity", EVERYONE),
    ("PUT", "/labs/{id}/capacity/{equipment}", &[Lab, Admin]),
    ("DELETE", "/labs/{id}/capacity/{equipment}", &[Lab, Admin]),
    ("GET", "/labs/{id}/capacity-overrides", EVERYONE),
    ("PUT", "/labs/{id}/capacity-overrides", &[Lab, Admin]),
    ("DELETE", "/labs/{id}/capacity-overrides/{equipment}/{week_start}", &[Lab, Admin]),
    // Companies: a company user sees its own record only.
    ("GET", "/companies", &[Company, Planner, Ministry, Admin]),
    ("POST", "/companies", ADMIN),
    ("GET", "/companies/{id}", &[Company, Planner, Ministry, Admin]),
    ("PUT", "/companies/{id}", ADMIN),
    // Requests are the company's commercial secret: it files and changes its own.
    ("GET", "/requests", &[Company, Planner, Ministry, Admin]),
    ("POST", "/requests", &[Company]),
    ("GET", "/requests/{id}", &[Company, Planner, Ministry, Admin]),
    ("PATCH", "/requests/{id}", &[Company]),
    ("POST", "/requests/{id}/cancel", &[Company]),
    // Planning: the planner runs and publishes; the ministry and the admin read.
    ("GET", "/planning-runs", OVERSIGHT),
    ("POST", "/planning-runs", &[Planner]),
    ("GET", "/planning-runs/{id}", OVERSIGHT),
    ("POST", "/planning-runs/{id}/cancel", &[Planner]),
    ("POST", "/planning-runs/{id}/publish", &[Planner]),
    ("GET", "/planning-runs/{id}/plan", OVERSIGHT),
    ("GET", "/planning-runs/{id}/instance", OVERSIGHT),
    ("GET", "/planning-runs/{id}/diff", OVERSIGHT),
    ("GET", "/planning-runs/{id}/events", OVERSIGHT),
    // Bookings: a lab sees and answers its own, a company sees its requests' ones.
    ("GET", "/assignments", EVERYONE),
    ("POST", "/assignments/{id}/confirm", &[Lab]),
    ("POST", "/assignments/{id}/decline", &[Lab]),
    ("GET", "/audit", ADMIN),
];

/// The roles allowed on a route; None if the route has no rule.
pub fn allowed(method: &Method, api_path: &str) -> Option<&'static [Role]> {
    RULES.iter().find(|(m, p, _)| *m == method.as_str() && *p == api_path).map(|(_, _, roles)| *roles)
}

/// Authenticates the caller and applies the route's rule; runs on every API route.
pub async fn enforce(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_default();
    let path = path.as_str();
    let api_path = path.strip_prefix("/api/v1").unwrap_or(path);
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let caller = match authenticate(&state, authorization.as_deref()).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    let Some(roles) = allowed(req.method(), api_path) else {
        tracing::error!(method = %req.method(), path, "route has no access rule; refused");
        return ApiError::Forbidden("this route is not open to anyone".into()).into_response();
    };
    if !roles.contains(&caller.role) {
        return ApiError::Forbidden(format!("the {} role may not do this", caller.role.as_str())).into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

async fn authenticate(state: &AppState, authorization: Option<&str>) -> Result<Caller, ApiError> {
    let token = authorization
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    super::users::authenticate_token(&state.db, token).await?.ok_or(ApiError::Unauthorized)
}
