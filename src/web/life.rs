//! The lab's work after confirmation: a page of its bookings under way with a form for
//! each next step (samples received, testing started, completed with the protocol,
//! withdrawn) and a timeline of actual against planned weeks; and the protocol's
//! download for whoever may see the booking. Every step is the application's
//! operation, as through the API.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use minijinja::context;
use serde::Deserialize;

use super::lookup::{Catalog, Names};
use super::page::{CsrfForm, Page};
use crate::app::life::{self, Booking, Completion, MAX_PROTOCOL_BYTES, Receive, Withdraw};
use crate::app::policy::Op;
use crate::app::{AppError, catalog};
use crate::domain::access::Role;
use crate::domain::status::BookingStatus;
use crate::state::AppState;

/// Finished bookings (completed or withdrawn) the page still lists.
const FINISHED_SHOWN: u64 = 30;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/lab/work", get(work_page))
        .route("/lab/work/{id}/receive", post(receive))
        .route("/lab/work/{id}/start", post(start))
        .route("/lab/work/{id}/withdraw", post(withdraw))
        .route("/lab/work/{id}/complete", post(complete).layer(DefaultBodyLimit::max(MAX_PROTOCOL_BYTES + 64 * 1024)))
        .route("/bookings/{id}/protocol", get(protocol))
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn own_lab(page: &Page) -> Result<String, Response> {
    if page.caller.role() != Role::Lab {
        return Err(page.forbidden());
    }
    page.caller.own_lab().map(ToString::to_string).ok_or_else(|| page.forbidden())
}

/// Whole weeks from `from` to `to`, for the timeline's bars.
fn weeks_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days().div_euclid(7)
}

