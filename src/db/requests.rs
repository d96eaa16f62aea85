//! Queries on test requests and their excluded labs.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, Select, Set,
    Statement,
};

use super::tallies::CountOf;
use crate::domain::access::{Caller, TokenClaim};
use crate::domain::paging::PageRequest;
use crate::domain::request::RequestFields;
use crate::domain::status::RequestStatus;
use crate::domain::{FieldError, Kind, Msg};
use crate::entities::{companies, labs, request_excluded_labs, test_requests, test_types};

/// A request with the labs its company will not use.
#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub row: test_requests::Model,
    pub excluded_labs: Vec<String>,
}

impl From<test_requests::Model> for StoredRequest {
    fn from(row: test_requests::Model) -> Self {
        Self { excluded_labs: split_excluded(row.excluded_labs_joined.as_deref()), row }
    }
}

#[derive(Debug, Default, Clone)]
pub struct RequestFilter {
    pub company: Option<String>,
    pub status: Option<RequestStatus>,
    pub test_type: Option<String>,
    pub equipment: Option<String>,
    pub region: Option<String>,
    /// Text a person typed into the list's search box
    pub search: Option<TextSearch>,
    pub order: RequestOrder,
    pub descending: bool,
}

/// A search box's text: found in a request's id, test type code or own reference, or in
/// the standard or name of its test type (`test_types`, the codes whose standard or name
/// hold it, found in the catalog by the caller).
#[derive(Debug, Clone, Default)]
pub struct TextSearch {
    pub text: String,
    pub test_types: Vec<String>,
}

/// The order of a request list; the id breaks ties, so pages never overlap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RequestOrder {
    #[default]
    Id,
    /// By the test type's name in Russian, or in English
    TestName {
        english: bool,
    },
    Samples,
    ReadyDate,
    DueDate,
    Status,
    PlannedLab,
    PlannedStart,
}

