//! The static resource service, visitor side: after an admitted agent got
//! its snapshot, find the resources the page uses, fetch them with the
//! visitor's credentials, offer them to the relay in batches, and upload
//! the ones its cache wants.
//!
//! Owns: [`Resources`], the running service (one per session), and its
//! tasks. Map: `plan.rs` + `rules.rs` decide everything (plain Rust, tested
//! natively); `discover.rs` reads the page; `fetch.rs` and `upload.rs` talk
//! HTTP; `task.rs` makes all of it cancellable. Does not own: the session
//! (`session.rs` calls the entry points below) or the wire (`wire/`).
//!
//! Invariants: nothing here runs before consent or inside the snapshot's or
//! a mutation batch's turn (discovery runs from its own timer, network work
//! in spawned tasks); dropping [`Resources`] cancels every task, request,
//! timer and observer; resource bytes stay in JS memory.

mod discover;
mod fetch;
pub mod plan;
pub mod rules;
mod set;
mod task;
mod upload;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use js_sys::Uint8Array;
use protocol::ResourceHash;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, SubtleCrypto, Window};

use crate::error::warn;
use crate::mask::Rules;
use crate::transport::Sender;
use crate::wire;
use plan::{FetchJob, Fetched, Found, Planner, UploadEnd, UploadJob};
use task::{Spawner, Tasks};

/// Quiet time after a mutation batch before the page is scanned again.
const RESCAN_MS: u32 = 500;
/// How many elements a scan slice reads between looks at the clock.
const SCAN_CHECK_EVERY: u32 = 16;
/// Refused relay requests logged per session (then silence).
const MAX_REFUSAL_WARNINGS: u32 = 3;

/// What every fetch and upload needs; shared read-only by the tasks.
pub(crate) struct Env {
    window: Window,
    document: Document,
    rules: Rules,
    /// The relay's base URL, without a trailing slash.
    relay: String,
    token: String,
    /// The page's origin: only it gets the visitor's cookies.
    origin: String,
    /// `None` on an insecure page: nothing can be hashed, so nothing has a
    /// body.
    subtle: Option<SubtleCrypto>,
}

impl Env {
    fn new(window: &Window, document: &Document, rules: Rules, relay: &str, token: &str) -> Env {
        let subtle = subtle_crypto(window);
        if subtle.is_none() {
            warn(
                "cobrowse: crypto.subtle is unavailable (the page is not served over https): \
                 the page's resources are not uploaded, the relay falls back to fetching them",
            );
        }
        let relay = web_sys::Url::new(relay)
            .map(|u| u.href())
            .unwrap_or_else(|_| relay.to_owned())
            .trim_end_matches('/')
            .to_owned();
        Env {
            window: window.clone(),
            document: document.clone(),
            rules,
            origin: window.location().origin().unwrap_or_default(),
            relay,
            token: token.to_owned(),
            subtle,
        }
    }

    /// An environment for the one-shot entry points below.
    fn here(relay: &str, token: &str) -> Option<Env> {
        let window = web_sys::window()?;
        let document = window.document()?;
        Some(Env::new(&window, &document, Rules::default(), relay, token))
    }
}

// One-shot entry points: each step of the service on its own, for tests and
// diagnostics (the session drives [`Resources`]).

/// What the service would offer from this page now, and what it counts as
/// referenced, under the masking `rules`.
pub fn discover_now(rules: &Rules) -> Found {
    let Some(window) = web_sys::window() else {
        return Found::default();
    };
    let Some(document) = window.document() else {
        return Found::default();
    };
    discover::discover(&window, &document, rules, Vec::new(), None)
}

/// Fetches and hashes `url` as the service does (at most `max_bytes`).
pub async fn fetch_now(url: &str, max_bytes: u64) -> Fetched<Uint8Array> {
    let Some(env) = Env::here("http://relay.invalid", "") else {
        return Fetched::Unavailable;
    };
    let job = FetchJob {
        url: url.to_owned(),
        max_bytes,
    };
    fetch::fetch(&env, &job).await
}

/// Uploads `bytes` (which must hash to `hash`) to `relay` with `token`, as
/// the service does: chunks, resume, retries.
pub async fn upload_now(
    relay: &str,
    token: &str,
    hash: ResourceHash,
    bytes: &Uint8Array,
) -> UploadEnd {
    let Some(env) = Env::here(relay, token) else {
        return UploadEnd::Dropped;
    };
    upload::upload(&env, hash, bytes).await
}

