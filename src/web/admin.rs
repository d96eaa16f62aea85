//! The administrator's pages: labs, companies and test types (list and create), and
//! users (create, change role, revoke tokens); each change is the application's
//! operation, audited.

use std::collections::{BTreeMap, HashMap};

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;

use super::i18n::Lang;
use super::lookup::{Catalog, Names, pick};
use super::page::Page;
use crate::app::policy::Op;
use crate::app::users::{self, Binding, NewUser};
use crate::app::{AppError, catalog, companies, labs};
use crate::domain::access::Role;
use crate::entities::{api_tokens, users as user_rows};
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/admin/labs", get(labs_page).post(create_lab))
        .route("/admin/companies", get(companies_page).post(create_company))
        .route("/admin/test-types", get(test_types_page).post(create_test_type))
        .route("/admin/users", get(users_page).post(create_user))
        .route("/admin/users/{id}", get(user_page))
        .route("/admin/users/{id}/role", post(change_role))
        .route("/admin/users/{id}/revoke", post(revoke))
        .route("/admin/users/{id}/disable", post(disable))
        .route("/admin/users/{id}/enable", post(enable))
}

type Values = HashMap<String, String>;
type Errors = BTreeMap<String, String>;

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    created: Option<String>,
    saved: Option<String>,
}

fn value(form: &Values, name: &str) -> String {
    form.get(name).map(|v| v.trim().to_string()).unwrap_or_default()
}

fn csrf_of(form: &Values) -> &str {
    form.get("csrf").map_or("", String::as_str)
}

/// One field of a registry form: name, label key, kind ("text", "number", "select"), required.
struct Field {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    required: bool,
}

const fn field(name: &'static str, label: &'static str, kind: &'static str, required: bool) -> Field {
    Field { name, label, kind, required }
}

/// What differs between the labs, companies and test-types pages.
struct Registry {
    path: &'static str,
    title: &'static str,
    form_title: &'static str,
    op: Op,
    fields: &'static [Field],
    headers: &'static [&'static str],
}

const LABS: Registry = Registry {
    path: "/admin/labs",
    title: "adm_labs_title",
    form_title: "adm_lab_new",
    op: Op::ManageCatalog,
    fields: &[
        field("id", "adm_lab_id", "text", true),
        field("name", "adm_name_ru", "text", true),
        field("name_en", "adm_name_en", "text", true),
        field("region", "adm_region", "select", true),
        field("contact", "adm_contact", "text", false),
    ],
    headers: &["adm_lab_id", "adm_name_ru", "adm_name_en", "adm_region", "adm_contact"],
};

const COMPANIES: Registry = Registry {
    path: "/admin/companies",
    title: "adm_companies_title",
    form_title: "adm_company_new",
    op: Op::ManageCompanies,
    fields: &[
        field("id", "adm_company_id", "text", true),
        field("name", "adm_name", "text", true),
        field("inn", "adm_inn", "text", false),
        field("region", "adm_region", "select", true),
    ],
    headers: &["adm_company_id", "adm_name", "adm_inn", "adm_region"],
};

const TEST_TYPES: Registry = Registry {
    path: "/admin/test-types",
    title: "adm_test_types_title",
    form_title: "adm_test_type_new",
    op: Op::ManageCatalog,
    fields: &[
        field("code", "adm_code", "text", true),
        field("standard", "adm_standard", "text", true),
        field("name", "adm_name_ru", "text", true),
        field("name_en", "adm_name_en", "text", true),
        field("equipment", "adm_equipment", "select", true),
        field("hours", "adm_hours", "number", true),
    ],
    headers: &["adm_code", "adm_standard", "adm_name_ru", "adm_name_en", "adm_equipment", "adm_hours"],
};

fn options(catalog: &Catalog, lang: Lang, name: &str) -> Vec<(String, String)> {
    match name {
        "region" => catalog
            .regions
            .values()
            .map(|r| (r.code.clone(), format!("{} — {}", r.code, pick(lang, &r.name, &r.name_en))))
            .collect(),
        "equipment" => catalog
            .equipment
            .values()
            .map(|e| (e.code.clone(), format!("{} — {}", e.code, pick(lang, &e.name, &e.name_en))))
            .collect(),
        _ => Vec::new(),
    }
}

