//! Users with one role each, their API tokens and web sessions. The administrator (or
//! the operator at the command line) keeps them; every change is audited.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde_json::json;

use super::policy::Op;
use super::{AppError, AppResult, Work, require};
use crate::auth::{self, MIN_PASSWORD_CHARS};
use crate::db::Db;
use crate::db::users as queries;
use crate::db::{companies, labs};
use crate::domain::access::{Caller, Role, TokenClaim};
use crate::domain::ids::UserId;
use crate::domain::{Errors, Kind, Msg};
use crate::entities::{api_tokens, sessions, users};

/// How long a web session lasts.
pub const SESSION_HOURS: i64 = 8;
/// The longest token name.
const MAX_TOKEN_NAME: usize = 100;

/// A user's role and, where the role needs one, its company or lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub role: Role,
    pub company: Option<String>,
    pub lab: Option<String>,
}

pub struct NewUser {
    pub email: String,
    pub password: String,
    pub binding: Binding,
}

fn parse_email(raw: &str) -> Result<String, Msg> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(Msg::Required);
    }
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid { Ok(email) } else { Err(Msg::Email(raw.trim().to_string())) }
}

/// A company user belongs to one company, a lab user to one lab, anyone else to neither.
async fn check_binding<C: ConnectionTrait>(db: &C, binding: &Binding, errors: &mut Errors) -> AppResult<()> {
    match (binding.role, binding.company.as_deref(), binding.lab.as_deref()) {
        (Role::Company, Some(company), None) => {
            if companies::find(db, company).await?.is_none() {
                errors.push("company", Msg::NotInRegistry(Kind::Company, company.to_string()));
            }
        }
        (Role::Lab, None, Some(lab)) => {
            if labs::find(db, lab).await?.is_none() {
                errors.push("lab", Msg::NotInRegistry(Kind::Lab, lab.to_string()));
            }
        }
        (Role::Planner | Role::Ministry | Role::Admin, None, None) => {}
        (Role::Company, ..) => errors.push("company", Msg::NeedsCompany),
        (Role::Lab, ..) => errors.push("lab", Msg::NeedsLab),
        (role, ..) => errors.push("role", Msg::NoBinding(role.as_str().to_string())),
    }
    Ok(())
}

fn user_snapshot(user: &users::Model) -> serde_json::Value {
    json!({"email": user.email, "role": user.role, "company": user.company, "lab": user.lab})
}

pub async fn add<C: Db>(db: &C, caller: &Caller, new: NewUser) -> AppResult<users::Model> {
    require(caller, Op::ManageUsers)?;
    let mut work = Work::begin(db, caller).await?;
    let mut e = Errors::default();
    let email = e.take("email", parse_email(&new.email));
    if new.password.chars().count() < MIN_PASSWORD_CHARS {
        e.push("password", Msg::PasswordShort);
    }
    check_binding(work.db(), &new.binding, &mut e).await?;
    if !email.is_empty() && queries::find_by_email(work.db(), &email).await?.is_some() {
        e.push("email", Msg::UserExists(email.clone()));
    }
    e.finish()?;
    let user = queries::insert(
        work.db(),
        queries::NewUser {
            email,
            password_hash: auth::hash_password(&new.password)?,
            role: new.binding.role,
            company: new.binding.company,
            lab: new.binding.lab,
        },
    )
    .await?;
    work.audit("create", "user", user.email.clone(), None, Some(user_snapshot(&user)));
    work.commit().await?;
    Ok(user)
}

/// Gives a user another role (and the company or lab it needs), by the rules of [`add`].
pub async fn set_role<C: Db>(db: &C, caller: &Caller, id: i64, binding: Binding) -> AppResult<users::Model> {
    require(caller, Op::ManageUsers)?;
    let mut work = Work::begin(db, caller).await?;
    let user = queries::find(work.db(), id).await?.ok_or_else(|| AppError::not_found("user", id))?;
    let mut e = Errors::default();
    check_binding(work.db(), &binding, &mut e).await?;
    e.finish()?;
    let updated = queries::set_role(work.db(), &user, binding.role, binding.company, binding.lab).await?;
    work.audit("set_role", "user", updated.email.clone(), Some(user_snapshot(&user)), Some(user_snapshot(&updated)));
    work.commit().await?;
    Ok(updated)
}

pub async fn find_by_email<C: ConnectionTrait>(db: &C, caller: &Caller, email: &str) -> AppResult<users::Model> {
    require(caller, Op::ManageUsers)?;
    queries::find_by_email(db, email).await?.ok_or_else(|| AppError::not_found("user", email.trim()))
}

pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: i64,
) -> AppResult<(users::Model, Vec<api_tokens::Model>)> {
    require(caller, Op::ManageUsers)?;
    let user = queries::find(db, id).await?.ok_or_else(|| AppError::not_found("user", id))?;
    let tokens = queries::tokens_of(db, id).await?;
    Ok((user, tokens))
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
) -> AppResult<Vec<(users::Model, Vec<api_tokens::Model>)>> {
    require(caller, Op::ManageUsers)?;
    Ok(queries::list(db).await?)
}

/// How long a new API token lasts unless its maker says otherwise.
pub const DEFAULT_TOKEN_DAYS: u32 = 365;
/// The longest life a token may be given: ten years.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// Creates an API token for the user that expires after `days` (none: never) and
/// returns it; only its hash is stored.
pub async fn create_token<C: Db>(
    db: &C,
    caller: &Caller,
    user_id: i64,
    name: &str,
    days: Option<u32>,
) -> AppResult<String> {
    require(caller, Op::ManageUsers)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME || name.chars().any(char::is_control) {
        return Err(AppError::field("name", Msg::TooLong(MAX_TOKEN_NAME)));
    }
    if days.is_some_and(|d| d == 0 || d > MAX_TOKEN_DAYS) {
        return Err(AppError::field("days", Msg::Range(1, i64::from(MAX_TOKEN_DAYS))));
    }
    let expires_at = days.map(|d| Utc::now() + chrono::Duration::days(i64::from(d)));
    let mut work = Work::begin(db, caller).await?;
    let user = queries::find(work.db(), user_id).await?.ok_or_else(|| AppError::not_found("user", user_id))?;
    let token = auth::new_secret("lp_");
    queries::insert_token(work.db(), user.id, name, auth::token_hash(&token), expires_at).await?;
    work.audit(
        "create_token",
        "user",
        user.email.clone(),
        None,
        Some(json!({"token": name, "expires_at": expires_at})),
    );
    work.commit().await?;
    Ok(token)
}

/// Revokes the user's tokens of that name (or all of them); returns how many.
pub async fn revoke_tokens<C: Db>(db: &C, caller: &Caller, user_id: i64, name: Option<&str>) -> AppResult<u64> {
    require(caller, Op::ManageUsers)?;
    let mut work = Work::begin(db, caller).await?;
    let user = queries::find(work.db(), user_id).await?.ok_or_else(|| AppError::not_found("user", user_id))?;
    let revoked = queries::revoke_tokens(work.db(), user.id, name).await?;
    work.audit("revoke_tokens", "user", user.email.clone(), None, Some(json!({"token": name, "revoked": revoked})));
    work.commit().await?;
    Ok(revoked)
}

pub fn caller_of(user: &users::Model) -> Option<Caller> {
    Caller::of_user(UserId(user.id), &user.email, user.role, user.company.as_deref(), user.lab.as_deref())
}

/// Ends a user's access at once (web sessions and API tokens), or gives it back; the
/// tokens are kept, refused while the user is disabled.
pub async fn set_disabled<C: Db>(db: &C, caller: &Caller, id: i64, disabled: bool) -> AppResult<users::Model> {
    require(caller, Op::ManageUsers)?;
    if caller.user().is_some_and(|me| me.id.0 == id) && disabled {
        return Err(AppError::Conflict("you cannot disable your own account".into()));
    }
    let mut work = Work::begin(db, caller).await?;
    let user = queries::find(work.db(), id).await?.ok_or_else(|| AppError::not_found("user", id))?;
    let at = disabled.then(Utc::now);
    let updated = queries::set_disabled(work.db(), &user, at).await?;
    let ended = if disabled { queries::delete_sessions(work.db(), id, None).await? } else { 0 };
    work.audit(
        if disabled { "disable" } else { "enable" },
        "user",
        user.email.clone(),
        Some(json!({"disabled_at": user.disabled_at})),
        Some(json!({"disabled_at": updated.disabled_at, "sessions_ended": ended})),
    );
    work.commit().await?;
    Ok(updated)
}

/// The caller of a stored user who may act: none for a disabled one.
fn active_caller(user: &users::Model) -> Option<Caller> {
    if user.disabled_at.is_some() { None } else { caller_of(user) }
}

/// The caller a bearer token stands for, with what the token was read to stand for;
/// None for an unknown, revoked or expired token, or a disabled user's.
pub async fn authenticate_token<C: ConnectionTrait>(db: &C, token: &str) -> AppResult<Option<(Caller, TokenClaim)>> {
    authenticate_hash(db, &auth::token_hash(token)).await
}

