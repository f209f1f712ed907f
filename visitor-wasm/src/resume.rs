//! Sessions that survive navigation, as plain Rust: what this tab keeps in
//! `sessionStorage` so the next page can continue the session, when that
//! entry is still good, and how long to wait between reconnect attempts.
//!
//! Owns: the entry's format and checks, keeping it current ([`Keeper`]) and
//! the retry schedule ([`Backoff`]). Does not own: the storage itself (the
//! [`Store`] seam; `session/resume.rs` puts `sessionStorage` behind it),
//! sockets or timers.
//!
//! Why the start options travel in the entry: the next page resumes before
//! (and without) any `start()` call, and the site's `mask`/`block`
//! selectors must hold on it exactly as on the page that started.

use crate::options::Options;

/// The `sessionStorage` key of the entry.
pub const KEY: &str = "cobrowse:session";

/// First line of the entry: a different script version ignores it.
const VERSION: &str = "cobrowse-resume-1";
/// Last line: an entry cut short anywhere is not an entry.
const END: &str = ".";

/// Storage for the one entry. Every call may fail (storage disabled, quota,
/// a sandboxed frame): a failure means "no resume", never an error.
pub trait Store {
    fn get(&self) -> Option<String>;
    /// `false` if the value could not be stored.
    fn set(&self, value: &str) -> bool;
    fn remove(&self);
}

/// What the next page needs to continue the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The relay's base URL, as in [`Options::relay`].
    pub relay: String,
    /// The page origin the session started on.
    pub origin: String,
    pub token: String,
    /// Milliseconds since the epoch after which the relay has let the
    /// session go. (Whole milliseconds: formatting and parsing floats would
    /// cost the shipped script ~20 KB.)
    pub expires_at: u64,
    /// The sequence number the next page's snapshot carries: above every
    /// number this page has sent.
    pub next_seq: u64,
    /// The site's start options (relay included).
    pub options: Options,
}

impl Entry {
    /// The entry as stored: one field a line, selectors escaped.
    pub fn encode(&self) -> String {
        let o = &self.options;
        let mut s = String::with_capacity(160);
        for line in [VERSION, &self.relay, &self.origin, &self.token] {
            push_line(&mut s, line);
        }
        push_line(&mut s, &self.expires_at.to_string());
        push_line(&mut s, &self.next_seq.to_string());
        let flags: String = [
            o.enable_static_resource_service,
            o.css_server,
            o.private_by_default,
        ]
        .iter()
        .map(|b| if *b { '1' } else { '0' })
        .collect();
        push_line(&mut s, &flags);
        for list in [&o.mask, &o.block] {
            push_line(&mut s, &list.len().to_string());
            for selector in list {
                push_line(&mut s, selector);
            }
        }
        push_line(&mut s, END);
        s
    }

    /// Reads an entry back; `None` for anything not written by
    /// [`Entry::encode`] of this version.
    pub fn decode(s: &str) -> Option<Entry> {
        let mut lines = s.split('\n').map(unescape);
        let mut next = || lines.next().flatten();
        if next()? != VERSION {
            return None;
        }
        let relay = next()?;
        let origin = next()?;
        let token = next()?;
        let expires_at: u64 = next()?.parse().ok()?;
        let next_seq: u64 = next()?.parse().ok().filter(|n| *n >= 1)?;
        let flags = next()?;
        let flag = |i: usize| match flags.as_bytes().get(i) {
            Some(b'1') => Some(true),
            Some(b'0') => Some(false),
            _ => None,
        };
        let mut options = Options::new(&relay).ok()?;
        options.enable_static_resource_service = flag(0)?;
        options.css_server = flag(1)?;
        options.private_by_default = flag(2)?;
        if flags.len() != 3 || token.is_empty() || options.relay != relay {
            return None;
        }
        for list in [&mut options.mask, &mut options.block] {
            let n: usize = next()?.parse().ok()?;
            for _ in 0..n {
                list.push(next()?);
            }
        }
        // Nothing may follow but the final line break.
        if next()? != END || next().is_some_and(|rest| !rest.is_empty()) {
            return None;
        }
        Some(Entry {
            relay,
            origin,
            token,
            expires_at,
            next_seq,
            options,
        })
    }

    /// Whether this page, talking to `relay` from `origin` at `now`, may
    /// resume with this entry.
    pub fn is_live_for(&self, relay: &str, origin: &str, now: f64) -> bool {
        self.relay == relay.trim().trim_end_matches('/')
            && self.origin == origin
            && now < self.expires_at as f64
    }
}

fn push_line(s: &mut String, line: &str) {
    for c in line.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('\n');
}