fn rows_of(reg: &Registry, catalog: &Catalog, lang: Lang) -> Vec<Vec<String>> {
    match reg.path {
        "/admin/labs" => {
            let mut labs: Vec<_> = catalog.labs.values().collect();
            labs.sort_by(|a, b| a.id.cmp(&b.id));
            labs.iter()
                .map(|l| {
                    vec![
                        l.id.clone(),
                        l.name.clone(),
                        l.name_en.clone(),
                        catalog.region_name(&l.region, lang),
                        l.contact.clone().unwrap_or_default(),
                    ]
                })
                .collect()
        }
        "/admin/companies" => {
            let mut companies: Vec<_> = catalog.companies.values().collect();
            companies.sort_by(|a, b| a.id.cmp(&b.id));
            companies
                .iter()
                .map(|c| {
                    vec![
                        c.id.clone(),
                        c.name.clone(),
                        c.inn.clone().unwrap_or_default(),
                        catalog.region_name(&c.region, lang),
                    ]
                })
                .collect()
        }
        _ => catalog
            .test_types
            .values()
            .map(|t| {
                vec![
                    t.code.clone(),
                    t.standard.clone(),
                    t.name.clone(),
                    t.name_en.clone(),
                    catalog.equipment_name(&t.equipment, lang),
                    t.hours.to_string(),
                ]
            })
            .collect(),
    }
}

async fn show_registry(
    state: &AppState,
    page: &Page,
    reg: &Registry,
    form: &Values,
    errors: Errors,
    status: StatusCode,
    created: Option<String>,
) -> Response {
    let catalog = match catalog::load(&state.db).await {
        Ok(c) => c,
        Err(e) => return page.app_error(e),
    };
    let fields: Vec<minijinja::Value> = reg
        .fields
        .iter()
        .map(|f| {
            let current = value(form, f.name);
            let choices: Vec<minijinja::Value> = options(&catalog, page.lang, f.name)
                .into_iter()
                .map(|(v, text)| context! { selected => v == current, value => v, text })
                .collect();
            context! {
                name => f.name, label => page.t(f.label), kind => f.kind, required => f.required,
                value => current, options => choices,
            }
        })
        .collect();
    let headers: Vec<String> = reg.headers.iter().map(|h| page.t(h)).collect();
    page.render_status(
        status,
        "admin_registry.html",
        context! {
            title => page.t(reg.title), form_title => page.t(reg.form_title), action => reg.path,
            fields, errors, headers, rows => rows_of(reg, &catalog, page.lang), created,
            // A lab's scope and capacity are kept from its workbook's page.
            row_link => (reg.path == "/admin/labs").then_some("/imports/labs/"),
        },
    )
}

async fn registry_page(state: AppState, page: Page, reg: &Registry, done: Done) -> Response {
    if let Err(refused) = page.allow(reg.op) {
        return refused;
    }
    show_registry(&state, &page, reg, &Values::new(), Errors::new(), StatusCode::OK, done.created).await
}

async fn labs_page(State(state): State<AppState>, page: Page, Query(done): Query<Done>) -> Response {
    registry_page(state, page, &LABS, done).await
}

async fn companies_page(State(state): State<AppState>, page: Page, Query(done): Query<Done>) -> Response {
    registry_page(state, page, &COMPANIES, done).await
}

async fn test_types_page(State(state): State<AppState>, page: Page, Query(done): Query<Done>) -> Response {
    registry_page(state, page, &TEST_TYPES, done).await
}

/// The API's answer to a create: back to the list, or the form again with the errors.
async fn after_create<T>(
    state: &AppState,
    page: &Page,
    reg: &Registry,
    form: &Values,
    key: &str,
    result: Result<T, AppError>,
) -> Response {
    let errors = match result {
        Ok(_) => {
            let id: String = form_urlencoded::byte_serialize(value(form, key).as_bytes()).collect();
            return Redirect::to(&format!("{}?created={id}", reg.path)).into_response();
        }
        Err(AppError::Validation(errors)) => page.field_errors(&errors),
        Err(AppError::Conflict(_)) => Errors::from([(key.to_string(), page.t("adm_exists"))]),
        Err(e) => return page.app_error(e),
    };
    show_registry(state, page, reg, form, errors, StatusCode::UNPROCESSABLE_ENTITY, None).await
}

