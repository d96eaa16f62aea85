//! Signing in with an e-mail and password, and the limit on tries: past it within
//! [`WINDOW`], further tries are refused until the window has passed. A try counts from
//! the moment it is let in, before the password is checked, so a burst of parallel tries
//! gets no more checks than the limit. Tries are kept in the server's memory; a restart
//! forgets them, which costs an attacker a restart of ours.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;

use super::AppResult;
use crate::entities::users;

const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed tries per account before it waits.
pub const PER_ACCOUNT: usize = 5;
/// Failed tries per address: higher, since an office may share one address.
pub const PER_ADDRESS: usize = 30;
/// Keys kept at most; past it the stale ones are dropped, bounding what an attacker
/// can make us remember.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Default)]
pub struct Limiter {
    tries: Mutex<HashMap<String, Vec<Instant>>>,
}

fn recent(list: &mut Vec<Instant>) -> usize {
    let now = Instant::now();
    list.retain(|t| now.duration_since(*t) < WINDOW);
    list.len()
}

impl Limiter {
    /// Lets a try in if no key is at its limit, counting it against every key at once.
    fn admit(&self, keys: &[(&str, usize)]) -> bool {
        let Ok(mut map) = self.tries.lock() else { return false };
        if keys.iter().any(|(key, limit)| map.get_mut(*key).is_some_and(|list| recent(list) >= *limit)) {
            return false;
        }
        if map.len() > MAX_KEYS {
            map.retain(|_, list| recent(list) > 0);
        }
        let now = Instant::now();
        for (key, _) in keys {
            map.entry((*key).to_string()).or_default().push(now);
        }
        true
    }

    /// A try that succeeded was no failure: the account starts afresh and the address
    /// gets its try back.
    fn succeeded(&self, account: &str, address: &str) {
        if let Ok(mut map) = self.tries.lock() {
            map.remove(account);
            if let Some(list) = map.get_mut(address) {
                list.pop();
            }
        }
    }
}

/// Why a sign-in was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many tries for this account or address lately.
    TooMany,
    /// An unknown e-mail or a wrong password: the same answer for both.
    BadCredentials,
    /// The right password of an account an administrator has disabled.
    Disabled,
}

/// Checks an e-mail and password against the limits and the stored hash.
pub async fn sign_in<C: ConnectionTrait>(
    db: &C,
    limiter: &Limiter,
    email: &str,
    password: &str,
    address: IpAddr,
) -> AppResult<Result<users::Model, Refusal>> {
    let email = email.trim().to_lowercase();
    let (account, address_key) = (format!("account:{email}"), format!("address:{address}"));
    if !limiter.admit(&[(&account, PER_ACCOUNT), (&address_key, PER_ADDRESS)]) {
        return Ok(Err(Refusal::TooMany));
    }
    let Some(user) = super::users::check_password(db, &email, password).await? else {
        tracing::info!(%address, "failed sign-in");
        return Ok(Err(Refusal::BadCredentials));
    };
    limiter.succeeded(&account, &address_key);
    if user.disabled_at.is_some() {
        tracing::info!(user = %user.email, "sign-in of a disabled account refused");
        return Ok(Err(Refusal::Disabled));
    }
    tracing::info!(user = %user.email, "signed in");
    Ok(Ok(user))
}

/// Addresses of reverse proxies whose `X-Forwarded-For` is believed: single addresses or
/// networks (`10.0.0.0/8`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// A comma-separated list such as `127.0.0.1, 10.0.0.0/8, ::1`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (ip, bits) = match item.split_once('/') {
                Some((ip, bits)) => (ip, Some(bits)),
                None => (item, None),
            };
            let ip: IpAddr = ip.parse().map_err(|_| format!("'{item}' is not an address or network"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| format!("'{item}': bad prefix"))?,
                None => max,
            };
            nets.push((ip, bits));
        }
        Ok(Self(nets))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|(net, bits)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
            _ => false,
        })
    }

    /// The client behind `peer`: the peer itself unless it is a trusted proxy; then the
    /// nearest address of `X-Forwarded-For` that is not one, read from the right, since
    /// only the proxies' own additions can be believed.
    pub fn client(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let Some(chain) = forwarded_for else { return peer };
        for hop in chain.rsplit(',').map(str::trim) {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusts(ip) => continue,
                Ok(ip) => return ip,
                Err(_) => return peer,
            }
        }
        peer
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[full] & mask == b[full] & mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_tries_gets_no_more_than_the_limit() {
        let limiter = Limiter::default();
        let admitted = (0..20).filter(|_| limiter.admit(&[("account:a", PER_ACCOUNT), ("address:x", 30)])).count();
        assert_eq!(admitted, PER_ACCOUNT);
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").expect("parses");
        let ip = |s: &str| s.parse::<IpAddr>().expect("an address");
        assert_eq!(proxies.client(ip("192.0.2.7"), Some("198.51.100.1")), ip("192.0.2.7"));
        assert_eq!(proxies.client(ip("127.0.0.1"), Some("198.51.100.1")), ip("198.51.100.1"));
        assert_eq!(proxies.client(ip("127.0.0.1"), Some("203.0.113.9, 198.51.100.1, 10.1.2.3")), ip("198.51.100.1"));
        assert_eq!(proxies.client(ip("127.0.0.1"), None), ip("127.0.0.1"));
        assert!(TrustedProxies::parse("10.0.0.0/40").is_err());
        assert!(TrustedProxies::parse("proxy").is_err());
    }
}
