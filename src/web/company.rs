//! Pages of a company engineer: my requests, filing a request, a request's detail with
//! its history, cancelling it and excluding labs. Every change is the application's
//! operation, so the checks, the audit log and the row scoping are the API's own.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use minijinja::context;
use serde::Deserialize;

use super::i18n::Lang;
use super::lookup::{Catalog, Names, pick};
use super::page::{Page, grouped};
use crate::app::policy::Op;
use crate::app::requests::{self as ops, CancelRequest, NewRequest, RequestPatch};
use crate::app::{AppError, audit, bookings, catalog};
use crate::db::requests::{RequestFilter, RequestOrder, TextSearch};
use crate::domain::paging::{MAX_PAGE, PageRequest};
use crate::domain::status::RequestStatus;
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/requests", get(list))
        .route("/requests/new", get(new_form).post(create))
        .route("/requests/{id}", get(detail))
        .route("/requests/{id}/cancel", post(cancel))
        .route("/requests/{id}/exclude", post(exclude))
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    /// Kept as text: a page number out of range shows the first or last page, not an error
    page: Option<String>,
}

const SORTS: &[&str] = &["id", "test", "samples", "ready", "due", "status", "lab", "planned"];

fn reason_text(page: &Page, raw: Option<&str>) -> Option<String> {
    let raw = raw?;
    // A plan's reason is `code: detail`; a lab's decline is free text.
    match raw.split_once(": ") {
        Some((code, detail)) if page.t(&format!("reason_{code}")) != format!("reason_{code}") => {
            let name = page.t(&format!("reason_{code}"));
            Some(if page.lang == Lang::En { format!("{name} ({detail})") } else { name })
        }
        _ => Some(raw.to_string()),
    }
}

fn period(page: &Page, start: Option<NaiveDate>, end: Option<NaiveDate>) -> Option<String> {
    let (start, end) = start.zip(end)?;
    Some(page.t("req_period").replace("{start}", &start.to_string()).replace("{end}", &end.to_string()))
}

/// Rows of the request list on one page: a company may have thousands, a planner sees all.
const PER_PAGE: u64 = 100;

fn order_of(sort: &str, lang: Lang) -> RequestOrder {
    match sort {
        "test" => RequestOrder::TestName { english: lang == Lang::En },
        "samples" => RequestOrder::Samples,
        "ready" => RequestOrder::ReadyDate,
        "due" => RequestOrder::DueDate,
        "status" => RequestOrder::Status,
        "lab" => RequestOrder::PlannedLab,
        "planned" => RequestOrder::PlannedStart,
        _ => RequestOrder::Id,
    }
}

/// The search box's text, and the test types whose code, standard or name hold it.
fn search_of(catalog: &Catalog, text: &str) -> Option<TextSearch> {
    if text.is_empty() {
        return None;
    }
    let test_types = catalog
        .test_types
        .values()
        .filter(|t| {
            [t.code.as_str(), t.standard.as_str(), t.name.as_str(), t.name_en.as_str()]
                .iter()
                .any(|f| f.to_lowercase().contains(text))
        })
        .map(|t| t.code.clone())
        .collect();
    Some(TextSearch { text: text.to_string(), test_types })
}

