//! The session's side of surviving navigation: keeping the tab's entry in
//! `sessionStorage` current, letting the socket go quietly when the page
//! goes away, reconnecting after a drop, and picking up where the last page
//! left off when the relay says `Resumed`.
//!
//! Owns: `sessionStorage` behind [`crate::resume::Store`], the refresh
//! interval, the `pagehide` listener and the reconnect timer (RAII, dropped
//! with the session). Does not own: the entry's format, its checks and the
//! retry schedule (`crate::resume`, plain Rust).

use crate::dom::Listener as EventListener;
use gloo_timers::callback::{Interval, Timeout};
use protocol::WatchingAgent;
use wasm_bindgen::JsValue;

use super::{running, with, Inner, Shared};
use crate::error::warn;
use crate::options::Options;
use crate::policy::Agent;
use crate::resume::{find, Backoff, Entry, Found, Keeper, Store, KEY};

/// How often the entry's expiry moves on while connected: a page killed
/// without `pagehide` leaves an entry that expires at most this much
/// before the relay lets the session go (never after).
const REFRESH_MS: u32 = 5_000;

/// The tab's `sessionStorage`; every failure (storage disabled, quota, a
/// sandboxed frame) reads as "nothing there" or "not stored".
pub(crate) struct WebStore;

impl WebStore {
    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.session_storage().ok().flatten()
    }
}

impl Store for WebStore {
    fn get(&self) -> Option<String> {
        Self::storage()?.get_item(KEY).ok().flatten()
    }

    fn set(&self, value: &str) -> bool {
        Self::storage().is_some_and(|s| s.set_item(KEY, value).is_ok())
    }

    fn remove(&self) {
        if let Some(s) = Self::storage() {
            let _ = s.remove_item(KEY);
        }
    }
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// The registrations resuming needs, dropped with the session.
#[derive(Default)]
pub(super) struct Timers {
    _refresh: Option<Interval>,
    _pagehide: Option<EventListener>,
    _retry: Option<Timeout>,
}

/// Where the session stands on resuming.
pub(super) struct State {
    /// The session's resume token, once known (from the previous page's
    /// entry or the relay's Welcome); `None`: this session cannot resume.
    token: Option<String>,
    /// The stored entry, while storage works.
    keeper: Option<Keeper<WebStore>>,
    /// The relay's grace window, in milliseconds.
    window_ms: f64,
    /// Until when a reconnect may still find the session.
    deadline: f64,
    /// This connection's hello asks to resume (until `Resumed`).
    resuming: bool,
    /// Between an unexpected close and `Resumed`: the panel says so.
    reconnecting: bool,
    /// This connection got its Welcome.
    connected: bool,
    /// `pagehide` came: the socket closes without ending the session.
    leaving: bool,
    backoff: Backoff,
    timers: Timers,
}

impl State {
    pub(super) fn new(entry: Option<&Entry>) -> State {
        State {
            token: entry.map(|e| e.token.clone()),
            keeper: None,
            window_ms: 0.0,
            deadline: entry.map_or(0.0, |e| e.expires_at as f64),
            resuming: entry.is_some(),
            reconnecting: false,
            connected: false,
            leaving: false,
            backoff: Backoff::default(),
            timers: Timers::default(),
        }
    }

    /// The token the hello carries, on a connection that resumes.
    pub(super) fn hello_token(&self) -> Option<&str> {
        self.token.as_deref().filter(|_| self.resuming)
    }

    pub(super) fn is_resuming(&self) -> bool {
        self.resuming
    }

    pub(super) fn is_reconnecting(&self) -> bool {
        self.reconnecting
    }

    pub(super) fn leaving(&self) -> bool {
        self.leaving
    }

    /// Before an event numbered `seq` goes out.
    pub(super) fn before_send(&mut self, seq: protocol::Seq) {
        if let Some(keeper) = self.keeper.as_mut() {
            keeper.before_send(seq.0);
        }
    }

    /// The session is over: unless the page is only going away, nothing is
    /// left for a next page to resume.
    pub(super) fn finish(&mut self) {
        if self.leaving {
            return;
        }
        match self.keeper.take() {
            Some(keeper) => keeper.clear(),
            // Resuming from the last page's entry, not welcomed yet.
            None if self.token.is_some() => WebStore.remove(),
            None => {}
        }
        self.token = None;
    }

    pub(super) fn take_timers(&mut self) -> Timers {
        std::mem::take(&mut self.timers)
    }
}

/// On load: resumes the session this tab's last page left for `relay`
/// (any relay when `None`) and this origin, if the relay still keeps it.
/// Nothing is shown unless the relay says it continues.
pub(crate) fn on_load(relay: Option<String>) -> Option<Shared> {
    if running() {
        return None;
    }
    let origin = web_sys::window()?.location().origin().ok()?;
    let relay = match relay {
        Some(r) => Options::new(&r).ok()?.relay,
        None => Entry::decode(&WebStore.get()?)?.relay,
    };
    let Found::Resume(entry) = find(&WebStore, &relay, &origin, now()) else {
        return None;
    };
    let options = entry.options.clone();
    match super::open(&options, None, Some(entry)) {
        Ok(shared) => Some(shared),
        Err(e) => {
            // `open` cleared the entry: this page cannot resume it.
            warn(&e.to_string());
            None
        }
    }
}

impl Inner {
    /// A Welcome: keeps (or refreshes) the entry when the relay lets this
    /// session resume; resuming off (`secs` 0) stores nothing at all.
    pub(super) fn on_welcome(&mut self, token: &str, secs: u32) {
        let state = &mut self.resume;
        state.connected = true;
        if secs == 0 || token.is_empty() {
            return;
        }
        state.token = Some(token.to_owned());
        state.window_ms = f64::from(secs) * 1000.0;
        match state.keeper.as_mut() {
            Some(keeper) => keeper.refresh(now()),
            None => {
                let origin = self.window.location().origin().unwrap_or_default();
                state.keeper = Keeper::start(
                    WebStore,
                    &self.options,
                    &origin,
                    token,
                    secs,
                    self.next_seq.0,
                    now(),
                );
            }
        }
        if state.timers._refresh.is_none() {
            let me = self.me.clone();
            state.timers._refresh = Some(Interval::new(REFRESH_MS, move || {
                with(&me, |i| {
                    if let (true, Some(k)) = (i.resume.connected, i.resume.keeper.as_mut()) {
                        k.refresh(now());
                    }
                });
            }));
            let me = self.me.clone();
            state.timers._pagehide =
                Some(EventListener::new(&self.window, "pagehide", move |_| {
                    with(&me, Inner::on_pagehide)
                }));
        }
    }