/// The references a filing names must exist; each missing one is reported against its field.
pub async fn check_references<C: ConnectionTrait>(db: &C, fields: &RequestFields) -> Result<Vec<FieldError>, DbErr> {
    let mut errors = Vec::new();
    // One round trip for both: a filing is the registry's most frequent write.
    let found = db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT (SELECT COUNT(*) FROM companies WHERE id = $1), (SELECT COUNT(*) FROM test_types WHERE code = $2)",
            [fields.company.as_str().into(), fields.test_type.as_str().into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the reference check returned nothing".into()))?;
    if found.try_get_by_index::<i64>(0)? == 0 {
        errors.push(FieldError::new("company", Msg::Unknown(Kind::Company, fields.company.to_string())));
    }
    if found.try_get_by_index::<i64>(1)? == 0 {
        errors.push(FieldError::new("test_type", Msg::Unknown(Kind::TestType, fields.test_type.to_string())));
    }
    if !fields.excluded_labs.is_empty() {
        let known: Vec<String> = labs::Entity::find()
            .select_only()
            .column(labs::Column::Id)
            .filter(labs::Column::Id.is_in(fields.excluded_labs.iter().map(|c| c.as_str())))
            .into_tuple()
            .all(db)
            .await?;
        for (i, lab) in fields.excluded_labs.iter().enumerate() {
            if !known.iter().any(|k| k == lab.as_str()) {
                errors.push(FieldError::new(format!("excluded_labs[{i}]"), Msg::Unknown(Kind::Lab, lab.to_string())));
            }
        }
    }
    Ok(errors)
}

pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<StoredRequest>, DbErr> {
    Ok(test_requests::Entity::find_by_id(id).one(db).await?.map(StoredRequest::from))
}

/// A request as its caller may see it: a company user's lookups of another company's
/// request find nothing, exactly like an unknown id.
pub async fn find_visible<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<Option<StoredRequest>, DbErr> {
    Ok(find(db, id).await?.filter(|r| caller.sees_company(&r.row.company)))
}

/// A company's request by its own reference.
pub async fn find_by_external_ref<C: ConnectionTrait>(
    db: &C,
    company: &str,
    external_ref: &str,
) -> Result<Option<StoredRequest>, DbErr> {
    Ok(test_requests::Entity::find()
        .filter(test_requests::Column::Company.eq(company))
        .filter(test_requests::Column::ExternalRef.eq(external_ref))
        .one(db)
        .await?
        .map(StoredRequest::from))
}

/// Lists requests visible to `caller` that match `filter`. With a claim (a caller taken
/// from a token read earlier) the page's statement also asks that the token still stands
/// for the caller; None when such a page came back empty, which is also what a token that
/// no longer holds gives: the caller must then be read again.
pub async fn list_claimed<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    claim: Option<&TokenClaim>,
    filter: &RequestFilter,
    page: PageRequest,
) -> Result<Option<(Vec<StoredRequest>, u64)>, DbErr> {
    let mut select = filtered(ordered(test_requests::Entity::find(), filter.order, filter.descending), caller, filter);
    if let Some(claim) = claim {
        select = select.filter(super::users::claim_holds(claim, chrono::Utc::now()));
    }
    let steered = caller.own_company().is_some()
        || filter.company.is_some()
        || filter.status.is_some()
        || filter.test_type.is_some()
        || filter.equipment.is_some()
        || filter.region.is_some()
        || filter.search.is_some();
    // A list the tallies can count (no search; a company only with a status or test type)
    // is not counted row by row: at a million requests that count alone would cost more
    // than the page. The total comes in the page's own statement, so a page is one round
    // trip.
    if let Some((of, count)) = tally_count(caller, filter, db.get_database_backend()) {
        let select = select.expr_as(count, TOTAL_COLUMN);
        let rows = Totaled::find_by_statement(page_statement(select, page, steered, db.get_database_backend()))
            .all(db)
            .await?;
        let total = match rows.first() {
            Some(first) => u64::try_from(first.total).unwrap_or(0),
            None if claim.is_some() => return Ok(None),
            // A page past the end has no row to carry the total.
            None => super::tallies::count(db, of).await?.unwrap_or(0),
        };
        return Ok(Some((rows.into_iter().map(|r| r.stored).collect(), total)));
    }
    let total = select.clone().into_model::<StoredRequest>().paginate(db, page.per_page).num_items().await?;
    let rows = StoredRequest::find_by_statement(page_statement(select, page, steered, db.get_database_backend()))
        .all(db)
        .await?;
    if rows.is_empty() && claim.is_some() {
        return Ok(None);
    }
    Ok(Some((rows, total)))
}

/// The tally-kept count of the requests a list shows, when the tallies keep it: not for
/// a search, nor for a company user who filters by another company (the list is empty
/// and counted as such).
fn tally_count<'a>(
    caller: &'a Caller,
    filter: &'a RequestFilter,
    backend: DbBackend,
) -> Option<(CountOf<'a>, sea_orm::sea_query::Expr)> {
    if filter.search.is_some() {
        return None;
    }
    let company = match (caller.own_company(), &filter.company) {
        (Some(own), Some(asked)) if own.as_str() != asked.as_str() => return None,
        (Some(own), _) => Some(own.as_str()),
        (None, asked) => asked.as_deref(),
    };
    let of = CountOf {
        status: filter.status,
        test_type: filter.test_type.as_deref(),
        equipment: filter.equipment.as_deref(),
        region: filter.region.as_deref(),
        company,
    };
    super::tallies::count_expr(of, backend).map(|count| (of, count))
}

/// One page of `select`. With `steered` false (no value in the statement changes which
/// plan is best: the plain list), its LIMIT and OFFSET are written into the SQL. Bound as
/// values, PostgreSQL would never settle on a generic plan for it: not knowing the LIMIT,
/// it costs the generic plan for a tenth of the table, and so plans every execution
/// afresh, a fifth of its work on a busy list. A filtered page keeps them bound, so that
/// each execution is planned for its values (a rare status wants its index, a common
/// one the id order).
fn page_statement(
    select: Select<test_requests::Entity>,
    page: PageRequest,
    steered: bool,
    backend: DbBackend,
) -> Statement {
    let offset = (page.page - 1).saturating_mul(page.per_page);
    if steered {
        return backend.build(&select.offset(offset).limit(page.per_page).into_query());
    }
    let mut statement = backend.build(&select.into_query());
    statement.sql.push_str(&format!(" LIMIT {} OFFSET {offset}", page.per_page));
    statement
}