async fn list(State(state): State<AppState>, page: Page, Query(q): Query<ListQuery>) -> Response {
    if let Err(refused) = page.allow(Op::ReadRequests) {
        return refused;
    }
    let catalog = match catalog::load(&state.db).await {
        Ok(c) => c,
        Err(e) => return page.app_error(e),
    };
    let status = q.status.as_deref().filter(|s| !s.is_empty()).and_then(RequestStatus::parse);
    let text = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let sort = q.sort.as_deref().filter(|s| SORTS.contains(s)).unwrap_or("id");
    let desc = q.dir.as_deref() == Some("desc");
    let filter = RequestFilter {
        status,
        search: search_of(&catalog, &text),
        order: order_of(sort, page.lang),
        descending: desc,
        ..Default::default()
    };
    let wanted = q.page.as_deref().and_then(|p| p.parse::<u64>().ok()).unwrap_or(1).clamp(1, MAX_PAGE);
    let mut list =
        match ops::list(&state.db, &page.caller, &filter, PageRequest { page: wanted, per_page: PER_PAGE }).await {
            Ok(list) => list,
            Err(e) => return page.app_error(e),
        };
    // A page past the end (an old link, a shorter list now) shows the last one.
    if list.items.is_empty() && list.total > 0 && wanted > 1 {
        let last = PageRequest { page: list.total.div_ceil(PER_PAGE), per_page: PER_PAGE };
        list = match ops::list(&state.db, &page.caller, &filter, last).await {
            Ok(list) => list,
            Err(e) => return page.app_error(e),
        };
    }
    let items: Vec<minijinja::Value> = list
        .items
        .iter()
        .map(|row| {
            let name = catalog.test_type_name(&row.test_type, page.lang);
            let standard = catalog.test_types.get(&row.test_type).map(|t| t.standard.clone());
            context! {
                id => row.id, test_type => row.test_type, test_name => name, standard,
                samples => row.samples, ready => row.ready_date.to_string(), due => row.due_date.to_string(),
                status => row.status.as_str(), lab => row.planned_lab,
                lab_name => row.planned_lab.as_deref().map(|l| catalog.lab_name(l, page.lang)),
                planned => period(&page, row.planned_start, row.planned_end),
                reason => reason_text(&page, row.status_reason.as_deref()),
            }
        })
        .collect();
    // The filters a link keeps: status and text, and the sort unless the link sets its own.
    let mut kept = String::new();
    if let Some(s) = status {
        kept.push_str(&format!("&status={}", s.as_str()));
    }
    if !text.is_empty() {
        let q: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
        kept.push_str(&format!("&q={q}"));
    }
    let columns: Vec<minijinja::Value> = [
        ("id", "req_id"),
        ("test", "req_test"),
        ("samples", "req_samples"),
        ("ready", "req_ready"),
        ("due", "req_due"),
        ("status", "req_status"),
        ("lab", "req_lab"),
        ("planned", "req_planned_weeks"),
    ]
    .iter()
    .map(|(key, label)| {
        let current = *key == sort;
        let next_dir = if current && !desc { "desc" } else { "asc" };
        let href = format!("/requests?sort={key}&dir={next_dir}{kept}");
        let aria = if current { Some(if desc { "descending" } else { "ascending" }) } else { None };
        context! { key, label => page.t(label), href, aria }
    })
    .collect();
    let pages = list.total.div_ceil(PER_PAGE).max(1);
    let page_link = |n: u64| format!("/requests?sort={sort}&dir={}{kept}&page={n}", if desc { "desc" } else { "asc" });
    let pager = context! {
        page => list.page, pages,
        prev => (list.page > 1).then(|| page_link(list.page - 1)),
        next => (list.page < pages).then(|| page_link(list.page + 1)),
        first => list.page.saturating_sub(1) * PER_PAGE + 1,
        last => (list.page.saturating_sub(1) * PER_PAGE + list.items.len() as u64),
    };
    let statuses: Vec<&str> = RequestStatus::ALL.iter().map(|s| s.as_str()).collect();
    page.render(
        "requests.html",
        context! {
            items, columns, statuses, status => status.map(|s| s.as_str()), q => q.q.unwrap_or_default(),
            sort, dir => if desc { "desc" } else { "asc" }, total => list.total, pager,
        },
    )
}

/// The form as typed: every value kept as text, so nothing is lost on an error.
#[derive(Debug, Default, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    test_type: String,
    #[serde(default)]
    samples: String,
    #[serde(default)]
    ready_date: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    external_ref: String,
    #[serde(default)]
    notes: String,
}

async fn new_form(State(state): State<AppState>, page: Page) -> Response {
    if let Err(refused) = page.allow(Op::FileRequest) {
        return refused;
    }
    let form = RequestForm { samples: "1".into(), priority: "1".into(), ..Default::default() };
    render_form(&state, &page, &form, &[], BTreeMap::new(), StatusCode::OK).await
}