/// [`authenticate_token`] by the token's hash.
pub async fn authenticate_hash<C: ConnectionTrait>(db: &C, hash: &str) -> AppResult<Option<(Caller, TokenClaim)>> {
    let now = Utc::now();
    let Some((stored, user)) = queries::token_user(db, hash, now).await? else {
        return Ok(None);
    };
    let Some(caller) = active_caller(&user) else {
        return Ok(None);
    };
    // Last-used is for people reviewing tokens; a minute's precision spares a write per request.
    if stored.last_used_at.is_none_or(|at| now - at > chrono::Duration::seconds(60)) {
        queries::touch_token(db, stored.id, now).await?;
    }
    let claim = TokenClaim {
        token_hash: hash.to_string(),
        user: user.id,
        email: user.email,
        role: user.role,
        company: user.company,
        lab: user.lab,
    };
    Ok(Some((caller, claim)))
}

/// Whether a token read earlier still stands for the same caller.
pub async fn claim_holds<C: ConnectionTrait>(db: &C, claim: &TokenClaim) -> AppResult<bool> {
    Ok(queries::claim_still_holds(db, claim, Utc::now()).await?)
}

/// Tokens read in the last minute, by hash, and whom they stood for. An entry is never
/// proof on its own: it lets a request skip reading its token only where the work's own
/// statement checks the token (see [`TokenClaim`]); every other request reads it.
#[derive(Default)]
pub struct KnownTokens {
    known: std::sync::Mutex<std::collections::HashMap<String, (Caller, TokenClaim, std::time::Instant)>>,
}

impl KnownTokens {
    /// How long an entry is used; after it the token is read again (which also keeps
    /// its last use current to the minute).
    const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(60);
    /// The most entries kept; past it the stale ones go, then all of them.
    const MOST: usize = 10_000;

    pub fn get(&self, hash: &str) -> Option<(Caller, TokenClaim)> {
        let known = self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (caller, claim, at) = known.get(hash)?;
        (at.elapsed() < Self::FRESH_FOR).then(|| (caller.clone(), claim.clone()))
    }

    pub fn put(&self, caller: &Caller, claim: &TokenClaim) {
        let mut known = self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.len() >= Self::MOST {
            known.retain(|_, (_, _, at)| at.elapsed() < Self::FRESH_FOR);
            if known.len() >= Self::MOST {
                known.clear();
            }
        }
        known.insert(claim.token_hash.clone(), (caller.clone(), claim.clone(), std::time::Instant::now()));
    }

    pub fn forget(&self, hash: &str) {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(hash);
    }
}

/// A hash to verify against when the account does not exist, so that an unknown
/// e-mail costs as much time as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| auth::hash_password("no such user, no such password").unwrap_or_default())
}

/// The user whose password this is, or None (for an unknown e-mail too, at the same cost).
pub async fn check_password<C: ConnectionTrait>(
    db: &C,
    email: &str,
    password: &str,
) -> AppResult<Option<users::Model>> {
    let user = queries::find_by_email(db, email).await?;
    let ok = match &user {
        Some(user) => auth::verify_password(password, &user.password_hash),
        None => {
            auth::verify_password(password, dummy_hash());
            false
        }
    };
    Ok(user.filter(|_| ok))
}

/// A signed-in session: its row and whom it stands for.
pub struct Session {
    pub row: sessions::Model,
    pub user: users::Model,
    pub caller: Caller,
}

/// Starts a session for the user; returns the secret for the cookie (only its hash is
/// kept) and ends `replaced`, the session the browser came with, if any.
pub async fn start_session<C: Db>(db: &C, user: &users::Model, replaced: Option<&str>) -> AppResult<String> {
    let txn = crate::db::begin(db).await?;
    if let Some(old) = replaced {
        queries::delete_session(&txn, &auth::token_hash(old)).await?;
    }
    let secret = auth::new_secret("");
    let now = Utc::now();
    let expires: DateTime<Utc> = now + chrono::Duration::hours(SESSION_HOURS);
    queries::insert_session(&txn, auth::token_hash(&secret), user.id, auth::new_secret(""), expires).await?;
    // Expired sessions of this user are of no further use.
    queries::delete_sessions(&txn, user.id, Some(now)).await?;
    txn.commit().await?;
    Ok(secret)
}

/// The live session of a cookie's secret; an expired one is ended.
pub async fn session<C: ConnectionTrait>(db: &C, secret: &str) -> AppResult<Option<Session>> {
    let Some(row) = queries::session(db, &auth::token_hash(secret)).await? else {
        return Ok(None);
    };
    if row.expires_at < Utc::now() {
        queries::delete_session(db, &row.id).await?;
        return Ok(None);
    }
    let Some(user) = queries::find(db, row.user).await? else {
        return Ok(None);
    };
    Ok(active_caller(&user).map(|caller| Session { row, user, caller }))
}

pub async fn end_session<C: ConnectionTrait>(db: &C, session: &Session) -> AppResult<()> {
    Ok(queries::delete_session(db, &session.row.id).await?)
}