async fn work_page(State(state): State<AppState>, page: Page, Query(q): Query<DoneQuery>) -> Response {
    let notice = q
        .done
        .as_deref()
        .filter(|d| d.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(|d| page.t(&format!("life_done_{d}")));
    show(&state, &page, notice, BTreeMap::new(), StatusCode::OK).await
}

async fn show(
    state: &AppState,
    page: &Page,
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Response {
    let lab = match own_lab(page).and_then(|lab| page.allow(Op::KeepBooking).map(|()| lab)) {
        Ok(lab) => lab,
        Err(refused) => return refused,
    };
    let loaded = async {
        let catalog = catalog::load(&state.db).await?;
        let (open, finished) = life::of_lab(&state.db, &page.caller, FINISHED_SHOWN).await?;
        Ok::<_, AppError>((catalog, open, finished))
    };
    let (catalog, open, finished) = match loaded.await {
        Ok(v) => v,
        Err(e) => return page.app_error(e),
    };
    // The timeline spans the planned and actual weeks of every booking on the page.
    let all: Vec<&Booking> = open.iter().chain(finished.iter()).collect();
    let first = all
        .iter()
        .flat_map(|b| [Some(b.assignment.start_date), b.received_on, b.started_on])
        .flatten()
        .min()
        .unwrap_or_else(life::today);
    let first = first - chrono::Days::new(u64::from(chrono::Datelike::weekday(&first).num_days_from_monday()));
    let view = |b: &Booking| row(page, &catalog, b, first);
    let open: Vec<minijinja::Value> = open.iter().map(view).collect();
    let finished: Vec<minijinja::Value> = finished.iter().map(view).collect();
    let late = all.iter().filter(|b| b.late).count();
    page.render_status(
        status,
        "lab_work.html",
        context! {
            lab, lab_name => catalog.lab_name(&lab, page.lang), open, finished, late, notice, errors,
            today => life::today().to_string(), first_week => first.to_string(),
            max_pdf_mb => MAX_PROTOCOL_BYTES / (1024 * 1024),
        },
    )
}

fn row(page: &Page, catalog: &Catalog, b: &Booking, first: NaiveDate) -> minijinja::Value {
    let a = &b.assignment;
    let test_type = a.test_type.clone().unwrap_or_default();
    let status = a.status.as_str();
    // Bars of the timeline in weeks from the page's first Monday.
    let planned = (weeks_between(first, a.start_date), weeks_between(first, a.end_date) + 1);
    let actual_start = b.started_on.or(b.received_on);
    let actual_end = b.completed_on.unwrap_or_else(life::today);
    let actual = actual_start.map(|s| (weeks_between(first, s), weeks_between(first, actual_end.max(s)) + 1));
    context! {
        id => a.id, request => a.request, company => a.company,
        test_type => test_type.clone(), test_name => catalog.test_type_name(&test_type, page.lang),
        start => a.start_date.to_string(), end => a.end_date.to_string(),
        status, status_text => page.t(&format!("booking_{status}")),
        received_on => b.received_on.map(|d| d.to_string()),
        started_on => b.started_on.map(|d| d.to_string()),
        completed_on => b.completed_on.map(|d| d.to_string()),
        protocol_number => b.protocol_number, outcome => b.outcome.map(|o| page.t(&format!("outcome_{}", o.as_str()))),
        has_protocol => b.protocol.is_some(), withdraw_reason => b.withdraw_reason,
        late => b.late,
        can_receive => a.status == BookingStatus::Confirmed,
        can_start => a.status == BookingStatus::Received,
        can_complete => a.status == BookingStatus::InTesting,
        can_withdraw => matches!(a.status, BookingStatus::Confirmed | BookingStatus::Received | BookingStatus::InTesting),
        planned_from => planned.0, planned_weeks => (planned.1 - planned.0).max(1),
        actual_from => actual.map(|a| a.0), actual_weeks => actual.map(|a| (a.1 - a.0).max(1)),
    }
}

/// After a step: back to the page with its notice, or the refusal shown on the page.
async fn after(state: &AppState, page: &Page, id: i64, done: &str, result: Result<Booking, AppError>) -> Response {
    match result {
        Ok(_) => Redirect::to(&format!("/lab/work?done={done}#booking-{id}")).into_response(),
        Err(AppError::Validation(errors)) => {
            let errors = page.field_errors(&errors).into_iter().map(|(k, v)| (format!("{id}/{k}"), v)).collect();
            show(state, page, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => page.app_error(e),
    }
}

fn allowed(page: &Page, csrf: &str) -> Result<(), Response> {
    own_lab(page).and_then(|_| page.allow(Op::KeepBooking)).and_then(|()| page.check_csrf(csrf))
}

#[derive(Debug, Deserialize)]
pub struct ReceiveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    received_on: String,
}

async fn receive(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<ReceiveForm>,
) -> Response {
    if let Err(refused) = allowed(&page, &form.csrf) {
        return refused;
    }
    let result = match form.received_on.trim() {
        "" => Ok(None),
        raw => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::field("received_on", crate::domain::Msg::Date)),
    };
    let result = match result {
        Ok(received_on) => life::receive(&state.db, &page.caller, id, Receive { received_on }).await,
        Err(e) => Err(e),
    };
    after(&state, &page, id, "received", result).await
}

async fn start(State(state): State<AppState>, page: Page, Path(id): Path<i64>, Form(form): Form<CsrfForm>) -> Response {
    if let Err(refused) = allowed(&page, &form.csrf) {
        return refused;
    }
    let result = life::start(&state.db, &page.caller, id).await;
    after(&state, &page, id, "started", result).await
}

#[derive(Debug, Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn withdraw(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<WithdrawForm>,
) -> Response {
    if let Err(refused) = allowed(&page, &form.csrf) {
        return refused;
    }
    let result = life::withdraw(&state.db, &page.caller, id, Withdraw { reason: form.reason }).await;
    after(&state, &page, id, "withdrawn", result).await
}

/// The completion form is multipart (it carries the PDF); its CSRF token is a part of it.
async fn complete(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let Ok(mut form) = form else {
        return page.error(StatusCode::BAD_REQUEST, page.t("life_bad_form"));
    };
    let mut completion = Completion::default();
    let mut csrf = String::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return page.error(StatusCode::PAYLOAD_TOO_LARGE, page.t("life_too_large"));
            }
            Err(_) => return page.error(StatusCode::BAD_REQUEST, page.t("life_bad_form")),
        };
        let name = field.name().unwrap_or("").to_string();
        if name == "protocol" {
            let file = field.file_name().unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("").to_string();
            match field.bytes().await {
                Ok(bytes) if !bytes.is_empty() => {
                    let file = if file.trim().is_empty() { "protocol.pdf".to_string() } else { file };
                    completion.protocol =
                        Some((file.chars().filter(|c| !c.is_control()).take(200).collect(), bytes.to_vec()));
                }
                Ok(_) => {}
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return page.error(StatusCode::PAYLOAD_TOO_LARGE, page.t("life_too_large"));
                }
                Err(_) => return page.error(StatusCode::BAD_REQUEST, page.t("life_bad_form")),
            }
            continue;
        }
        let Ok(text) = field.text().await else {
            return page.error(StatusCode::BAD_REQUEST, page.t("life_bad_form"));
        };
        match name.as_str() {
            "csrf" => csrf = text,
            "protocol_number" => completion.protocol_number = Some(text),
            "completed_on" => completion.completed_on = Some(text),
            "outcome" => completion.outcome = Some(text),
            "note" => completion.note = Some(text),
            _ => {}
        }
    }
    if let Err(refused) = allowed(&page, &csrf) {
        return refused;
    }
    let result = life::complete(&state.db, &page.caller, id, completion).await;
    after(&state, &page, id, "completed", result).await
}

/// The protocol's PDF for any signed-in user who may see the booking.
async fn protocol(State(state): State<AppState>, page: Page, Path(id): Path<i64>) -> Response {
    match life::protocol(&state.db, &page.caller, id).await {
        Ok(file) => crate::http::life::pdf_download(file),
        Err(e) => page.app_error(e),
    }
}