async fn render_form(
    state: &AppState,
    page: &Page,
    form: &RequestForm,
    excluded: &[String],
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Response {
    let catalog = match catalog::load(&state.db).await {
        Ok(c) => c,
        Err(e) => return page.app_error(e),
    };
    let test_types: Vec<minijinja::Value> = catalog
        .test_types
        .values()
        .map(|t| {
            let search = format!("{} {} {} {}", t.code, t.standard, t.name, t.name_en).to_lowercase();
            context! {
                code => t.code, standard => t.standard, name => pick(page.lang, &t.name, &t.name_en),
                other_name => pick(if page.lang == Lang::En { Lang::Ru } else { Lang::En }, &t.name, &t.name_en),
                equipment => catalog.equipment_name(&t.equipment, page.lang), hours => t.hours,
                weeks => catalog.typical_weeks(&t.code), search, checked => t.code == form.test_type,
            }
        })
        .collect();
    let labs = lab_choices(&catalog, page.lang, excluded);
    page.render_status(
        status,
        "request_new.html",
        context! {
            form => context! {
                test_type => form.test_type, samples => form.samples, ready_date => form.ready_date,
                due_date => form.due_date, priority => form.priority, external_ref => form.external_ref,
                notes => form.notes,
            },
            errors, test_types, labs,
        },
    )
}

fn lab_choices(catalog: &Catalog, lang: Lang, excluded: &[String]) -> Vec<minijinja::Value> {
    let mut labs: Vec<_> = catalog.labs.values().collect();
    labs.sort_by(|a, b| a.id.cmp(&b.id));
    labs.iter()
        .map(|l| {
            context! {
                id => l.id, name => pick(lang, &l.name, &l.name_en), region => catalog.region_name(&l.region, lang),
                checked => excluded.contains(&l.id),
            }
        })
        .collect()
}

/// Reads the raw form (repeated `excluded_labs` fields included), keeping what was typed.
fn parse_raw_form(body: &[u8]) -> (RequestForm, Vec<String>) {
    let mut form = RequestForm::default();
    let mut excluded = Vec::new();
    for (key, value) in form_urlencoded::parse(body) {
        let value = value.into_owned();
        match key.as_ref() {
            "csrf" => form.csrf = value,
            "test_type" => form.test_type = value,
            "samples" => form.samples = value,
            "ready_date" => form.ready_date = value,
            "due_date" => form.due_date = value,
            "priority" => form.priority = value,
            "external_ref" => form.external_ref = value,
            "notes" => form.notes = value,
            "excluded_labs" => excluded.push(value),
            _ => {}
        }
    }
    (form, excluded)
}

/// Checks the form's own shape (filled in, a number, a date) in the page's language;
/// the rules themselves are the API's.
fn parse_fields(page: &Page, form: &RequestForm) -> Result<(i64, NaiveDate, NaiveDate, i64), BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let mut number = |name: &str, raw: &str| -> i64 {
        let raw = raw.trim();
        if raw.is_empty() {
            errors.insert(name.to_string(), page.t("field_required"));
            return 0;
        }
        raw.parse::<i64>().unwrap_or_else(|_| {
            errors.insert(name.to_string(), page.t("field_number"));
            0
        })
    };
    let samples = number("samples", &form.samples);
    let priority = number("priority", &form.priority);
    let mut date = |name: &str, raw: &str| -> NaiveDate {
        let raw = raw.trim();
        if raw.is_empty() {
            errors.insert(name.to_string(), page.t("field_required"));
            return NaiveDate::MIN;
        }
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap_or_else(|_| {
            errors.insert(name.to_string(), page.t("field_date"));
            NaiveDate::MIN
        })
    };
    let ready = date("ready_date", &form.ready_date);
    let due = date("due_date", &form.due_date);
    if form.test_type.trim().is_empty() {
        errors.insert("test_type".into(), page.t("field_required"));
    }
    if errors.is_empty() { Ok((samples, ready, due, priority)) } else { Err(errors) }
}

fn optional(raw: &str) -> Option<String> {
    let raw = raw.trim();
    (!raw.is_empty()).then(|| raw.to_string())
}