fn optional(form: &Values, name: &str) -> Option<String> {
    Some(value(form, name)).filter(|v| !v.is_empty())
}

async fn create_lab(State(state): State<AppState>, page: Page, Form(form): Form<Values>) -> Response {
    if let Err(refused) = page.allow(LABS.op).and_then(|()| page.check_csrf(csrf_of(&form))) {
        return refused;
    }
    let body = labs::LabBody {
        name: value(&form, "name"),
        name_en: value(&form, "name_en"),
        region: value(&form, "region"),
        contact: optional(&form, "contact"),
    };
    let result = labs::save(&state.db, &page.caller, &value(&form, "id"), body, false).await;
    after_create(&state, &page, &LABS, &form, "id", result).await
}

async fn create_company(State(state): State<AppState>, page: Page, Form(form): Form<Values>) -> Response {
    if let Err(refused) = page.allow(COMPANIES.op).and_then(|()| page.check_csrf(csrf_of(&form))) {
        return refused;
    }
    let body = companies::CompanyBody {
        name: value(&form, "name"),
        inn: optional(&form, "inn"),
        region: value(&form, "region"),
    };
    let result = companies::save(&state.db, &page.caller, &value(&form, "id"), body, false).await;
    after_create(&state, &page, &COMPANIES, &form, "id", result).await
}

async fn create_test_type(State(state): State<AppState>, page: Page, Form(form): Form<Values>) -> Response {
    if let Err(refused) = page.allow(TEST_TYPES.op).and_then(|()| page.check_csrf(csrf_of(&form))) {
        return refused;
    }
    let raw_hours = value(&form, "hours");
    let Ok(hours) = raw_hours.parse::<i64>() else {
        let errors = Errors::from([("hours".to_string(), page.t("field_number"))]);
        return show_registry(&state, &page, &TEST_TYPES, &form, errors, StatusCode::UNPROCESSABLE_ENTITY, None).await;
    };
    let body = catalog::TestTypeBody {
        standard: value(&form, "standard"),
        name: value(&form, "name"),
        name_en: value(&form, "name_en"),
        equipment: value(&form, "equipment"),
        hours,
    };
    let result = catalog::save_test_type(&state.db, &page.caller, &value(&form, "code"), body, false).await;
    after_create(&state, &page, &TEST_TYPES, &form, "code", result).await
}

// ---- users ----

fn admin_only(page: &Page) -> Result<(), Response> {
    page.allow(Op::ManageUsers)
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
    at.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
}

fn token_view(t: &api_tokens::Model) -> minijinja::Value {
    context! {
        name => t.name, created => when(Some(t.created_at)), last_used => when(t.last_used_at),
        expires => when(t.expires_at),
        revoked => when(t.revoked_at),
    }
}

fn role_choices(page: &Page, current: &str) -> Vec<minijinja::Value> {
    Role::ALL
        .iter()
        .map(|r| {
            context! { value => r.as_str(), text => page.t(&format!("role_{}", r.as_str())), selected => r.as_str() == current }
        })
        .collect()
}

fn binding_choices(catalog: &Catalog, company: &str, lab: &str) -> (Vec<minijinja::Value>, Vec<minijinja::Value>) {
    let mut companies: Vec<_> = catalog.companies.values().collect();
    companies.sort_by(|a, b| a.id.cmp(&b.id));
    let mut labs: Vec<_> = catalog.labs.values().collect();
    labs.sort_by(|a, b| a.id.cmp(&b.id));
    (
        companies
            .iter()
            .map(|c| context! { value => c.id, text => format!("{} — {}", c.id, c.name), selected => c.id == company })
            .collect(),
        labs.iter()
            .map(|l| context! { value => l.id, text => format!("{} — {}", l.id, l.name), selected => l.id == lab })
            .collect(),
    )
}

