//! Who may do what: the control token (compared in constant time), the access a request
//! carries, and a per-client token-bucket rate limit shared by HTTP requests and WebSocket
//! messages.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::RemoteError;

/// Client addresses the rate limiter remembers at most (older ones are forgotten first).
const MAX_CLIENTS: usize = 1024;

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token: read the namespace, values, health and thumbnails (the dashboard).
    ReadOnly,
    /// The right token: also set params and change scenes.
    Control,
    /// A token was given and it is wrong: refused (401), so a mistyped token is noticed.
    Refused,
}

impl Access {
    /// The access a request with `given` (the `token` query parameter or a
    /// `Authorization: Bearer` header) has under `token`.
    #[must_use]
    pub fn of(given: Option<&str>, token: &str) -> Self {
        match given {
            None | Some("") => Self::ReadOnly,
            Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => Self::Control,
            Some(_) => Self::Refused,
        }
    }
}

/// Equality whose time does not depend on where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A random control token: 128 bits from the operating system, as 32 hex digits.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn generate_token() -> Result<String, RemoteError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| RemoteError::Token(e.to_string()))?;
    Ok(bytes.iter().fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        write!(s, "{b:02x}").ok();
        s
    }))
}

/// A token bucket per client address: `rate` per second sustained, bursts of `2 × rate`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f32,
    buckets: Mutex<HashMap<IpAddr, (f32, Instant)>>,
}

impl RateLimiter {
    /// `rate` requests per second per client (at least 1).
    #[must_use]
    pub fn new(rate: f32) -> Self {
        Self {
            rate: rate.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip` at `now`; false when its bucket is empty.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let burst = 2.0 * self.rate;
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&ip) {
            // Forget clients whose bucket has refilled: they lose nothing.
            let rate = self.rate;
            buckets.retain(|_, (level, at)| {
                *level + now.saturating_duration_since(*at).as_secs_f32() * rate < burst
            });
            if buckets.len() >= MAX_CLIENTS {
                buckets.clear();
            }
        }
        let (level, at) = buckets.entry(ip).or_insert((burst, now));
        let refill = now.saturating_duration_since(*at).as_secs_f32() * self.rate;
        *level = (*level + refill).min(burst);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tokens_decide_access() {
        assert_eq!(Access::of(None, "abc"), Access::ReadOnly);
        assert_eq!(Access::of(Some(""), "abc"), Access::ReadOnly);
        assert_eq!(Access::of(Some("abc"), "abc"), Access::Control);
        assert_eq!(Access::of(Some("abd"), "abc"), Access::Refused);
        assert_eq!(Access::of(Some("ab"), "abc"), Access::Refused);
        let t = generate_token().unwrap();
        assert_eq!(t.len(), 32);
        assert_ne!(t, generate_token().unwrap());
    }

    #[test]
    fn bucket_refuses_a_burst_and_refills() {
        let limiter = RateLimiter::new(10.0);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t0 = Instant::now();
        let allowed = (0..100).filter(|_| limiter.allow(ip, t0)).count();
        assert_eq!(allowed, 20, "a burst of twice the rate");
        assert!(!limiter.allow(ip, t0));
        assert!(limiter.allow(ip, t0 + Duration::from_millis(150)));
        let other: IpAddr = [127, 0, 0, 2].into();
        assert!(limiter.allow(other, t0), "buckets are per client");
    }
}