async fn create(State(state): State<AppState>, page: Page, body: axum::body::Bytes) -> Response {
    if let Err(refused) = page.allow(Op::FileRequest) {
        return refused;
    }
    let (form, excluded) = parse_raw_form(&body);
    if let Err(refused) = page.check_csrf(&form.csrf) {
        return refused;
    }
    let Some(company) = page.caller.own_company().map(ToString::to_string) else {
        return page.forbidden();
    };
    let (samples, ready_date, due_date, priority) = match parse_fields(&page, &form) {
        Ok(values) => values,
        Err(errors) => {
            return render_form(&state, &page, &form, &excluded, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let body = NewRequest {
        company,
        test_type: form.test_type.trim().to_string(),
        samples,
        ready_date,
        due_date,
        priority,
        excluded_labs: excluded.clone(),
        external_ref: optional(&form.external_ref),
        notes: optional(&form.notes),
    };
    match ops::create(&state.db, &page.caller, body).await {
        Ok(created) => Redirect::to(&format!("/requests/{}?created=1", created.id)).into_response(),
        Err(AppError::Validation(errors)) => {
            let errors = page.field_errors(&errors);
            render_form(&state, &page, &form, &excluded, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => page.app_error(e),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    created: Option<String>,
    done: Option<String>,
}

async fn detail(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    show_detail(&state, &page, &id, notice_of(&page, &q), BTreeMap::new(), StatusCode::OK).await
}

fn notice_of(page: &Page, q: &DetailQuery) -> Option<String> {
    if q.created.is_some() {
        return Some(page.t("req_created"));
    }
    match q.done.as_deref() {
        Some("cancelled") => Some(page.t("req_cancelled")),
        Some("excluded") => Some(page.t("req_excluded_saved")),
        _ => None,
    }
}

async fn show_detail(
    state: &AppState,
    page: &Page,
    id: &str,
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Response {
    if let Err(refused) = page.allow(Op::ReadRequests) {
        return refused;
    }
    let request = match ops::get(&state.db, &page.caller, id).await {
        Ok(r) => r,
        Err(e) => return page.app_error(e),
    };
    let loaded = async {
        let catalog = catalog::load(&state.db).await?;
        let history = audit::request_history(&state.db, &page.caller, id).await?;
        let bookings = bookings::of_request(&state.db, &page.caller, id).await?;
        let mut protocols = std::collections::HashSet::new();
        for b in bookings.iter().filter(|b| b.status == crate::domain::status::BookingStatus::Completed) {
            if crate::db::life::protocol_info(&state.db, b.id).await?.is_some() {
                protocols.insert(b.id);
            }
        }
        Ok::<_, AppError>((catalog, history, bookings, protocols))
    };
    let (catalog, history, bookings, protocols) = match loaded.await {
        Ok(v) => v,
        Err(e) => return page.app_error(e),
    };
    let test = catalog.test_types.get(&request.test_type);
    let history: Vec<minijinja::Value> = history
        .iter()
        .map(|h| {
            context! {
                at => h.at.format("%Y-%m-%d %H:%M").to_string(), actor => h.actor,
                action => { let key = format!("action_{}", h.action); let t = page.t(&key); if t == key { h.action.clone() } else { t } },
                changes => changes(page, h.before.as_ref(), h.after.as_ref()),
            }
        })
        .collect();
    let bookings: Vec<minijinja::Value> = bookings
        .iter()
        .map(|b| {
            context! {
                run => b.run, lab => b.lab, lab_name => catalog.lab_name(&b.lab, page.lang),
                period => period(page, Some(b.start_date), Some(b.end_date)),
                status => b.status.as_str(), status_text => page.t(&format!("booking_{}", b.status.as_str())),
                reason => b.decline_reason.clone().or(b.withdraw_reason.clone()), cost => grouped(b.cost),
                id => b.id, received_on => b.received_on.map(|d| d.to_string()),
                started_on => b.started_on.map(|d| d.to_string()), completed_on => b.completed_on.map(|d| d.to_string()),
                protocol_number => b.protocol_number,
                outcome => b.outcome.map(|o| page.t(&format!("outcome_{}", o.as_str()))),
                has_protocol => protocols.contains(&b.id),
            }
        })
        .collect();
    let labs = lab_choices(&catalog, page.lang, &request.excluded_labs);
    let view = context! {
        id => request.id, company => request.company,
        company_name => catalog.companies.get(&request.company).map(|c| c.name.clone()),
        test_type => request.test_type, test_name => catalog.test_type_name(&request.test_type, page.lang),
        standard => test.map(|t| t.standard.clone()),
        equipment => test.map(|t| catalog.equipment_name(&t.equipment, page.lang)),
        hours => test.map(|t| t.hours), samples => request.samples,
        ready => request.ready_date.to_string(), due => request.due_date.to_string(),
        priority => request.priority, status => request.status.as_str(),
        reason => reason_text(page, request.status_reason.as_deref()),
        lab => request.planned_lab,
        lab_name => request.planned_lab.as_deref().map(|l| catalog.lab_name(l, page.lang)),
        planned => period(page, request.planned_start, request.planned_end),
        external_ref => request.external_ref, notes => request.notes, version => request.version,
        excluded => request.excluded_labs.iter().map(|l| format!("{l} — {}", catalog.lab_name(l, page.lang))).collect::<Vec<_>>(),
        can_cancel => request.status.can_cancel(), can_edit => request.status.can_edit(),
    };
    let may_change = page.may(Op::ChangeRequest);
    page.render_status(
        status,
        "request_detail.html",
        context! { r => view, history, bookings, labs, notice, errors, may_change },
    )
}

/// A request field's name on the page.
fn field_label(page: &Page, field: &str) -> String {
    let key = match field {
        "status" => "req_status",
        "status_reason" => "req_reason",
        "test_type" => "req_test",
        "samples" => "req_samples",
        "ready_date" => "req_ready",
        "due_date" => "req_due",
        "priority" => "req_priority",
        "excluded_labs" => "req_excluded_labs",
        "external_ref" => "req_external_ref",
        "notes" => "req_notes",
        "planned_lab" => "req_lab",
        "planned_start" | "planned_end" => "req_planned_weeks",
        other => return other.to_string(),
    };
    page.t(key)
}

/// The fields an audit entry changed, as `field: before → after`, in the page's language.
fn changes(page: &Page, before: Option<&serde_json::Value>, after: Option<&serde_json::Value>) -> Vec<String> {
    let empty = serde_json::Map::new();
    let before = before.and_then(|v| v.as_object()).unwrap_or(&empty);
    let Some(after) = after.and_then(|v| v.as_object()) else {
        return Vec::new();
    };
    let show = |key: &str, v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => "—".to_string(),
        Some(serde_json::Value::String(s)) if key == "status" => {
            let text = page.t(&format!("status_{s}"));
            if text.starts_with("status_") { s.clone() } else { text }
        }
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(items)) if items.is_empty() => "—".to_string(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    };
    after
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "version" | "updated_at" | "created_at"))
        .filter(|(key, value)| before.get(*key) != Some(*value))
        .filter(|(key, _)| !before.is_empty() || !matches!(key.as_str(), "id" | "company"))
        .map(|(key, value)| {
            let label = field_label(page, key);
            if before.is_empty() {
                format!("{label}: {}", show(key, Some(value)))
            } else {
                format!("{label}: {} → {}", show(key, before.get(key)), show(key, Some(value)))
            }
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    reason: String,
}

async fn cancel(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<CancelForm>,
) -> Response {
    if let Err(refused) = page.allow(Op::ChangeRequest).and_then(|()| page.check_csrf(&form.csrf)) {
        return refused;
    }
    let body = CancelRequest { version: Some(form.version), reason: optional(&form.reason) };
    match ops::cancel(&state.db, &page.caller, &id, body).await {
        Ok(_) => Redirect::to(&format!("/requests/{id}?done=cancelled")).into_response(),
        Err(AppError::Validation(errors)) => {
            let errors = page.field_errors(&errors);
            show_detail(&state, &page, &id, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => page.app_error(e),
    }
}

async fn exclude(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(refused) = page.allow(Op::ChangeRequest) {
        return refused;
    }
    let mut csrf = String::new();
    let mut version = None;
    let mut labs = Vec::new();
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "csrf" => csrf = value.into_owned(),
            "version" => version = value.parse::<i64>().ok(),
            "excluded_labs" => labs.push(value.into_owned()),
            _ => {}
        }
    }
    if let Err(refused) = page.check_csrf(&csrf) {
        return refused;
    }
    let patch = RequestPatch { version: version.unwrap_or(-1), excluded_labs: Some(labs), ..Default::default() };
    match ops::update(&state.db, &page.caller, &id, patch).await {
        Ok(_) => Redirect::to(&format!("/requests/{id}?done=excluded")).into_response(),
        Err(AppError::Validation(errors)) => {
            let errors = page.field_errors(&errors);
            show_detail(&state, &page, &id, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => page.app_error(e),
    }
}