struct Core {
    me: Weak<RefCell<Core>>,
    env: Rc<Env>,
    planner: Planner<Uint8Array>,
    spawner: Spawner,
    socket: Sender,
    /// The next scan, if one is scheduled (a fired one may linger: it is
    /// replaced by the next, never dropped inside its own callback).
    rescan: Option<Timeout>,
    rescan_due: bool,
    /// The scan being read, a slice per task, and how its next slice comes.
    scan: Option<discover::Scan>,
    scan_next: Option<Timeout>,
    /// The slice timer that fired last: kept until the next one, never
    /// dropped inside its own callback.
    scan_fired: Option<Timeout>,
    /// A scan was asked for while one was being read: another follows it.
    scan_again: bool,
    /// URLs the timing observer reported, for the next scan to vet.
    timed: Vec<String>,
    /// The open shadow roots the capture knows (`set_shadow_roots`).
    shadow_roots: Vec<wasm_bindgen::JsValue>,
    refusal_warnings: u32,
}

/// The running service. Dropping it stops everything it started.
#[must_use]
pub(crate) struct Resources {
    core: Rc<RefCell<Core>>,
    observer: Option<discover::TimingObserver>,
    // Dropped last: cancels the tasks after the timers that spawn them.
    _tasks: Tasks,
}

impl Resources {
    /// Creates the service for a session whose relay gave `upload_token`.
    /// Nothing is read from the page until [`Resources::watch`].
    pub fn new(
        window: &Window,
        document: &Document,
        rules: Rules,
        relay: &str,
        upload_token: &str,
        socket: Sender,
    ) -> Resources {
        let env = Env::new(window, document, rules, relay, upload_token);
        let tasks = Tasks::default();
        let core = Rc::new_cyclic(|me| {
            RefCell::new(Core {
                me: me.clone(),
                planner: Planner::new(&env.relay),
                env: Rc::new(env),
                spawner: tasks.spawner(),
                socket,
                rescan: None,
                rescan_due: false,
                scan: None,
                scan_next: None,
                scan_fired: None,
                scan_again: false,
                timed: Vec::new(),
                shadow_roots: Vec::new(),
                refusal_warnings: 0,
            })
        });
        Resources {
            core,
            observer: None,
            _tasks: tasks,
        }
    }

    /// An agent watches (its snapshot was just sent): scan the page soon,
    /// and follow the stylesheets' loads from now on.
    pub fn watch(&mut self) {
        if self.observer.is_none() {
            let me = Rc::downgrade(&self.core);
            self.observer = discover::TimingObserver::start(Rc::new(move |urls| {
                with_core(&me, |core| {
                    // Vetted by the next scan against what masked elements use.
                    core.timed.extend(urls);
                    core.schedule_scan(RESCAN_MS);
                });
            }));
        }
        with_core(&Rc::downgrade(&self.core), |core| core.schedule_scan(0));
    }

    /// Nobody watches any more: stop reading the page (uploads already
    /// asked for carry on).
    pub fn pause(&mut self) {
        self.observer = None;
        with_core(&Rc::downgrade(&self.core), |core| {
            core.rescan = None;
            core.rescan_due = false;
            core.scan = None;
            core.scan_next = None;
            core.scan_fired = None;
            core.scan_again = false;
            core.timed.clear();
        });
    }

    /// The open shadow roots the capture knows (the page's sheets inside
    /// them are read at the next scan).
    pub fn set_shadow_roots(&mut self, roots: Vec<wasm_bindgen::JsValue>) {
        with_core(&Rc::downgrade(&self.core), |core| core.shadow_roots = roots);
    }

    /// A mutation batch went out: new elements may use new resources.
    pub fn page_changed(&mut self) {
        if self.observer.is_some() {
            with_core(&Rc::downgrade(&self.core), |core| {
                core.schedule_scan(RESCAN_MS)
            });
        }
    }

    /// The relay's `Want`.
    pub fn on_want(&mut self, hashes: Vec<ResourceHash>, more: Vec<String>) {
        with_core(&Rc::downgrade(&self.core), |core| {
            let refused = core.planner.wanted(hashes, more);
            core.refused(refused);
            core.pump();
        });
    }
}

/// Runs `f` on the service if it is alive and not busy (it never is: the
/// tasks run from the microtask queue, never inside each other).
fn with_core(me: &Weak<RefCell<Core>>, f: impl FnOnce(&mut Core)) {
    let Some(core) = me.upgrade() else { return };
    let Ok(mut core) = core.try_borrow_mut() else {
        warn("cobrowse: re-entrant resource callback ignored");
        return;
    };
    f(&mut core);
}

