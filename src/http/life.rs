//! One booking (`/assignments/{id}`) and the rest of its life at its lab: received,
//! started, completed with a protocol, withdrawn; the protocol's PDF.

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, OptionalJson, Path};
use super::policy::Authenticated;
use crate::app::life::{self, Booking, Completion, MAX_PROTOCOL_BYTES, Receive, Withdraw};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    // The completion carries the protocol's PDF: its route alone takes bodies that large.
    let completion = OpenApiRouter::new()
        .routes(routes!(complete_assignment))
        .layer(DefaultBodyLimit::max(MAX_PROTOCOL_BYTES + 64 * 1024));
    OpenApiRouter::new()
        .routes(routes!(get_assignment))
        .routes(routes!(receive_assignment))
        .routes(routes!(start_assignment))
        .routes(routes!(withdraw_assignment))
        .routes(routes!(get_protocol))
        .merge(completion)
}

#[utoipa::path(get, path = "/assignments/{id}", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, body = Booking), (status = 404, body = Problem)))]
pub async fn get_assignment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Booking>> {
    Ok(axum::Json(life::get(&state.db, &caller, id).await?))
}

#[utoipa::path(post, path = "/assignments/{id}/receive", tag = "planning", params(("id" = i64, Path)),
    request_body(content = Option<Receive>, description = "Optional: the day the samples arrived"),
    responses((status = 200, body = Booking), (status = 404, body = Problem),
        (status = 409, description = "the booking is not confirmed (any more)", body = Problem), (status = 422, body = Problem)))]
pub async fn receive_assignment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
    OptionalJson(body): OptionalJson<Receive>,
) -> ApiResult<axum::Json<Booking>> {
    Ok(axum::Json(life::receive(&state.db, &caller, id, body).await?))
}

#[utoipa::path(post, path = "/assignments/{id}/start", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, body = Booking), (status = 404, body = Problem),
        (status = 409, description = "the samples have not been received, or testing has begun", body = Problem)))]
pub async fn start_assignment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Booking>> {
    Ok(axum::Json(life::start(&state.db, &caller, id).await?))
}

/// The completion form: `multipart/form-data`.
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct CompletionForm {
    /// The test protocol's number (1–64 characters)
    protocol_number: String,
    /// When testing ended, YYYY-MM-DD; default today, not before testing started nor after today
    completed_on: Option<String>,
    /// passed, failed or not_applicable
    outcome: String,
    /// Up to 2000 characters
    note: Option<String>,
    /// The protocol as a PDF, at most 10 MiB
    #[schema(value_type = Option<String>, format = Binary)]
    protocol: Option<Vec<u8>>,
}

#[utoipa::path(post, path = "/assignments/{id}/complete", tag = "planning", params(("id" = i64, Path)),
    request_body(content = CompletionForm, content_type = "multipart/form-data"),
    responses((status = 200, body = Booking), (status = 404, body = Problem),
        (status = 409, description = "testing has not begun, or has ended", body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn complete_assignment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<axum::Json<Booking>> {
    let form = form.map_err(|_| ApiError::UnsupportedMediaType("expected a multipart/form-data body".into()))?;
    let completion = read_completion(form).await?;
    Ok(axum::Json(life::complete(&state.db, &caller, id, completion).await?))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(MAX_PROTOCOL_BYTES)
    } else {
        ApiError::Malformed(format!("could not read the form: {}", e.body_text()))
    }
}

/// A file's own name, without any folders a browser may send.
fn file_name(raw: Option<&str>) -> String {
    let name = raw.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("").trim();
    let name: String = name.chars().filter(|c| !c.is_control() && *c != '"').take(200).collect();
    if name.is_empty() { "protocol.pdf".into() } else { name }
}

pub async fn read_completion(mut form: Multipart) -> ApiResult<Completion> {
    let mut completion = Completion::default();
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "protocol" => {
                let file = file_name(field.file_name());
                let bytes = field.bytes().await.map_err(multipart_error)?;
                // A file input left empty sends an empty part.
                if !bytes.is_empty() {
                    completion.protocol = Some((file, bytes.to_vec()));
                }
            }
            "protocol_number" | "completed_on" | "outcome" | "note" => {
                let text = field.text().await.map_err(multipart_error)?;
                let slot = match name.as_str() {
                    "protocol_number" => &mut completion.protocol_number,
                    "completed_on" => &mut completion.completed_on,
                    "outcome" => &mut completion.outcome,
                    _ => &mut completion.note,
                };
                *slot = Some(text);
            }
            // The pages' forms carry their own token; other parts are not ours to read.
            _ => {}
        }
    }
    Ok(completion)
}

#[utoipa::path(post, path = "/assignments/{id}/withdraw", tag = "planning", params(("id" = i64, Path)), request_body = Withdraw,
    responses((status = 200, body = Booking), (status = 404, body = Problem),
        (status = 409, description = "the booking is not confirmed, received or in testing", body = Problem),
        (status = 422, body = Problem)))]
pub async fn withdraw_assignment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
    Json(body): Json<Withdraw>,
) -> ApiResult<axum::Json<Booking>> {
    Ok(axum::Json(life::withdraw(&state.db, &caller, id, body).await?))
}

#[utoipa::path(get, path = "/assignments/{id}/protocol", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, description = "the protocol's PDF", content_type = "application/pdf"),
        (status = 404, description = "no such booking visible to the caller, or no protocol", body = Problem)))]
pub async fn get_protocol(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let file = life::protocol(&state.db, &caller, id).await?;
    Ok(pdf_download(file))
}

/// A protocol as a PDF download, its content streamed from the database a part at a
/// time; the API and the pages send it alike.
pub fn pdf_download<S>(file: life::ProtocolDownload<S>) -> Response
where
    S: futures_core::Stream<Item = Result<Vec<u8>, sea_orm::DbErr>> + Send + 'static,
{
    let safe: String = file.file_name.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' }).collect();
    let disposition = format!("attachment; filename=\"{}\"", safe.replace('"', "_"));
    let body = axum::body::Body::from_stream(futures_util::StreamExt::map(file.chunks, |chunk| {
        chunk.map(axum::body::Bytes::from)
    }));
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_LENGTH, file.size.to_string()),
        ],
        body,
    )
        .into_response()
}
