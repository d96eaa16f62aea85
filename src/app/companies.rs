//! Companies that file requests: the administrator keeps them; a company user sees its own.

use sea_orm::{ConnectionTrait, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::policy::Op;
use super::records::{self, Mode};
use super::{AppError, AppResult, Work, require};
use crate::db::Db;
use crate::db::{catalog, companies as queries};
use crate::domain::access::Caller;
use crate::domain::inn::parse_inn;
use crate::domain::paging::{ListResponse, PageRequest};
use crate::domain::{Code, Errors, Kind, Msg, parse_name, parse_region_code};
use crate::entities::companies;

const COMPANY: records::Kind = records::Kind { entity: "company", name: "company" };

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Company {
    /// Registry id, e.g. `C0001`
    pub id: String,
    pub name: String,
    /// Taxpayer number (ИНН): 10 digits for an organisation, 12 for a sole trader
    pub inn: Option<String>,
    /// Region code
    pub region: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyBody {
    pub name: String,
    pub inn: Option<String>,
    pub region: String,
}

impl From<companies::Model> for Company {
    fn from(m: companies::Model) -> Self {
        Self { id: m.id, name: m.name, inn: m.inn, region: m.region }
    }
}

async fn company_row<C: ConnectionTrait>(db: &C, id: &str, body: &CompanyBody) -> AppResult<companies::ActiveModel> {
    let mut e = Errors::default();
    let id = e.take("id", Code::parse(id)).into_string();
    let name = e.take("name", parse_name(&body.name));
    let inn = match body.inn.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => e.take("inn", parse_inn(raw).map(Some)),
    };
    let region = e.take("region", parse_region_code(&body.region));
    if !region.is_empty() && catalog::region(db, &region).await?.is_none() {
        e.push("region", Msg::Unknown(Kind::Region, region.clone()));
    }
    e.finish()?;
    Ok(companies::ActiveModel { id: Set(id), name: Set(name), inn: Set(inn), region: Set(region) })
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    region: Option<&str>,
    page: PageRequest,
) -> AppResult<ListResponse<Company>> {
    require(caller, Op::ReadCompanies)?;
    let (rows, total) = queries::list(db, caller, region, page).await?;
    Ok(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page))
}

pub async fn get<C: ConnectionTrait>(db: &C, caller: &Caller, id: &str) -> AppResult<Company> {
    require(caller, Op::ReadCompanies)?;
    let row = queries::find(db, id)
        .await?
        .filter(|c| caller.sees_company(&c.id))
        .ok_or_else(|| AppError::not_found("company", id))?;
    Ok(row.into())
}

/// Creates the company, or with `replace` changes the existing one of that id.
pub async fn save<C: Db>(db: &C, caller: &Caller, id: &str, body: CompanyBody, replace: bool) -> AppResult<Company> {
    require(caller, Op::ManageCompanies)?;
    let mut work = Work::begin(db, caller).await?;
    let saved = save_in(&mut work, id, &body, replace).await?;
    work.commit().await?;
    Ok(saved)
}

/// [`save`]'s step inside a larger piece of work (an import that adds companies).
pub async fn save_in(work: &mut Work, id: &str, body: &CompanyBody, replace: bool) -> AppResult<Company> {
    let row = company_row(work.db(), id, body).await?;
    let id = id.trim();
    let before = queries::find(work.db(), id).await?.map(Company::from);
    let saved = records::save(work, COMPANY, id, before, row, Mode::create_or_replace(replace)).await?;
    Ok(saved)
}