/// Up to `limit` requests after the id `after`, in id order, that the caller may see and
/// that pass the filter: a whole list read chunk by chunk without counting it or
/// skipping over what came before (its order and paging are ignored).
pub async fn chunk_after<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    filter: &RequestFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<StoredRequest>, DbErr> {
    let mut select = filtered(test_requests::Entity::find().order_by_asc(test_requests::Column::Id), caller, filter);
    if let Some(after) = after {
        select = select.filter(test_requests::Column::Id.gt(after));
    }
    select.limit(limit).into_model::<StoredRequest>().all(db).await
}

/// The column that carries a page's total beside each of its rows.
const TOTAL_COLUMN: &str = "list_total";

/// Reads a request straight from the driver's row. The lists read thousands of rows a
/// second, and sea-orm's own decoding formats a message for every NULL it meets (most
/// of a request's optional columns are NULL), which cost a tenth of a list's time.
macro_rules! decode_row {
    ($row:expr) => {{
        use sea_orm::sqlx::Row as _;
        let row = $row;
        (|| -> Result<StoredRequest, sea_orm::sqlx::Error> {
            let status: String = row.try_get("status")?;
            let status = RequestStatus::parse(&status)
                .ok_or_else(|| sea_orm::sqlx::Error::Decode(format!("unknown request status {status:?}").into()))?;
            Ok(StoredRequest::from(test_requests::Model {
                id: row.try_get("id")?,
                company: row.try_get("company")?,
                test_type: row.try_get("test_type")?,
                samples: row.try_get("samples")?,
                ready_date: row.try_get("ready_date")?,
                due_date: row.try_get("due_date")?,
                priority: row.try_get("priority")?,
                external_ref: row.try_get("external_ref")?,
                notes: row.try_get("notes")?,
                status,
                status_reason: row.try_get("status_reason")?,
                version: row.try_get("version")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                planned_lab: row.try_get("planned_lab")?,
                planned_start: row.try_get("planned_start")?,
                planned_end: row.try_get("planned_end")?,
                excluded_labs_joined: row.try_get("excluded_labs_joined")?,
            }))
        })()
    }};
}

impl FromQueryResult for StoredRequest {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        if pre.is_empty() {
            if let Some(row) = res.try_as_pg_row() {
                return decode_row!(row).map_err(row_error);
            }
            if let Some(row) = res.try_as_sqlite_row() {
                return decode_row!(row).map_err(row_error);
            }
        }
        Ok(test_requests::Model::from_query_result(res, pre)?.into())
    }
}

/// The codes of `excluded_labs_joined`, in order (a lab code holds no comma).
fn split_excluded(joined: Option<&str>) -> Vec<String> {
    let mut labs: Vec<String> = joined.map(|j| j.split(',').map(str::to_string).collect()).unwrap_or_default();
    labs.sort_unstable();
    labs
}

fn row_error(e: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Type(format!("a stored request could not be read: {e}"))
}

/// A request of a page with the page's total.
struct Totaled {
    stored: StoredRequest,
    total: i64,
}

impl FromQueryResult for Totaled {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self { stored: StoredRequest::from_query_result(res, pre)?, total: res.try_get(pre, TOTAL_COLUMN)? })
    }
}