fn unescape(line: &str) -> Option<String> {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            _ => return None,
        }
    }
    Some(out)
}

/// What the page finds in storage on load.
#[derive(Debug, PartialEq)]
pub enum Found {
    /// A live entry for this relay and origin: resume with it.
    Resume(Entry),
    /// Nothing, or another relay's entry (left alone: that relay's loader
    /// may be on this page too).
    Nothing,
}

/// Looks for an entry to resume with, removing one that can never be used
/// (expired, unreadable, or from another origin).
pub fn find(store: &dyn Store, relay: &str, origin: &str, now: f64) -> Found {
    let Some(raw) = store.get() else {
        return Found::Nothing;
    };
    let Some(entry) = Entry::decode(&raw) else {
        store.remove();
        return Found::Nothing;
    };
    if entry.is_live_for(relay, origin, now) {
        return Found::Resume(entry);
    }
    if entry.relay == relay.trim().trim_end_matches('/')
        || entry.origin != origin
        || now >= entry.expires_at as f64
    {
        store.remove();
    }
    Found::Nothing
}

/// Keeps the stored entry current for a session that may be resumed.
pub struct Keeper<S: Store> {
    store: S,
    entry: Entry,
    /// The grace window, in milliseconds.
    window_ms: f64,
    /// Storage refused a write: stop trying (and there is no resume).
    broken: bool,
}

impl<S: Store> Keeper<S> {
    /// Starts keeping the entry of a session the relay welcomed with
    /// `token` and a grace window of `secs` seconds; `None` (and nothing
    /// stored) when resuming is off or storage refuses.
    pub fn start(
        store: S,
        options: &Options,
        origin: &str,
        token: &str,
        secs: u32,
        next_seq: u64,
        now: f64,
    ) -> Option<Keeper<S>> {
        if secs == 0 || token.is_empty() {
            return None;
        }
        let mut keeper = Keeper {
            entry: Entry {
                relay: options.relay.clone(),
                origin: origin.to_owned(),
                token: token.to_owned(),
                expires_at: 0,
                next_seq,
                options: options.clone(),
            },
            store,
            window_ms: f64::from(secs) * 1000.0,
            broken: false,
        };
        keeper.refresh(now);
        (!keeper.broken).then_some(keeper)
    }

    /// Still connected at `now`: the relay keeps the session at least one
    /// grace window after this.
    pub fn refresh(&mut self, now: f64) {
        // Rounded down: the entry never outlives the relay's window.
        self.entry.expires_at = (now + self.window_ms).max(0.0) as u64;
        self.write();
    }

    /// Called before an event numbered `seq` goes out: the next page must
    /// number its snapshot above it.
    pub fn before_send(&mut self, seq: u64) {
        if seq >= self.entry.next_seq {
            self.entry.next_seq = seq.saturating_add(1);
            self.write();
        }
    }

    pub fn expires_at(&self) -> f64 {
        self.entry.expires_at as f64
    }

    pub fn token(&self) -> &str {
        &self.entry.token
    }

    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The session is over: nothing is left to resume.
    pub fn clear(self) {
        self.store.remove();
    }

    fn write(&mut self) {
        if self.broken {
            return;
        }
        if !self.store.set(&self.entry.encode()) {
            // A half-kept entry could resume with a stale number: drop it.
            self.broken = true;
            self.store.remove();
        }
    }
}

/// Reconnect delays after an unexpected close, with full jitter: uniform
/// in [0, min(8 s, 0.5 s × 2ⁿ)] for the n-th attempt, so the many visitors
/// a dying relay drops at once spread over the whole window instead of
/// arriving in waves at the survivors; never past the grace window.
#[derive(Debug, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    const FIRST_MS: f64 = 500.0;
    const MAX_MS: f64 = 8000.0;

    /// The wait before the next attempt at `now`, or `None` once the
    /// session's grace window (`expires_at`) is over. `jitter` is uniform
    /// in [0, 1).
    pub fn next(&mut self, now: f64, expires_at: f64, jitter: f64) -> Option<u32> {
        let left = expires_at - now;
        if left <= 0.0 {
            return None;
        }
        let base = (Self::FIRST_MS * 2f64.powi(self.attempt.min(16) as i32)).min(Self::MAX_MS);
        self.attempt = self.attempt.saturating_add(1);
        let wait = (base * jitter.clamp(0.0, 1.0)).min(left);
        Some(wait.max(0.0) as u32)
    }

    /// A resume succeeded: the next drop starts from the shortest wait.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
#[path = "resume_tests.rs"]
mod tests;
