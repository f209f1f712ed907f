//! Rate limit on guessing join codes: after a few wrong codes in a minute,
//! an address and an agent identity are refused until the minute is over.
//!
//! Owns: counting wrong codes per client address and per agent subject, in
//! this relay process. Does not own: what counts as a wrong code (the
//! store's `UnknownCode`) or the peer address (the socket's, see below).
//!
//! Only joins are counted and checked: a visitor, an agent already in a
//! session, and a join with a valid code from an address under its limit are
//! never slowed down. Each relay counts on its own; with N relays sharing
//! Redis an attacker who spreads over all of them gets N times the limit
//! (still ~10⁻⁶ per guess against a million codes).
//!
//! The address is the socket's peer. Behind a reverse proxy every agent
//! shares the proxy's address; honouring `X-Forwarded-For` would need a
//! list of trusted proxies and is deliberately not done by default (anyone
//! can send that header).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::auth::AgentSubject;
use crate::RelayError;

/// The window the limit counts over.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Past this many tracked keys, keys with no recent miss are swept out, so
/// a flood of addresses cannot grow the map without end.
const SWEEP_AT: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Addr(IpAddr),
    Agent(AgentSubject),
}

/// Wrong join codes by address and by agent.
#[derive(Debug)]
pub struct CodeGuesses {
    per_minute: u32,
    misses: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere mid-update leaves a map of timestamps, still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// IPv6 clients usually hold a whole /64, so that is what one address means.
fn addr_key(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(_) => Key::Addr(ip),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Key::Addr(IpAddr::V4(v4)),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                Key::Addr(IpAddr::V6(seg.into()))
            }
        },
    }
}

impl CodeGuesses {
    /// `per_minute` wrong codes are allowed; the next attempt is refused.
    pub fn new(per_minute: u32) -> Self {
        CodeGuesses {
            per_minute,
            misses: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses a join attempt from `ip` by `agent` if either has used up
    /// its wrong codes for the current window.
    pub fn check(&self, ip: IpAddr, agent: &AgentSubject) -> Result<(), RelayError> {
        let now = Instant::now();
        let mut misses = lock(&self.misses);
        for key in [addr_key(ip), Key::Agent(agent.clone())] {
            if let Some(times) = misses.get_mut(&key) {
                prune(times, now);
                if times.len() >= self.per_minute as usize {
                    return Err(RelayError::TooManyGuesses {
                        seconds: WINDOW.as_secs(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Refuses an attempt from `ip` alone (a resume: no identity to count
    /// against) once it used up its failures for the window.
    pub fn check_addr(&self, ip: IpAddr) -> Result<(), RelayError> {
        let now = Instant::now();
        let mut misses = lock(&self.misses);
        if let Some(times) = misses.get_mut(&addr_key(ip)) {
            prune(times, now);
            if times.len() >= self.per_minute as usize {
                return Err(RelayError::TooManyGuesses {
                    seconds: WINDOW.as_secs(),
                });
            }
        }
        Ok(())
    }

    /// Counts a failure against `ip` alone.
    pub fn miss_addr(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut misses = lock(&self.misses);
        if misses.len() >= SWEEP_AT {
            misses.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        let times = misses.entry(addr_key(ip)).or_default();
        prune(times, now);
        times.push_back(now);
    }

    /// Counts a wrong code against both `ip` and `agent`.
    pub fn miss(&self, ip: IpAddr, agent: &AgentSubject) {
        let now = Instant::now();
        let mut misses = lock(&self.misses);
        if misses.len() >= SWEEP_AT {
            misses.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        for key in [addr_key(ip), Key::Agent(agent.clone())] {
            let times = misses.entry(key).or_default();
            prune(times, now);
            times.push_back(now);
        }
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn agent(s: &str) -> AgentSubject {
        AgentSubject::Signed(s.into())
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_is_refused_after_its_misses_until_the_window_passes() {
        let g = CodeGuesses::new(3);
        for i in 0..3 {
            assert!(g.check(ip("10.0.0.1"), &agent(&format!("a{i}"))).is_ok());
            g.miss(ip("10.0.0.1"), &agent(&format!("a{i}")));
        }
        let err = g
            .check(ip("10.0.0.1"), &agent("fresh"))
            .expect_err("limited");
        assert_eq!(err.frame().code, protocol::ErrorCode::RateLimited);
        // Another address with another agent is not affected.
        assert!(g.check(ip("10.0.0.2"), &agent("other")).is_ok());
        tokio::time::advance(WINDOW).await;
        assert!(g.check(ip("10.0.0.1"), &agent("fresh")).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn an_agent_is_refused_whatever_address_it_moves_to() {
        let g = CodeGuesses::new(2);
        g.miss(ip("10.0.0.1"), &agent("mallory"));
        g.miss(ip("10.0.0.2"), &agent("mallory"));
        assert!(g.check(ip("10.0.0.3"), &agent("mallory")).is_err());
        assert!(g.check(ip("10.0.0.3"), &agent("alice")).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn ipv6_counts_per_64_prefix() {
        let g = CodeGuesses::new(1);
        g.miss(ip("2001:db8:1:2::1"), &agent("a"));
        assert!(g.check(ip("2001:db8:1:2::ffff"), &agent("b")).is_err());
        assert!(g.check(ip("2001:db8:1:3::1"), &agent("b")).is_ok());
        g.miss(ip("::ffff:10.0.0.9"), &agent("c"));
        assert!(g.check(ip("10.0.0.9"), &agent("d")).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn old_keys_are_swept_when_the_map_grows() {
        let g = CodeGuesses::new(5);
        for i in 0..SWEEP_AT as u32 {
            g.miss(IpAddr::from(i.to_be_bytes()), &AgentSubject::Dev);
        }
        tokio::time::advance(WINDOW).await;
        g.miss(ip("10.0.0.1"), &agent("a"));
        // The old addresses (and the dev subject) are gone.
        assert!(lock(&g.misses).len() <= 3);
    }
}