/// The form's role with only the binding it needs: the other select is ignored, and a
/// missing one is said next to its field.
fn role_and_binding(page: &Page, form: &Values, errors: &mut Errors) -> Option<Binding> {
    let Some(role) = Role::parse(&value(form, "role")) else {
        errors.insert("role".into(), page.t("adm_pick_role"));
        return None;
    };
    let company = optional(form, "company").filter(|_| role == Role::Company);
    let lab = optional(form, "lab").filter(|_| role == Role::Lab);
    if role == Role::Company && company.is_none() {
        errors.insert("company".into(), page.t("adm_needs_company"));
    }
    if role == Role::Lab && lab.is_none() {
        errors.insert("lab".into(), page.t("adm_needs_lab"));
    }
    Some(Binding { role, company, lab })
}

/// The operation's refusal as errors next to their fields, or an error page.
fn user_errors(page: &Page, error: AppError) -> Result<Errors, Response> {
    match error {
        AppError::Validation(errors) => Ok(page.field_errors(&errors)),
        other => Err(page.app_error(other)),
    }
}

async fn show_users(
    state: &AppState,
    page: &Page,
    form: &Values,
    errors: Errors,
    status: StatusCode,
    done: Done,
) -> Response {
    let (list, catalog) = match (users::list(&state.db, &page.caller).await, catalog::load(&state.db).await) {
        (Ok(l), Ok(c)) => (l, c),
        (Err(e), _) | (_, Err(e)) => return page.app_error(e),
    };
    let items: Vec<minijinja::Value> = list
        .iter()
        .map(|(u, tokens)| {
            let active: Vec<minijinja::Value> = tokens.iter().map(token_view).collect();
            let binding = u
                .company
                .as_ref()
                .map(|c| format!("{c} — {}", catalog.companies.get(c).map_or("", |m| m.name.as_str())))
                .or_else(|| u.lab.as_ref().map(|l| format!("{l} — {}", catalog.lab_name(l, page.lang))));
            context! {
                id => u.id, email => u.email, role => u.role.as_str(), role_text => page.t(&format!("role_{}", u.role.as_str())),
                binding, created => when(Some(u.created_at)), tokens => active,
                live_tokens => tokens.iter().filter(|t| t.revoked_at.is_none()).count(),
            }
        })
        .collect();
    let (companies, labs) = binding_choices(&catalog, &value(form, "company"), &value(form, "lab"));
    page.render_status(
        status,
        "admin_users.html",
        context! {
            items, errors, roles => role_choices(page, &value(form, "role")), companies, labs,
            form => context! { email => value(form, "email") },
            created => done.created,
        },
    )
}

async fn users_page(State(state): State<AppState>, page: Page, Query(done): Query<Done>) -> Response {
    if let Err(refused) = admin_only(&page) {
        return refused;
    }
    show_users(&state, &page, &Values::new(), Errors::new(), StatusCode::OK, done).await
}

async fn create_user(State(state): State<AppState>, page: Page, Form(form): Form<Values>) -> Response {
    if let Err(refused) = admin_only(&page).and_then(|()| page.check_csrf(csrf_of(&form))) {
        return refused;
    }
    let mut errors = Errors::new();
    let binding = role_and_binding(&page, &form, &mut errors);
    let (email, password) = (value(&form, "email"), form.get("password").cloned().unwrap_or_default());
    if email.is_empty() {
        let required = crate::domain::FieldError::new("email", crate::domain::Msg::Required);
        errors.insert("email".into(), super::i18n::message(page.lang, &required));
    }
    let result = match binding {
        Some(binding) if errors.is_empty() => {
            users::add(&state.db, &page.caller, NewUser { email: email.clone(), password, binding }).await
        }
        _ => return show_users(&state, &page, &form, errors, StatusCode::UNPROCESSABLE_ENTITY, Done::default()).await,
    };
    match result {
        Ok(user) => Redirect::to(&format!("/admin/users/{}?created=1", user.id)).into_response(),
        Err(e) => match user_errors(&page, e) {
            Ok(errors) => {
                show_users(&state, &page, &form, errors, StatusCode::UNPROCESSABLE_ENTITY, Done::default()).await
            }
            Err(refused) => refused,
        },
    }
}

async fn find_user(
    state: &AppState,
    page: &Page,
    id: i64,
) -> Result<(user_rows::Model, Vec<api_tokens::Model>), Response> {
    users::get(&state.db, &page.caller, id).await.map_err(|e| page.app_error(e))
}