impl Core {
    /// Scans the page after `delay_ms`, unless a scan is already due.
    fn schedule_scan(&mut self, delay_ms: u32) {
        if self.rescan_due {
            return;
        }
        self.rescan_due = true;
        let me = self.me.clone();
        self.rescan = Some(Timeout::new(delay_ms, move || {
            with_core(&me, |core| {
                core.rescan_due = false;
                if core.scan.is_some() {
                    // The page may have changed behind the part being read.
                    core.scan_again = true;
                    return;
                }
                let timed = std::mem::take(&mut core.timed);
                let roots = core.shadow_roots.clone();
                core.scan = Some(discover::Scan::new(&core.env.document, timed, Some(roots)));
                core.scan_slice();
            });
        }));
    }

    /// Reads the scan in progress for one slice's budget; then posts the
    /// next slice, or hands what it found to the planner.
    fn scan_slice(&mut self) {
        let Some(mut scan) = self.scan.take() else {
            return;
        };
        let env = Rc::clone(&self.env);
        let deadline = crate::schedule::now(&env.window) + crate::schedule::slice_ms();
        let mut read = 0u32;
        let found = scan.step(&env.window, &env.document, &env.rules, &mut || {
            read = read.wrapping_add(1);
            !read.is_multiple_of(SCAN_CHECK_EVERY) || crate::schedule::now(&env.window) < deadline
        });
        let Some(found) = found else {
            self.scan = Some(scan);
            let me = self.me.clone();
            let next = Timeout::new(0, move || with_core(&me, Core::scan_slice));
            self.scan_fired = self.scan_next.replace(next);
            return;
        };
        self.planner.discovered(found);
        self.pump();
        if std::mem::take(&mut self.scan_again) {
            self.schedule_scan(0);
        }
    }

    /// Starts what may start, and sends the offer that is ready.
    fn pump(&mut self) {
        while let Some(job) = self.planner.next_fetch() {
            self.spawn_fetch(job);
        }
        while let Some(job) = self.planner.next_upload() {
            self.spawn_upload(job);
        }
        if let Some(offer) = self.planner.take_offer() {
            self.socket.send(&wire::encode_offer(&offer));
        }
    }

    fn spawn_fetch(&self, job: FetchJob) {
        let env = Rc::clone(&self.env);
        let me = self.me.clone();
        self.spawner.spawn(async move {
            let fetched = fetch::fetch(&env, &job).await;
            with_core(&me, |core| {
                core.planner.fetched(job.url, fetched);
                core.pump();
            });
        });
    }

    fn spawn_upload(&self, job: UploadJob<Uint8Array>) {
        let env = Rc::clone(&self.env);
        let me = self.me.clone();
        self.spawner.spawn(async move {
            let bytes = match job.bytes {
                Some(bytes) => Some(bytes),
                None => refetch(&env, &job.url, job.hash).await,
            };
            let end = match bytes {
                Some(bytes) => upload::upload(&env, job.hash, &bytes).await,
                None => UploadEnd::Dropped,
            };
            with_core(&me, |core| {
                let refused = core.planner.uploaded(end);
                core.refused(refused);
                core.pump();
            });
        });
    }

    /// Logs URLs the relay asked for that the page does not reference.
    fn refused(&mut self, urls: Vec<String>) {
        for url in urls {
            if self.refusal_warnings >= MAX_REFUSAL_WARNINGS {
                return;
            }
            self.refusal_warnings += 1;
            crate::error::warn_js(
                "cobrowse: not fetching a URL the relay asked for, which this page does not \
                 reference:",
                &JsValue::from_str(&url),
            );
        }
    }
}

/// The bytes of `url` again (from the HTTP cache, normally), if they still
/// hash to `hash`.
async fn refetch(env: &Env, url: &str, hash: ResourceHash) -> Option<Uint8Array> {
    let job = FetchJob {
        url: url.to_owned(),
        max_bytes: plan::MAX_RESOURCE_BYTES,
    };
    match fetch::fetch(env, &job).await {
        Fetched::Body { hash: h, bytes, .. } if h == hash => Some(bytes),
        _ => None,
    }
}

/// `window.crypto.subtle`, absent on insecure pages.
fn subtle_crypto(window: &Window) -> Option<SubtleCrypto> {
    let crypto = js_sys::Reflect::get(window, &JsValue::from_str("crypto")).ok()?;
    let subtle = js_sys::Reflect::get(&crypto, &JsValue::from_str("subtle")).ok()?;
    subtle.dyn_into::<SubtleCrypto>().ok()
}
