//! Native tests of `resume.rs`: the stored entry, its checks, keeping it
//! current, and the reconnect schedule.

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::rc::Rc;

use super::*;

/// An in-memory `sessionStorage`; `full` makes every write fail.
#[derive(Clone, Default)]
struct Memory {
    value: Rc<RefCell<Option<String>>>,
    writes: Rc<RefCell<u32>>,
    full: Rc<RefCell<bool>>,
}

impl Store for Memory {
    fn get(&self) -> Option<String> {
        self.value.borrow().clone()
    }
    fn set(&self, value: &str) -> bool {
        if *self.full.borrow() {
            return false;
        }
        *self.writes.borrow_mut() += 1;
        *self.value.borrow_mut() = Some(value.to_owned());
        true
    }
    fn remove(&self) {
        *self.value.borrow_mut() = None;
    }
}

impl Memory {
    fn entry(&self) -> Entry {
        Entry::decode(&self.get().expect("stored")).expect("readable")
    }
}

const RELAY: &str = "https://relay.example";
const ORIGIN: &str = "https://shop.example";

fn options() -> Options {
    let mut o = Options::new(RELAY).unwrap();
    o.mask = vec![".card".into(), "a\\b\nc".into(), String::new()];
    o.block = vec!["#ssn".into()];
    o.private_by_default = true;
    o.css_server = false;
    o
}

fn keeper(store: &Memory, secs: u32, now: f64) -> Option<Keeper<Memory>> {
    Keeper::start(store.clone(), &options(), ORIGIN, "tok-123", secs, 1, now)
}

#[test]
fn an_entry_survives_its_own_format_with_every_option() {
    let entry = Entry {
        relay: RELAY.into(),
        origin: ORIGIN.into(),
        token: "Zm9v_YmFy-0123".into(),
        expires_at: 1_700_000_030_123,
        next_seq: 4711,
        options: options(),
    };
    let text = entry.encode();
    assert_eq!(Entry::decode(&text), Some(entry.clone()));
    // Another version, a cut, trailing junk or a bad escape: not an entry.
    assert!(Entry::decode(&text.replace("resume-1", "resume-2")).is_none());
    for cut in 0..text.len() - 1 {
        // (Only the final line break may go.)
        if text.is_char_boundary(cut) {
            assert!(Entry::decode(&text[..cut]).is_none(), "cut at {cut}");
        }
    }
    assert!(Entry::decode(&format!("{text}extra\n")).is_none());
    assert!(Entry::decode(&text.replace("a\\\\b", "a\\qb")).is_none());
    // Sequence numbers start at 1; an empty token resumes nothing.
    let mut zero = entry.clone();
    zero.next_seq = 0;
    assert!(Entry::decode(&zero.encode()).is_none());
    let mut no_token = entry;
    no_token.token.clear();
    assert!(Entry::decode(&no_token.encode()).is_none());
}

#[test]
fn a_welcome_with_a_resume_window_stores_an_entry_and_refreshes_it() {
    let store = Memory::default();
    let mut k = keeper(&store, 30, 1000.0).expect("kept");
    let e = store.entry();
    assert_eq!(
        (e.relay.as_str(), e.origin.as_str(), e.token.as_str()),
        (RELAY, ORIGIN, "tok-123")
    );
    assert_eq!(e.expires_at, 31_000);
    assert_eq!(e.next_seq, 1);
    assert_eq!(e.options, options(), "the site's masking travels along");
    k.refresh(6000.0);
    assert_eq!(store.entry().expires_at, 36_000);
    assert_eq!(k.expires_at(), 36_000.0);
    k.clear();
    assert_eq!(store.get(), None, "ending clears the entry");
}

#[test]
fn nothing_is_stored_when_resuming_is_off() {
    let store = Memory::default();
    assert!(keeper(&store, 0, 1000.0).is_none());
    assert!(Keeper::start(store.clone(), &options(), ORIGIN, "", 30, 1, 0.0).is_none());
    assert_eq!(store.get(), None);
    assert_eq!(*store.writes.borrow(), 0);
}

#[test]
fn storage_that_refuses_writes_means_no_resume() {
    let store = Memory::default();
    *store.full.borrow_mut() = true;
    assert!(keeper(&store, 30, 0.0).is_none());
    // Full later: the stale entry goes, so no page resumes with old numbers.
    *store.full.borrow_mut() = false;
    let mut k = keeper(&store, 30, 0.0).unwrap();
    *store.full.borrow_mut() = true;
    k.before_send(1);
    assert!(k.is_broken());
    assert_eq!(store.get(), None);
    *store.full.borrow_mut() = false;
    k.before_send(2);
    assert_eq!(store.get(), None, "a broken keeper stays quiet");
}

#[test]
fn the_stored_number_is_always_above_every_number_sent() {
    let store = Memory::default();
    let mut k = keeper(&store, 30, 0.0).unwrap();
    for seq in 1..=50 {
        k.before_send(seq);
        assert!(store.entry().next_seq > seq, "before sending {seq}");
    }
    // A number that failed to go out and is used again: no step back.
    k.before_send(50);
    k.before_send(3);
    assert_eq!(store.entry().next_seq, 51);
}

#[test]
fn a_resumed_page_finds_only_a_live_entry_for_its_relay_and_origin() {
    let store = Memory::default();
    let _k = keeper(&store, 30, 1000.0).unwrap();
    let Found::Resume(e) = find(&store, "https://relay.example/", ORIGIN, 30_999.0) else {
        panic!("live entry not found");
    };
    assert_eq!(e.token, "tok-123");
    // Another relay's loader leaves the entry alone.
    assert_eq!(
        find(&store, "https://other.example", ORIGIN, 2000.0),
        Found::Nothing
    );
    assert!(store.get().is_some());
    // Another origin (a different site in the same storage area) or an
    // expired window: nothing, and the entry goes.
    assert_eq!(
        find(&store, RELAY, "https://evil.example", 2000.0),
        Found::Nothing
    );
    assert_eq!(store.get(), None);
    let _k = keeper(&store, 30, 1000.0).unwrap();
    assert_eq!(find(&store, RELAY, ORIGIN, 31_000.0), Found::Nothing);
    assert_eq!(store.get(), None);
    // Unreadable junk goes too.
    store.set("{\"not\":\"ours\"}");
    assert_eq!(find(&store, RELAY, ORIGIN, 0.0), Found::Nothing);
    assert_eq!(store.get(), None);
}

#[test]
fn reconnects_back_off_with_jitter_until_the_window_closes() {
    let mut b = Backoff::default();
    // The ceiling doubles up to 8 s; the wait is anywhere below it.
    let ceilings: Vec<u32> = (0..6)
        .map(|_| b.next(0.0, 60_000.0, 0.999_999).unwrap())
        .collect();
    assert_eq!(ceilings, [499, 999, 1999, 3999, 7999, 7999]);
    let mut b = Backoff::default();
    assert_eq!(b.next(0.0, 60_000.0, 0.0), Some(0));
    assert_eq!(b.next(0.0, 60_000.0, 0.5), Some(500));
    // Never past the window, and nothing once it is over.
    let mut b = Backoff::default();
    for _ in 0..5 {
        b.next(0.0, 60_000.0, 0.5);
    }
    assert_eq!(b.next(59_000.0, 60_000.0, 0.999_999), Some(1000));
    assert_eq!(b.next(60_000.0, 60_000.0, 0.5), None);
    // A success starts over.
    b.reset();
    assert_eq!(b.next(0.0, 60_000.0, 0.5), Some(250));
}
