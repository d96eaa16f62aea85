//! Users, passwords (argon2id) and API tokens in the database.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};

use super::{Caller, Role, new_secret, token_hash};
use crate::db::audit::{self, AuditEntry};
use crate::entities::{api_tokens, companies, labs, users};

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub fn hash_password(password: &str) -> Result<String, UserError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| UserError::Invalid(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Invalid(format!("could not hash the password: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

fn parse_email(raw: &str) -> Result<String, UserError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if valid { Ok(email) } else { Err(UserError::Invalid(format!("'{raw}' is not an e-mail address"))) }
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub role: Role,
    pub company: Option<&'a str>,
    pub lab: Option<&'a str>,
}

pub async fn add<C: TransactionTrait>(db: &C, new: NewUser<'_>) -> Result<users::Model, UserError> {
    add_as(db, new, None).await
}

/// A company user belongs to one company, a lab user to one lab, anyone else to neither.
async fn check_binding<C: ConnectionTrait>(
    db: &C,
    role: Role,
    company: Option<&str>,
    lab: Option<&str>,
) -> Result<(), UserError> {
    match (role, company, lab) {
        (Role::Company, Some(company), None) => {
            if companies::Entity::find_by_id(company).one(db).await?.is_none() {
                return Err(UserError::Invalid(format!("company '{company}' does not exist")));
            }
        }
        (Role::Lab, None, Some(lab)) => {
            if labs::Entity::find_by_id(lab).one(db).await?.is_none() {
                return Err(UserError::Invalid(format!("lab '{lab}' does not exist")));
            }
        }
        (Role::Planner | Role::Ministry | Role::Admin, None, None) => {}
        (Role::Company, ..) => return Err(UserError::Invalid("a company user needs --company and no --lab".into())),
        (Role::Lab, ..) => return Err(UserError::Invalid("a lab user needs --lab and no --company".into())),
        (role, ..) => {
            return Err(UserError::Invalid(format!("a {} user is bound to no company or lab", role.as_str())));
        }
    }
    Ok(())
}

fn user_snapshot(user: &users::Model) -> serde_json::Value {
    serde_json::json!({"email": user.email, "role": user.role, "company": user.company, "lab": user.lab})
}

/// Adds a user; `actor` is who did it, for the audit log (None: the command line).
/// The user and its audit row are written in one transaction.
pub async fn add_as<C: TransactionTrait>(
    db: &C,
    new: NewUser<'_>,
    actor: Option<&str>,
) -> Result<users::Model, UserError> {
    let txn = db.begin().await?;
    let db = &txn;
    let email = parse_email(new.email)?;
    if new.password.chars().count() < 12 {
        return Err(UserError::Invalid("the password must have at least 12 characters".into()));
    }
    check_binding(db, new.role, new.company, new.lab).await?;
    if users::Entity::find().filter(users::Column::Email.eq(email.as_str())).one(db).await?.is_some() {
        return Err(UserError::Invalid(format!("a user {email} already exists")));
    }
    let user = users::ActiveModel {
        email: Set(email),
        password_hash: Set(hash_password(new.password)?),
        role: Set(new.role.as_str().to_string()),
        company: Set(new.company.map(str::to_string)),
        lab: Set(new.lab.map(str::to_string)),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        AuditEntry { actor, action: "create", entity: "user", entity_id: &user.email },
        None,
        Some(user_snapshot(&user)),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// Gives a user another role (and the company or lab it needs), by the rules of [`add`].
pub async fn set_role<C: TransactionTrait>(
    db: &C,
    user: &users::Model,
    role: Role,
    company: Option<&str>,
    lab: Option<&str>,
    actor: Option<&str>,
) -> Result<users::Model, UserError> {
    let txn = db.begin().await?;
    let db = &txn;
    check_binding(db, role, company, lab).await?;
    let before = user_snapshot(user);
    let mut active: users::ActiveModel = user.clone().into();
    active.role = Set(role.as_str().to_string());
    active.company = Set(company.map(str::to_string));
    active.lab = Set(lab.map(str::to_string));
    let updated = active.update(db).await?;
    audit::record(
        db,
        AuditEntry { actor, action: "set_role", entity: "user", entity_id: &updated.email },
        Some(before),
        Some(user_snapshot(&updated)),
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

pub async fn find_by_email<C: ConnectionTrait>(db: &C, email: &str) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find().filter(users::Column::Email.eq(email.trim().to_lowercase())).one(db).await
}

/// Creates an API token for the user and returns it; only its hash is stored.
pub async fn create_token<C: ConnectionTrait>(db: &C, user: &users::Model, name: &str) -> Result<String, UserError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(UserError::Invalid("the token name must have 1 to 100 characters".into()));
    }
    let token = new_secret("lp_");
    api_tokens::ActiveModel {
        user: Set(user.id),
        name: Set(name.to_string()),
        token_hash: Set(token_hash(&token)),
        created_at: Set(chrono::Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        AuditEntry { actor: None, action: "create_token", entity: "user", entity_id: &user.email },
        None,
        Some(serde_json::json!({"token": name})),
    )
    .await?;
    Ok(token)
}

/// Revokes the user's tokens of that name (or all of them); returns how many.
pub async fn revoke_tokens<C: TransactionTrait>(db: &C, user: &users::Model, name: Option<&str>) -> Result<u64, DbErr> {
    revoke_tokens_as(db, user, name, None).await
}

/// [`revoke_tokens`], with who did it for the audit log, in one transaction with it.
pub async fn revoke_tokens_as<C: TransactionTrait>(
    db: &C,
    user: &users::Model,
    name: Option<&str>,
    actor: Option<&str>,
) -> Result<u64, DbErr> {
    let txn = db.begin().await?;
    let db = &txn;
    let mut update = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::RevokedAt, Expr::value(chrono::Utc::now()))
        .filter(api_tokens::Column::User.eq(user.id))
        .filter(api_tokens::Column::RevokedAt.is_null());
    if let Some(name) = name {
        update = update.filter(api_tokens::Column::Name.eq(name));
    }
    let revoked = update.exec(db).await?.rows_affected;
    if revoked > 0 {
        audit::record(
            db,
            AuditEntry { actor, action: "revoke_tokens", entity: "user", entity_id: &user.email },
            None,
            Some(serde_json::json!({"token": name, "revoked": revoked})),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(revoked)
}

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

pub fn caller_of(user: &users::Model) -> Option<Caller> {
    Some(Caller {
        user_id: user.id,
        email: user.email.clone(),
        role: Role::parse(&user.role)?,
        company: user.company.clone(),
        lab: user.lab.clone(),
    })
}

/// The caller a bearer token stands for; None for an unknown or revoked token.
pub async fn authenticate_token<C: ConnectionTrait>(db: &C, token: &str) -> Result<Option<Caller>, DbErr> {
    let Some(stored) = api_tokens::Entity::find()
        .filter(api_tokens::Column::TokenHash.eq(token_hash(token)))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(user) = users::Entity::find_by_id(stored.user).one(db).await? else {
        return Ok(None);
    };
    // Last-used is for people reviewing tokens; a minute's precision spares a write per request.
    let now = chrono::Utc::now();
    if stored.last_used_at.is_none_or(|at| now - at > chrono::Duration::seconds(60)) {
        api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::LastUsedAt, Expr::value(now))
            .filter(api_tokens::Column::Id.eq(stored.id))
            .exec(db)
            .await?;
    }
    Ok(caller_of(&user))
}
