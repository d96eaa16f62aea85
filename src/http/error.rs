//! One error type for every handler, rendered as `application/problem+json` (RFC 9457).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppError;
use crate::domain::FieldError;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Seconds a client should wait before trying again when the database is away.
pub const RETRY_AFTER_SECONDS: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON, or not the JSON we can read at all.
    #[error("{0}")]
    Malformed(String),
    /// 401: no credentials, or a token that is unknown or revoked.
    #[error("authentication required: send Authorization: Bearer <token>")]
    Unauthorized,
    /// 413: the body is larger than the route takes.
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// 415: the body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 403, 404, 409, 422, 503 and 500: what the operation answered.
    #[error(transparent)]
    App(#[from] AppError),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<Vec<FieldError>> for ApiError {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::App(AppError::Validation(errors))
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::App(AppError::Validation(vec![error]))
    }
}

impl ApiError {
    pub fn not_found(what: &str) -> Self {
        Self::App(AppError::NotFound(what.to_string()))
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::App(e) => match e {
                AppError::Forbidden(_) => StatusCode::FORBIDDEN,
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                AppError::Conflict(_) => StatusCode::CONFLICT,
                AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
                AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                AppError::Database(_) | AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed-request",
            Self::Unauthorized => "unauthorized",
            Self::TooLarge(_) => "payload-too-large",
            Self::UnsupportedMediaType(_) => "unsupported-media-type",
            Self::App(e) => match e {
                AppError::Forbidden(_) => "forbidden",
                AppError::NotFound(_) => "not-found",
                AppError::Conflict(_) => "conflict",
                AppError::Validation(_) => "validation-failed",
                AppError::Unavailable(_) => "service-unavailable",
                AppError::Database(_) | AppError::Unexpected(_) => "internal-error",
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            Self::App(AppError::Database(err)) => {
                tracing::error!(error = %err, "database error");
                "the server could not complete the request".to_string()
            }
            Self::App(AppError::Unexpected(err)) => {
                tracing::error!(error = ?err, "unexpected error");
                "the server could not complete the request".to_string()
            }
            Self::App(AppError::Unavailable(err)) => {
                tracing::warn!(error = %err, "database unavailable");
                "the database is unavailable; try again shortly".to_string()
            }
            Self::App(AppError::Validation(errors)) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid value in: {}", fields.join(", "))
            }
            other => other.to_string(),
        };
        let problem = Problem {
            kind: format!("https://labplan.local/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            errors: match self {
                Self::App(AppError::Validation(errors)) => errors,
                _ => Vec::new(),
            },
        };
        problem_response(status, &problem)
    }
}

/// A problem document with its media type and, where they apply, the auth challenge
/// and the retry advice.
pub fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let mut response = (status, axum::Json(problem)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    response
}