async fn show_user(
    state: &AppState,
    page: &Page,
    (user, tokens): &(user_rows::Model, Vec<api_tokens::Model>),
    form: &Values,
    errors: Errors,
    status: StatusCode,
    done: Done,
) -> Response {
    let catalog = match catalog::load(&state.db).await {
        Ok(c) => c,
        Err(e) => return page.app_error(e),
    };
    let pick_or = |name: &str, current: &Option<String>| {
        form.get(name).cloned().unwrap_or_else(|| current.clone().unwrap_or_default())
    };
    let role = form.get("role").cloned().unwrap_or_else(|| user.role.as_str().to_string());
    let (companies, labs) = binding_choices(&catalog, &pick_or("company", &user.company), &pick_or("lab", &user.lab));
    let live = tokens.iter().filter(|t| t.revoked_at.is_none()).count();
    page.render_status(
        status,
        "admin_user.html",
        context! {
            u => context! {
                id => user.id, email => user.email, role_text => page.t(&format!("role_{}", user.role.as_str())),
                company => user.company, lab => user.lab, created => when(Some(user.created_at)),
                disabled => when(user.disabled_at),
            },
            tokens => tokens.iter().map(token_view).collect::<Vec<_>>(), live,
            roles => role_choices(page, &role), companies, labs, errors,
            created => done.created, saved => done.saved,
        },
    )
}

async fn user_page(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Response {
    if let Err(refused) = admin_only(&page) {
        return refused;
    }
    match find_user(&state, &page, id).await {
        Ok(user) => show_user(&state, &page, &user, &Values::new(), Errors::new(), StatusCode::OK, done).await,
        Err(refused) => refused,
    }
}

async fn change_role(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<Values>,
) -> Response {
    if let Err(refused) = admin_only(&page).and_then(|()| page.check_csrf(csrf_of(&form))) {
        return refused;
    }
    let user = match find_user(&state, &page, id).await {
        Ok(u) => u,
        Err(refused) => return refused,
    };
    let mut errors = Errors::new();
    let binding = role_and_binding(&page, &form, &mut errors);
    let result = match binding {
        Some(binding) if errors.is_empty() => users::set_role(&state.db, &page.caller, id, binding).await,
        _ => {
            return show_user(&state, &page, &user, &form, errors, StatusCode::UNPROCESSABLE_ENTITY, Done::default())
                .await;
        }
    };
    match result {
        Ok(_) => Redirect::to(&format!("/admin/users/{id}?saved=role")).into_response(),
        Err(e) => match user_errors(&page, e) {
            Ok(errors) => {
                show_user(&state, &page, &user, &form, errors, StatusCode::UNPROCESSABLE_ENTITY, Done::default()).await
            }
            Err(refused) => refused,
        },
    }
}

async fn revoke(State(state): State<AppState>, page: Page, Path(id): Path<i64>, Form(form): Form<Values>) -> Response {
    if let Err(refused) = admin_only(&page).and_then(|()| page.check_csrf(csrf_of(&form))) {
        return refused;
    }
    let user = match find_user(&state, &page, id).await {
        Ok(u) => u,
        Err(refused) => return refused,
    };
    match users::revoke_tokens(&state.db, &page.caller, user.0.id, None).await {
        Ok(_) => Redirect::to(&format!("/admin/users/{id}?saved=revoked")).into_response(),
        Err(e) => page.app_error(e),
    }
}

async fn set_access(state: AppState, page: Page, id: i64, form: Values, disable: bool) -> Response {
    if let Err(refused) = admin_only(&page).and_then(|()| page.check_csrf(csrf_of(&form))) {
        return refused;
    }
    match users::set_disabled(&state.db, &page.caller, id, disable).await {
        Ok(_) => {
            let done = if disable { "disabled" } else { "enabled" };
            Redirect::to(&format!("/admin/users/{id}?saved={done}")).into_response()
        }
        Err(e) => page.app_error(e),
    }
}

async fn disable(State(state): State<AppState>, page: Page, Path(id): Path<i64>, Form(form): Form<Values>) -> Response {
    set_access(state, page, id, form, true).await
}

async fn enable(State(state): State<AppState>, page: Page, Path(id): Path<i64>, Form(form): Form<Values>) -> Response {
    set_access(state, page, id, form, false).await
}
