//! Extractors that turn every bad input into a problem document instead of axum's plain-text
//! rejections.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::domain::{FieldError, Msg};

/// Largest accepted JSON body; a test request is a few hundred bytes.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// A JSON body: syntax errors answer 400, values of the wrong type or range 422 naming the field.
pub struct Json<T>(pub T);

fn declared_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
        })
        .unwrap_or(false)
}

/// The body's bytes, with a body over the limit answered 413.
async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    // A declared length over the limit is refused before the body is read: a client that
    // asks first (`Expect: 100-continue`, as curl does for large bodies) then never sends
    // it, and is sure to read the answer instead of a reset connection.
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_JSON_BODY as u64) {
        return Err(ApiError::TooLarge(MAX_JSON_BODY));
    }
    Bytes::from_request(req, state).await.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(inner) if inner.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::TooLarge(MAX_JSON_BODY)
        }
        other if other.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(MAX_JSON_BODY),
        other => ApiError::Malformed(format!("could not read the body: {other}")),
    })
}

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !declared_json(&req) {
            return Err(ApiError::UnsupportedMediaType("expected a body with Content-Type: application/json".into()));
        }
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

/// A JSON body that may be left out: an empty body stands for the type's default.
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        // An empty body leaves every field at its default.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde would accept a struct written as an array of its fields; the API speaks
    // only objects, and says so about the body as a whole.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => {}
        Some(b'[' | b'"' | b'n' | b't' | b'f' | b'-' | b'0'..=b'9') => {
            return Err(FieldError::new("body", Msg::ExpectedObject).into());
        }
        Some(_) => {}
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, T>(&mut *de) {
        Ok(value) => value,
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            return match inner.classify() {
                serde_json::error::Category::Data => {
                    let message = clean_message(&inner);
                    Err(FieldError::new(field_of(&path, &message), Msg::Invalid(message)).into())
                }
                _ => Err(ApiError::Malformed(format!("the body is not valid JSON: {inner}"))),
            };
        }
    };
    // One object and nothing after it: `{…} xyz` is not a body we understood.
    de.end().map_err(|e| ApiError::Malformed(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Missing and unknown fields are reported by serde at their parent; name the field itself.
fn field_of(path: &str, message: &str) -> String {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        (".", Some(name)) => name.to_string(),
        // Unknown fields already carry their own name as the last path segment.
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => path.to_string(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (".", None) => "body".to_string(),
        (parent, None) => parent.to_string(),
    }
}

/// serde_json appends "at line 1 column 42" to every message; the field name says more.
fn clean_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(pos) => text[..pos].to_string(),
        None => text,
    }
}

/// Query parameters: a value of the wrong type answers 422 naming the parameter.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        // A NUL or other control character in a filter is no value any record holds, and
        // PostgreSQL refuses NUL in text outright.
        if let Some((name, _)) = form_urlencoded::parse(query.as_bytes()).find(|(_, v)| v.chars().any(char::is_control))
        {
            return Err(FieldError::new(name.into_owned(), Msg::ControlChars).into());
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Query).map_err(|err| {
            let field = err.path().to_string();
            FieldError::new(field, Msg::Invalid(err.into_inner().to_string())).into()
        })
    }
}

/// Path parameters: a value of the wrong type (a word for a run number) answers 400 as problem+json.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Ids are printable; a control character (a NUL, say) names nothing.
        let raw = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::Malformed(rejection.body_text()))?;
        if let Some((name, _)) = raw.iter().find(|(_, v)| v.chars().any(char::is_control)) {
            return Err(FieldError::new(name.to_string(), Msg::ControlChars).into());
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| ApiError::Malformed(rejection.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[allow(dead_code)]
        a: i64,
    }

    #[test]
    fn trailing_text_after_the_object_is_refused() {
        assert!(parse_json::<Body>(b"{\"a\": 1}").is_ok());
        assert!(parse_json::<Body>(b"{\"a\": 1}  \n").is_ok());
        assert!(matches!(parse_json::<Body>(b"{\"a\": 1} xyz"), Err(ApiError::Malformed(_))));
    }
}