    /// The page goes away (navigation, reload, closing the tab): no End,
    /// so the relay keeps the session for the next page. The socket closes
    /// now so the relay hears it at once.
    fn on_pagehide(&mut self) {
        let state = &mut self.resume;
        if let (true, Some(k)) = (state.connected, state.keeper.as_mut()) {
            k.refresh(now());
        }
        state.leaving = true;
        self.finish(None);
    }

    /// After an unexpected close (the relay's session outlives it): tries
    /// to resume again with backoff. `false` if this session cannot resume.
    pub(super) fn reconnect(&mut self, reason: &str) -> bool {
        if self.resume.token.is_none() {
            return false;
        }
        if self.resume.resuming && !reason.is_empty() {
            // The relay closed a resume with a reason: a refusal.
            self.refused(reason);
            return true;
        }
        let now = now();
        let state = &mut self.resume;
        if state.connected {
            state.deadline = now + state.window_ms;
            if let Some(k) = state.keeper.as_mut() {
                k.refresh(now);
            }
        }
        state.connected = false;
        state.reconnecting = true;
        state.resuming = true;
        // Capture goes on into the outbox (the same page resends what the
        // relay lacks once it confirms); cursors and the resource service
        // are rebuilt on the new socket.
        self.draining = None;
        self.presence = None;
        self.service = None;
        self.socket = None;
        self.render();
        match self
            .resume
            .backoff
            .next(now, self.resume.deadline, js_sys::Math::random())
        {
            Some(ms) => {
                let me = self.me.clone();
                self.resume.timers._retry = Some(Timeout::new(ms, move || {
                    with(&me, Inner::retry);
                }));
            }
            // The grace window is over: give up without a word.
            None => self.finish(None),
        }
        true
    }

    fn retry(&mut self) {
        self.resume.timers._retry = None;
        if let Err(e) = self.connect() {
            warn(&e.to_string());
            self.finish(None);
        }
    }

    /// A draining relay asks for a reconnect within `within_ms`: at a
    /// random moment in that window (so its visitors do not all arrive at
    /// once) this socket goes and the session resumes on a new one. A
    /// session that cannot resume ignores it (the relay ends it).
    pub(super) fn reconnect_within(&mut self, within_ms: u32) {
        if self.resume.token.is_none() || self.draining.is_some() {
            return;
        }
        let at = (js_sys::Math::random() * f64::from(within_ms)) as u32;
        let me = self.me.clone();
        self.draining = Some(Timeout::new(at, move || {
            with(&me, |i| {
                i.draining = None;
                // Dropping the socket removes its listeners: no close event.
                i.socket = None;
                if !i.reconnect("") {
                    i.finish(None);
                }
            });
        }));
    }

    /// The relay continues the session: these agents watch, in these modes,
    /// with the visitor's consent from an earlier page. `last_seq` is the
    /// newest frame it holds: this page, if it sent the frames (a dropped
    /// connection), resends what came after and carries on; a new page (or
    /// one whose outbox no longer reaches back) sends a snapshot numbered
    /// after it.
    pub(super) fn on_resumed(
        &mut self,
        agents: Vec<WatchingAgent>,
        last_seq: Option<protocol::Seq>,
    ) {
        let state = &mut self.resume;
        state.resuming = false;
        state.reconnecting = false;
        state.backoff.reset();
        self.roster.resumed(agents.into_iter().map(|a| Agent {
            id: a.agent,
            name: a.name,
            mode: a.mode,
        }));
        if self.ui.is_none() {
            if let Err(e) = self.show_ui() {
                warn(&e.to_string());
            }
        }
        self.render();
        if let Some(last) = last_seq {
            // Never number anything at or below what the relay holds.
            if self.next_seq.0 <= last.0 {
                self.next_seq = last.next();
            }
        }
        if !self.roster.is_watched() {
            self.live = None;
            self.outbox.clear();
            return;
        }
        if self.live.is_some() {
            if let Some(frames) = self.outbox.after(last_seq.map(|s| s.0)) {
                let socket = self.socket.as_ref();
                for frame in frames {
                    if !socket.is_some_and(|s| s.send(frame)) {
                        break;
                    }
                }
                self.watch_resources();
                return;
            }
        }
        // Numbered after everything the last page sent.
        self.send_snapshot();
    }

    /// The relay will not resume this session (it ended meanwhile): the
    /// entry goes, nothing is shown, and no new session is started.
    pub(super) fn refused(&mut self, why: &str) {
        web_sys::console::info_2(
            &JsValue::from_str("cobrowse: the co-browsing session could not be resumed:"),
            &JsValue::from_str(why),
        );
        self.finish(None);
    }
}
