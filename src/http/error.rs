//! One error type for every handler, rendered as `application/problem+json` (RFC 9457).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field of a request body or query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's name or path, e.g. `samples` or `excluded_labs[1]`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

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

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON, or not the JSON we can read at all.
    #[error("{0}")]
    Malformed(String),
    /// 401: no credentials, or a token that is unknown or revoked.
    #[error("authentication required: send Authorization: Bearer <token>")]
    Unauthorized,
    /// 403: the caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: unknown, or not visible to the caller.
    #[error("{0}")]
    NotFound(String),
    /// 409: a stale `version`, a duplicate, a transition the current state does not allow,
    /// or a delete that other rows still refer to.
    #[error("{0}")]
    Conflict(String),
    /// 415: the body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: field values that break the rules; each one named.
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    /// 500: the database failed; logged, never shown to the client.
    #[error(transparent)]
    Database(DbErr),
    /// 500: anything else unexpected; logged, never shown to the client.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::NotFound(format!("{what} '{id}' not found"))
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Database(_) | Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed-request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::Conflict(_) => "conflict",
            Self::UnsupportedMediaType(_) => "unsupported-media-type",
            Self::Validation(_) => "validation-failed",
            Self::Database(_) | Self::Unexpected(_) => "internal-error",
        }
    }
}

/// Constraint violations are the database refusing a row the checks above it let through
/// (a race with another writer, usually); they are the client's conflict, not our failure.
impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                Self::Conflict("a record with the same key already exists".into())
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => Self::Conflict(
                "the record is referenced by, or refers to, records that do not allow this change".into(),
            ),
            // SQLite reports a restricted delete as SQLITE_CONSTRAINT_TRIGGER (1811), which
            // sea-orm does not classify; the message is SQLite's fixed text.
            _ if err.to_string().contains("FOREIGN KEY constraint failed") => Self::Conflict(
                "the record is referenced by, or refers to, records that do not allow this change".into(),
            ),
            _ => Self::Database(err),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            Self::Database(err) => {
                tracing::error!(error = %err, "database error");
                "the server could not complete the request".to_string()
            }
            Self::Unexpected(err) => {
                tracing::error!(error = ?err, "unexpected error");
                "the server could not complete the request".to_string()
            }
            Self::Validation(errors) => {
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
                Self::Validation(errors) => errors,
                _ => Vec::new(),
            },
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
