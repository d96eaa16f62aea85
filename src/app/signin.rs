//! Failed sign-ins per account and per address, in the server's memory: past the
//! limit within `WINDOW`, further attempts are refused until the window has passed.
//! A restart forgets them, which costs an attacker a restart of ours.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures per account before it waits.
pub const PER_ACCOUNT: usize = 5;
/// Failures per address: higher, since an office may share one address.
pub const PER_ADDRESS: usize = 30;

#[derive(Debug, Default)]
pub struct Limiter {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

fn recent(list: &mut Vec<Instant>) -> usize {
    let now = Instant::now();
    list.retain(|t| now.duration_since(*t) < WINDOW);
    list.len()
}

impl Limiter {
    pub fn blocked(&self, key: &str, limit: usize) -> bool {
        let Ok(mut map) = self.failures.lock() else { return false };
        map.get_mut(key).is_some_and(|list| recent(list) >= limit)
    }

    pub fn failed(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            // Bound the memory an attacker can make us spend on distinct keys.
            if map.len() > 100_000 {
                map.retain(|_, list| recent(list) > 0);
            }
            map.entry(key.to_string()).or_default().push(Instant::now());
        }
    }

    pub fn clear(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(key);
        }
    }
}

/// Why a sign-in was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures for this account or address lately.
    TooMany,
    /// An unknown e-mail or a wrong password: the same answer for both.
    BadCredentials,
}

/// Checks an e-mail and password against the limits and the stored hash.
pub async fn sign_in<C: sea_orm::ConnectionTrait>(
    db: &C,
    limiter: &Limiter,
    email: &str,
    password: &str,
    address: std::net::IpAddr,
) -> super::AppResult<Result<crate::entities::users::Model, Refusal>> {
    let email = email.trim().to_lowercase();
    let keys = [format!("account:{email}"), format!("address:{address}")];
    if limiter.blocked(&keys[0], PER_ACCOUNT) || limiter.blocked(&keys[1], PER_ADDRESS) {
        return Ok(Err(Refusal::TooMany));
    }
    let Some(user) = super::users::check_password(db, &email, password).await? else {
        for key in &keys {
            limiter.failed(key);
        }
        tracing::info!(%address, "failed sign-in");
        return Ok(Err(Refusal::BadCredentials));
    };
    limiter.clear(&keys[0]);
    tracing::info!(user = %user.email, "signed in");
    Ok(Ok(user))
}