/// The caller's rows that pass the filter.
fn filtered(
    mut select: Select<test_requests::Entity>,
    caller: &Caller,
    filter: &RequestFilter,
) -> Select<test_requests::Entity> {
    if let Some(search) = &filter.search {
        select = select.filter(search_condition(search));
    }
    if let Some(own) = caller.own_company() {
        select = select.filter(test_requests::Column::Company.eq(own.as_str()));
    }
    if let Some(company) = &filter.company {
        select = select.filter(test_requests::Column::Company.eq(company.as_str()));
    }
    if let Some(status) = filter.status {
        select = select.filter(test_requests::Column::Status.eq(status));
    }
    if let Some(test_type) = &filter.test_type {
        select = select.filter(test_requests::Column::TestType.eq(test_type.as_str()));
    }
    if let Some(equipment) = &filter.equipment {
        select = select.filter(
            test_requests::Column::TestType.in_subquery(
                Query::select()
                    .column(test_types::Column::Code)
                    .from(test_types::Entity)
                    .and_where(Expr::col(test_types::Column::Equipment).eq(equipment.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(region) = &filter.region {
        select = select.filter(
            test_requests::Column::Company.in_subquery(
                Query::select()
                    .column(companies::Column::Id)
                    .from(companies::Entity)
                    .and_where(Expr::col(companies::Column::Region).eq(region.as_str()))
                    .to_owned(),
            ),
        );
    }
    select
}

fn ordered(
    select: Select<test_requests::Entity>,
    order: RequestOrder,
    descending: bool,
) -> Select<test_requests::Entity> {
    use test_requests::Column as C;
    let direction = if descending { sea_orm::Order::Desc } else { sea_orm::Order::Asc };
    let select = match order {
        RequestOrder::Id => select,
        RequestOrder::TestName { english } => {
            let name = if english { "name_en" } else { "name" };
            select.order_by(
                Expr::cust(format!("(SELECT {name} FROM test_types WHERE test_types.code = test_requests.test_type)")),
                direction.clone(),
            )
        }
        RequestOrder::Samples => select.order_by(C::Samples, direction.clone()),
        RequestOrder::ReadyDate => select.order_by(C::ReadyDate, direction.clone()),
        RequestOrder::DueDate => select.order_by(C::DueDate, direction.clone()),
        RequestOrder::Status => select.order_by(C::Status, direction.clone()),
        RequestOrder::PlannedLab => select.order_by(C::PlannedLab, direction.clone()),
        RequestOrder::PlannedStart => select.order_by(C::PlannedStart, direction.clone()),
    };
    select.order_by(C::Id, direction)
}

/// The text as typed, in lower and in upper case: SQLite folds the case of Latin letters
/// only, and references are often Cyrillic.
fn search_condition(search: &TextSearch) -> Condition {
    use test_requests::Column as C;
    let text = search.text.trim();
    let mut any = Condition::any();
    let mut variants = vec![text.to_string(), text.to_lowercase(), text.to_uppercase()];
    variants.dedup();
    for v in variants {
        let pattern = format!("%{}%", v.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        for column in [C::Id, C::TestType, C::ExternalRef] {
            any = any.add(Expr::col(column).like(LikeExpr::new(pattern.clone()).escape('\\')));
        }
    }
    if !search.test_types.is_empty() {
        any = any.add(C::TestType.is_in(search.test_types.clone()));
    }
    any
}

/// Requests by id, with their excluded labs.
pub async fn find_many<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
) -> Result<HashMap<String, test_requests::Model>, DbErr> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(super::BATCH) {
        for r in test_requests::Entity::find().filter(test_requests::Column::Id.is_in(chunk.to_vec())).all(db).await? {
            found.insert(r.id.clone(), r);
        }
    }
    Ok(found)
}

/// Requests in one of `statuses` whose samples are ready by `ready_by`, in id order.
pub async fn in_states<C: ConnectionTrait>(
    db: &C,
    statuses: &[RequestStatus],
    ready_by: Option<NaiveDate>,
) -> Result<Vec<test_requests::Model>, DbErr> {
    let mut select = test_requests::Entity::find()
        .filter(test_requests::Column::Status.is_in(statuses.iter().copied()))
        .order_by_asc(test_requests::Column::Id);
    if let Some(date) = ready_by {
        select = select.filter(test_requests::Column::ReadyDate.lte(date));
    }
    select.all(db).await
}

/// Every exclusion of the registry: (request, lab).
pub async fn all_exclusions<C: ConnectionTrait>(db: &C) -> Result<Vec<(String, String)>, DbErr> {
    Ok(request_excluded_labs::Entity::find().all(db).await?.into_iter().map(|e| (e.request, e.lab)).collect())
}

/// A newly filed request as it is stored: submitted, version 1, unplaced.
pub fn new_model(id: String, fields: &RequestFields, now: chrono::DateTime<chrono::Utc>) -> test_requests::Model {
    test_requests::Model {
        id,
        company: fields.company.to_string(),
        test_type: fields.test_type.to_string(),
        samples: fields.samples,
        ready_date: fields.ready_date,
        due_date: fields.due_date,
        priority: fields.priority,
        external_ref: fields.external_ref.clone(),
        notes: fields.notes.clone(),
        status: RequestStatus::Submitted,
        status_reason: None,
        version: 1,
        created_at: now,
        updated_at: now,
        planned_lab: None,
        planned_start: None,
        planned_end: None,
        excluded_labs_joined: join_excluded(fields),
    }
}

/// What `excluded_labs_joined` holds for `fields`: the codes in order, joined by commas;
/// NULL for none.
fn join_excluded(fields: &RequestFields) -> Option<String> {
    let codes = fields.sorted_excluded();
    (!codes.is_empty()).then(|| codes.join(","))
}

/// The row of a newly filed request, every column set for an INSERT.
pub fn new_row(id: String, fields: &RequestFields, now: chrono::DateTime<chrono::Utc>) -> test_requests::ActiveModel {
    new_model(id, fields, now).into_active_model().reset_all()
}

pub async fn insert<C: ConnectionTrait>(db: &C, id: String, fields: &RequestFields) -> Result<StoredRequest, DbErr> {
    let now = database_now();
    // Every column is known here: reading the row back would be one more round trip
    // (on SQLite a second statement) for nothing.
    test_requests::Entity::insert(new_row(id.clone(), fields, now)).exec_without_returning(db).await?;
    insert_excluded_labs(db, &id, fields).await?;
    Ok(new_model(id, fields, now).into())
}

/// Now, at the microseconds the databases keep, so that the answer to a filing shows
/// the same time a later read of the row does.
pub fn database_now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// The PostgreSQL id expression: `R` and at least five digits, as
/// [`super::sequences::format_request_id`] writes them.
const PG_NEXT_REQUEST_ID: &str = "'R' || CASE WHEN n < 100000 THEN lpad(n::text, 5, '0') ELSE n::text END";

/// A filing without excluded labs, as [`insert_audited_at_once`] writes it.
#[derive(Debug, Clone)]
pub struct Filing {
    pub fields: RequestFields,
    pub now: chrono::DateTime<chrono::Utc>,
    pub actor: Option<String>,
    /// The audit entry's `after`, without the id: the statement writes the new id into it.
    pub after: serde_json::Value,
    /// The caller's token, when it was read earlier: the statement checks it still holds.
    pub claim: Option<TokenClaim>,
}

impl Filing {
    /// The filing as one element of the statement's JSON array.
    fn json(&self, ord: usize) -> serde_json::Value {
        let claim = self.claim.as_ref();
        serde_json::json!({
            "ord": ord,
            "company": self.fields.company.as_str(),
            "test_type": self.fields.test_type.as_str(),
            "samples": self.fields.samples,
            "ready_date": self.fields.ready_date,
            "due_date": self.fields.due_date,
            "priority": self.fields.priority,
            "external_ref": self.fields.external_ref,
            "notes": self.fields.notes,
            "at": self.now,
            "actor": self.actor,
            "after": self.after,
            "token_hash": claim.map(|c| c.token_hash.as_str()),
            "claim_user": claim.map(|c| c.user),
            "claim_email": claim.map(|c| c.email.as_str()),
            "claim_role": claim.map(|c| c.role.as_str()),
            "claim_company": claim.and_then(|c| c.company.as_deref()),
            "claim_lab": claim.and_then(|c| c.lab.as_deref()),
        })
    }
}

/// Filings without excluded labs, all in one PostgreSQL statement: for each, the reference
/// checks, the caller's token when it was read earlier, the next id, the row and its audit
/// entry. One statement is atomic, so no transaction is opened around it: one round trip
/// and one commit for the whole batch. Each answer is the new id, or None, with nothing
/// written for that filing, when its company or test type does not exist or its token no
/// longer holds. A filing the database refuses fails the whole statement: the caller
/// files the batch one by one then (see [`super::filings`]).
pub async fn insert_audited_at_once<C: ConnectionTrait>(
    db: &C,
    filings: &[Filing],
) -> Result<Vec<Option<String>>, DbErr> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(filing_statement);
    let rows = serde_json::Value::Array(filings.iter().enumerate().map(|(ord, f)| f.json(ord)).collect());
    let values: Vec<sea_orm::Value> = vec![rows.to_string().into(), RequestStatus::Submitted.as_str().into()];
    let statement = sea_orm::Statement::from_sql_and_values(db.get_database_backend(), SQL.as_str(), values);
    let mut ids = vec![None; filings.len()];
    for row in db.query_all_raw(statement).await? {
        let ord = row.try_get_by_index::<i32>(0)?;
        let slot = usize::try_from(ord).ok().and_then(|ord| ids.get_mut(ord));
        let slot = slot.ok_or_else(|| DbErr::Custom(format!("the filing statement answered for filing {ord}")))?;
        *slot = Some(row.try_get_by_index::<String>(1)?);
    }
    Ok(ids)
}

/// The statement of [`insert_audited_at_once`]: `$1` the filings as a JSON array, `$2`
/// the status of a new request.
fn filing_statement() -> String {
    use super::users::{ClaimTerm, ClaimTerms, claim_terms_hold};
    use sea_orm::sea_query::{Alias, PostgresQueryBuilder};
    let col = |name: &str| Expr::col((Alias::new("v"), Alias::new(name)));
    let claim = claim_terms_hold(ClaimTerms {
        token_hash: col("token_hash"),
        user: col("claim_user"),
        email: col("claim_email"),
        role: col("claim_role"),
        company: ClaimTerm::IsNotDistinctFrom(col("claim_company")),
        lab: ClaimTerm::IsNotDistinctFrom(col("claim_lab")),
        now: col("at"),
    });
    // Every term is a column or a literal: the check binds no values of its own.
    let claim_sql = format!("({})", Query::select().expr(claim).to_string(PostgresQueryBuilder));
    format!(
        "WITH v AS MATERIALIZED ( \
             SELECT * FROM jsonb_to_recordset(CAST($1 AS jsonb)) AS v(ord int, company text, test_type text, \
                 samples int, ready_date date, due_date date, priority smallint, external_ref text, notes text, \
                 at timestamptz, actor text, after jsonb, token_hash text, claim_user bigint, claim_email text, \
                 claim_role text, claim_company text, claim_lab text)), \
         next AS MATERIALIZED ( \
             SELECT v.*, nextval('test_request_ids') AS n FROM v \
             WHERE EXISTS (SELECT 1 FROM companies WHERE id = v.company) \
               AND EXISTS (SELECT 1 FROM test_types WHERE code = v.test_type) \
               AND (v.token_hash IS NULL OR {claim_sql})), \
         numbered AS MATERIALIZED (SELECT next.*, {PG_NEXT_REQUEST_ID} AS id FROM next), \
         filed AS ( \
             INSERT INTO test_requests (id, company, test_type, samples, ready_date, due_date, priority, \
                 external_ref, notes, status, version, created_at, updated_at) \
             SELECT id, company, test_type, samples, ready_date, due_date, priority, external_ref, notes, \
                 $2, 1, at, at FROM numbered), \
         audited AS ( \
             INSERT INTO audit_log (at, actor, action, entity, entity_id, after) \
             SELECT at, actor, 'create', 'test_request', id, jsonb_set(after, '{{id}}', to_jsonb(id))::json \
             FROM numbered) \
         SELECT ord, id FROM numbered"
    )
}

/// Writes new field values (and puts the request back to `submitted`, unplaced) if it is
/// still at `expected_version` and in a state that may be edited; `None` when it is not
/// (someone else changed it first).
pub async fn update_if_version<C: ConnectionTrait>(
    db: &C,
    id: &str,
    expected_version: i32,
    fields: &RequestFields,
    editable: &[RequestStatus],
) -> Result<Option<StoredRequest>, DbErr> {
    let result = test_requests::Entity::update_many()
        .col_expr(test_requests::Column::TestType, Expr::value(fields.test_type.to_string()))
        .col_expr(test_requests::Column::Samples, Expr::value(fields.samples))
        .col_expr(test_requests::Column::ReadyDate, Expr::value(fields.ready_date))
        .col_expr(test_requests::Column::DueDate, Expr::value(fields.due_date))
        .col_expr(test_requests::Column::Priority, Expr::value(fields.priority))
        .col_expr(test_requests::Column::ExternalRef, Expr::value(fields.external_ref.clone()))
        .col_expr(test_requests::Column::Notes, Expr::value(fields.notes.clone()))
        .col_expr(test_requests::Column::Status, Expr::value(RequestStatus::Submitted))
        .col_expr(test_requests::Column::StatusReason, Expr::value(Option::<String>::None))
        .col_expr(test_requests::Column::Version, Expr::value(expected_version + 1))
        .col_expr(test_requests::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .col_expr(test_requests::Column::PlannedLab, Expr::value(Option::<String>::None))
        .col_expr(test_requests::Column::PlannedStart, Expr::value(Option::<NaiveDate>::None))
        .col_expr(test_requests::Column::PlannedEnd, Expr::value(Option::<NaiveDate>::None))
        .col_expr(test_requests::Column::ExcludedLabsJoined, Expr::value(join_excluded(fields)))
        .filter(test_requests::Column::Id.eq(id))
        .filter(test_requests::Column::Version.eq(expected_version))
        .filter(test_requests::Column::Status.is_in(editable.iter().copied()))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Ok(None);
    }
    replace_excluded_labs(db, id, fields).await?;
    find(db, id).await
}

/// Where the published plan puts a request: lab, first and last day of testing.
pub type Placement<'a> = Option<(&'a str, NaiveDate, NaiveDate)>;

/// Moves a request from one of `from` to `to`, with its reason and placement, bumping its
/// version; `None` when it is in none of `from` (or, with a version, no longer at it): the
/// caller lost a race and must not go on.
pub async fn transition<C: ConnectionTrait>(
    db: &C,
    id: &str,
    expected_version: Option<i32>,
    from: &[RequestStatus],
    to: RequestStatus,
    reason: Option<String>,
    placement: Placement<'_>,
) -> Result<Option<test_requests::Model>, DbErr> {
    let mut update = test_requests::Entity::update_many()
        .col_expr(test_requests::Column::Status, Expr::value(to))
        .col_expr(test_requests::Column::StatusReason, Expr::value(reason))
        .col_expr(test_requests::Column::PlannedLab, Expr::value(placement.map(|p| p.0.to_string())))
        .col_expr(test_requests::Column::PlannedStart, Expr::value(placement.map(|p| p.1)))
        .col_expr(test_requests::Column::PlannedEnd, Expr::value(placement.map(|p| p.2)))
        .col_expr(test_requests::Column::Version, Expr::col(test_requests::Column::Version).add(1))
        .col_expr(test_requests::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .filter(test_requests::Column::Id.eq(id))
        .filter(test_requests::Column::Status.is_in(from.iter().copied()));
    if let Some(version) = expected_version {
        update = update.filter(test_requests::Column::Version.eq(version));
    }
    Ok(update.exec_with_returning(db).await?.into_iter().next())
}

async fn replace_excluded_labs<C: ConnectionTrait>(db: &C, id: &str, fields: &RequestFields) -> Result<(), DbErr> {
    request_excluded_labs::Entity::delete_many().filter(request_excluded_labs::Column::Request.eq(id)).exec(db).await?;
    insert_excluded_labs(db, id, fields).await
}

async fn insert_excluded_labs<C: ConnectionTrait>(db: &C, id: &str, fields: &RequestFields) -> Result<(), DbErr> {
    if fields.excluded_labs.is_empty() {
        return Ok(());
    }
    request_excluded_labs::Entity::insert_many(
        fields
            .excluded_labs
            .iter()
            .map(|lab| request_excluded_labs::ActiveModel { request: Set(id.to_string()), lab: Set(lab.to_string()) }),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Loads many requests with their own ids (an imported data set) in batches; those that
/// exist already are left as they are, their excluded labs too (a request's
/// `excluded_labs_joined` must name exactly its rows of `request_excluded_labs`).
pub async fn insert_new_batch<C: ConnectionTrait>(
    db: &C,
    rows: Vec<test_requests::ActiveModel>,
    exclusions: Vec<(String, String)>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::OnConflict;
    let mut existing = std::collections::HashSet::new();
    for chunk in rows.chunks(super::BATCH) {
        let ids: Vec<String> = chunk.iter().filter_map(|r| r.id.try_as_ref().cloned()).collect();
        let found: Vec<String> = test_requests::Entity::find()
            .select_only()
            .column(test_requests::Column::Id)
            .filter(test_requests::Column::Id.is_in(ids))
            .into_tuple()
            .all(db)
            .await?;
        existing.extend(found);
        test_requests::Entity::insert_many(chunk.to_vec())
            .on_conflict(OnConflict::column(test_requests::Column::Id).do_nothing().to_owned())
            .try_insert()
            .exec(db)
            .await?;
    }
    let exclusions: Vec<request_excluded_labs::ActiveModel> = exclusions
        .into_iter()
        .filter(|(request, _)| !existing.contains(request))
        .map(|(request, lab)| request_excluded_labs::ActiveModel { request: Set(request), lab: Set(lab) })
        .collect();
    for chunk in exclusions.chunks(super::BATCH) {
        request_excluded_labs::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([request_excluded_labs::Column::Request, request_excluded_labs::Column::Lab])
                    .do_nothing()
                    .to_owned(),
            )
            .try_insert()
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Requests whose `excluded_labs_joined` does not name exactly their rows of
/// `request_excluded_labs`: none, if every write keeps the two together.
pub async fn exclusions_out_of_step<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    let mut rows: HashMap<String, Vec<String>> = HashMap::new();
    for (request, lab) in all_exclusions(db).await? {
        rows.entry(request).or_default().push(lab);
    }
    let mut out = Vec::new();
    let joined: Vec<(String, Option<String>)> = test_requests::Entity::find()
        .select_only()
        .column(test_requests::Column::Id)
        .column(test_requests::Column::ExcludedLabsJoined)
        .into_tuple()
        .all(db)
        .await?;
    for (id, joined) in joined {
        let mut labs = rows.remove(&id).unwrap_or_default();
        labs.sort_unstable();
        if split_excluded(joined.as_deref()) != labs {
            out.push(id);
        }
    }
    out.extend(rows.into_keys());
    out.sort_unstable();
    Ok(out)
}

pub async fn count<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    test_requests::Entity::find().count(db).await
}

/// Requests that carry their company's own reference (of one company, or of all), with
/// their excluded labs: what an import matches its rows against.
pub async fn with_external_ref<C: ConnectionTrait>(db: &C, company: Option<&str>) -> Result<Vec<StoredRequest>, DbErr> {
    let mut query = test_requests::Entity::find().filter(test_requests::Column::ExternalRef.is_not_null());
    if let Some(company) = company {
        query = query.filter(test_requests::Column::Company.eq(company));
    }
    Ok(query.all(db).await?.into_iter().map(StoredRequest::from).collect())
}
