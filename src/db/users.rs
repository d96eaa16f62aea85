//! Users, their API tokens (stored as hashes) and web sessions.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::domain::access::{Role, TokenClaim};
use crate::entities::{api_tokens, sessions, users};

pub async fn find<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find_by_id(id).one(db).await
}

pub async fn find_by_email<C: ConnectionTrait>(db: &C, email: &str) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find().filter(users::Column::Email.eq(email.trim().to_lowercase())).one(db).await
}

pub struct NewUser {
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub company: Option<String>,
    pub lab: Option<String>,
}

pub async fn insert<C: ConnectionTrait>(db: &C, new: NewUser) -> Result<users::Model, DbErr> {
    users::ActiveModel {
        email: Set(new.email),
        password_hash: Set(new.password_hash),
        role: Set(new.role),
        company: Set(new.company),
        lab: Set(new.lab),
        created_at: Set(Utc::now()),
        disabled_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Disables the user from `at`, or with None enables them again.
pub async fn set_disabled<C: ConnectionTrait>(
    db: &C,
    user: &users::Model,
    at: Option<DateTime<Utc>>,
) -> Result<users::Model, DbErr> {
    let mut active: users::ActiveModel = user.clone().into();
    active.disabled_at = Set(at);
    active.update(db).await
}

pub async fn set_role<C: ConnectionTrait>(
    db: &C,
    user: &users::Model,
    role: Role,
    company: Option<String>,
    lab: Option<String>,
) -> Result<users::Model, DbErr> {
    let mut active: users::ActiveModel = user.clone().into();
    active.role = Set(role);
    active.company = Set(company);
    active.lab = Set(lab);
    active.update(db).await
}

/// Every user with their tokens, by e-mail.
pub async fn list<C: ConnectionTrait>(db: &C) -> Result<Vec<(users::Model, Vec<api_tokens::Model>)>, DbErr> {
    let users = users::Entity::find().order_by_asc(users::Column::Email).all(db).await?;
    let tokens = api_tokens::Entity::find().order_by_asc(api_tokens::Column::Id).all(db).await?;
    Ok(users
        .into_iter()
        .map(|u| {
            let own = tokens.iter().filter(|t| t.user == u.id).cloned().collect();
            (u, own)
        })
        .collect())
}

pub async fn tokens_of<C: ConnectionTrait>(db: &C, user: i64) -> Result<Vec<api_tokens::Model>, DbErr> {
    api_tokens::Entity::find()
        .filter(api_tokens::Column::User.eq(user))
        .order_by_asc(api_tokens::Column::Id)
        .all(db)
        .await
}

pub async fn insert_token<C: ConnectionTrait>(
    db: &C,
    user: i64,
    name: &str,
    hash: String,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    api_tokens::ActiveModel {
        user: Set(user),
        name: Set(name.to_string()),
        token_hash: Set(hash),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        expires_at: Set(expires_at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Revokes the user's live tokens of that name (or all of them); returns how many.
pub async fn revoke_tokens<C: ConnectionTrait>(db: &C, user: i64, name: Option<&str>) -> Result<u64, DbErr> {
    let mut update = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(api_tokens::Column::User.eq(user))
        .filter(api_tokens::Column::RevokedAt.is_null());
    if let Some(name) = name {
        update = update.filter(api_tokens::Column::Name.eq(name));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// True while the claim's token is live and its user enabled and bound as the claim
/// says: a condition for a statement that acts on the claim's behalf without reading
/// the token first.
pub fn claim_holds(claim: &TokenClaim, now: DateTime<Utc>) -> SimpleExpr {
    let nullable = |value: &Option<String>| match value {
        Some(value) => ClaimTerm::Is(Expr::val(value.as_str())),
        None => ClaimTerm::Null,
    };
    claim_terms_hold(ClaimTerms {
        token_hash: Expr::val(claim.token_hash.as_str()),
        user: Expr::val(claim.user),
        email: Expr::val(claim.email.as_str()),
        role: Expr::val(claim.role.as_str()),
        company: nullable(&claim.company),
        lab: nullable(&claim.lab),
        now: Expr::val(now),
    })
}

/// A claim's fields as SQL: its values, or the columns of rows that each carry one (a
/// batch of filings, each on its own caller's behalf).
pub struct ClaimTerms {
    pub token_hash: SimpleExpr,
    pub user: SimpleExpr,
    pub email: SimpleExpr,
    pub role: SimpleExpr,
    pub company: ClaimTerm,
    pub lab: ClaimTerm,
    pub now: SimpleExpr,
}

/// What a claim says of a user's company or lab.
pub enum ClaimTerm {
    /// It has none.
    Null,
    /// It is this value.
    Is(SimpleExpr),
    /// It is this value, or none when the value is NULL (PostgreSQL only).
    IsNotDistinctFrom(SimpleExpr),
}

/// [`claim_holds`] for any [`ClaimTerms`].
pub fn claim_terms_hold(terms: ClaimTerms) -> SimpleExpr {
    let user = |c: users::Column| Expr::col((users::Entity, c));
    let mut check = Query::select();
    check
        .expr(Expr::cust("1"))
        .from(api_tokens::Entity)
        .inner_join(users::Entity, user(users::Column::Id).equals((api_tokens::Entity, api_tokens::Column::User)))
        .and_where(Expr::col((api_tokens::Entity, api_tokens::Column::TokenHash)).eq(terms.token_hash))
        .and_where(Expr::col((api_tokens::Entity, api_tokens::Column::RevokedAt)).is_null())
        .cond_where(
            Condition::any()
                .add(Expr::col((api_tokens::Entity, api_tokens::Column::ExpiresAt)).is_null())
                .add(Expr::col((api_tokens::Entity, api_tokens::Column::ExpiresAt)).gt(terms.now)),
        )
        .and_where(user(users::Column::Id).eq(terms.user))
        .and_where(user(users::Column::Email).eq(terms.email))
        .and_where(user(users::Column::DisabledAt).is_null())
        .and_where(user(users::Column::Role).eq(terms.role));
    for (column, term) in [(users::Column::Company, terms.company), (users::Column::Lab, terms.lab)] {
        check.and_where(match term {
            ClaimTerm::Null => user(column).is_null(),
            ClaimTerm::Is(value) => user(column).eq(value),
            ClaimTerm::IsNotDistinctFrom(value) => {
                Expr::cust_with_exprs("$1 IS NOT DISTINCT FROM $2", [user(column), value])
            }
        });
    }
    Expr::exists(check)
}

/// Whether the claim still holds, asked on its own.
pub async fn claim_still_holds<C: ConnectionTrait>(
    db: &C,
    claim: &TokenClaim,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let query = Query::select().expr_as(claim_holds(claim, now), "holds").to_owned();
    let row = db.query_one_raw(backend.build(&query)).await?;
    Ok(match row {
        Some(row) => row.try_get_by_index::<bool>(0)?,
        None => false,
    })
}

/// A live token and its user, in one query: every API request asks it.
pub async fn token_user<C: ConnectionTrait>(
    db: &C,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(api_tokens::Model, users::Model)>, DbErr> {
    let found = api_tokens::Entity::find()
        .find_also_related(users::Entity)
        .filter(api_tokens::Column::TokenHash.eq(hash))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .filter(
            sea_orm::Condition::any()
                .add(api_tokens::Column::ExpiresAt.is_null())
                .add(api_tokens::Column::ExpiresAt.gt(now)),
        )
        .one(db)
        .await?;
    Ok(found.and_then(|(token, user)| user.map(|u| (token, u))))
}

pub async fn touch_token<C: ConnectionTrait>(db: &C, id: i64, now: DateTime<Utc>) -> Result<(), DbErr> {
    api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::LastUsedAt, Expr::value(now))
        .filter(api_tokens::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

// ---- web sessions ----

pub async fn session<C: ConnectionTrait>(db: &C, hash: &str) -> Result<Option<sessions::Model>, DbErr> {
    sessions::Entity::find_by_id(hash).one(db).await
}

pub async fn insert_session<C: ConnectionTrait>(
    db: &C,
    hash: String,
    user: i64,
    csrf: String,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    sessions::ActiveModel {
        id: Set(hash),
        user: Set(user),
        csrf_token: Set(csrf),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn delete_session<C: ConnectionTrait>(db: &C, hash: &str) -> Result<(), DbErr> {
    sessions::Entity::delete_by_id(hash).exec(db).await?;
    Ok(())
}

/// Ends the user's sessions that expired before `now`, or every one of them.
pub async fn delete_sessions<C: ConnectionTrait>(
    db: &C,
    user: i64,
    expired_before: Option<DateTime<Utc>>,
) -> Result<u64, DbErr> {
    let mut delete = sessions::Entity::delete_many().filter(sessions::Column::User.eq(user));
    if let Some(now) = expired_before {
        delete = delete.filter(sessions::Column::ExpiresAt.lt(now));
    }
    Ok(delete.exec(db).await?.rows_affected)
}
