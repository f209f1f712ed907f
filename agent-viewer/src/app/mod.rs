//! The console's browser shell: finds the chrome in `index.html`, reads the
//! address, opens the WebSocket, feeds the [`Console`] and draws its state.
//! Owns: every listener, timer and socket of the page (each an RAII guard,
//! dropped when a join ends) and the order in which JS events reach Rust.
//! Does not own: what the events mean (`console`), the mirror (`mirror`).
//!
//! JS callbacks never run console logic directly: they queue a [`Msg`] and
//! the first callback on the stack drains the queue, so a DOM call that
//! fires an event synchronously cannot re-enter a half-done update.
//!
//! `ui.rs` holds the chrome's elements; `socket.rs` opens the socket, sends
//! the console's messages and takes the shell's measures.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_timers::callback::{Interval, Timeout};
use protocol::{AgentHello, Hello, Mode};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlIFrameElement, WebSocket};

use crate::console::{ended_status, Console, ConsoleState};
use crate::layout;
use crate::log;
use crate::mirror::dom::WebDom;
use crate::params::{self, JoinRequest, Route};
use crate::pointing::Pointing;
use crate::quality::Quality;

mod socket;
mod ui;

use socket::{flush, measure_round_trip, open_socket, LargeFrameTiming};
use ui::{set_attr, set_text, Ui};

/// Padding of the viewing area (CSS px, as in `console.css`).
const STAGE_PADDING: f64 = 24.0;
/// How often a gap in the event order is looked at (ms).
const TICK_MS: u32 = 250;
const LOGIN_STATUS: &str = "Enter your agent token and the code the visitor reads out.";

thread_local! {
    /// The running console. The page lives as long as the console, so it is
    /// held here rather than leaked.
    static SHELL: RefCell<Option<Rc<Shell>>> = const { RefCell::new(None) };
}

/// Runs the console when the module loads, if the page is the console's
/// (`index.html` has `#cobrowse-console`); elsewhere, e.g. in a test page,
/// it does nothing.
#[wasm_bindgen(start)]
pub fn start() {
    match Ui::find() {
        Ok(Some(ui)) => {
            let shell = Shell::new(ui);
            dispatch(&Rc::downgrade(&shell), Msg::Route);
            SHELL.with(|s| *s.borrow_mut() = Some(shell));
        }
        Ok(None) => log::debug("no #cobrowse-console on this page; the console does not start"),
        Err(e) => log::warn(&format!("the console could not start: {e}")),
    }
}

enum Msg {
    /// The address changed (or the console started).
    Route,
    Submit,
    Leave,
    Resize,
    Tick,
    Open(u64),
    Bytes(u64, Vec<u8>),
    Closed(u64, u16, String),
    /// An event in the mirror's iframe (the agent pointing or acting).
    Frame(u64, web_sys::Event),
    ModeSwitch,
    HighlightTool,
    FullScreen,
    /// A relay round trip finished (generation, ms).
    RoundTrip(u64, f64),
    /// Time for the next attempt to reconnect a broken join.
    Retry(u64),
    /// The moment a draining relay's window picked: move to a new socket.
    Drain(u64),
}

struct Shell {
    queue: RefCell<VecDeque<Msg>>,
    app: RefCell<App>,
}

impl Shell {
    fn new(ui: Ui) -> Rc<Shell> {
        Rc::new_cyclic(|weak: &Weak<Shell>| {
            let on = |target: &web_sys::EventTarget, kind: &'static str, make: fn() -> Msg| {
                let weak = weak.clone();
                EventListener::new(target, kind, move |_| dispatch(&weak, make()))
            };
            let form_weak = weak.clone();
            let listeners = vec![
                on(&ui.window, "hashchange", || Msg::Route),
                on(&ui.window, "resize", || Msg::Resize),
                on(&ui.leave, "click", || Msg::Leave),
                on(&ui.mode_switch, "click", || Msg::ModeSwitch),
                on(&ui.highlight, "click", || Msg::HighlightTool),
                on(&ui.fullscreen, "click", || Msg::FullScreen),
                EventListener::new_with_options(
                    &ui.form,
                    "submit",
                    gloo_events::EventListenerOptions::enable_prevent_default(),
                    move |event| {
                        event.prevent_default();
                        dispatch(&form_weak, Msg::Submit);
                    },
                ),
            ];
            Shell {
                queue: RefCell::new(VecDeque::new()),
                app: RefCell::new(App {
                    ui,
                    _listeners: listeners,
                    join: None,
                    idle: (ConsoleState::Login, LOGIN_STATUS.to_owned()),
                    generation: 0,
                    weak: weak.clone(),
                }),
            }
        })
    }
}

/// Queues `msg` and, unless an update is already running further up the
/// stack (which will pick it up), handles everything queued.
fn dispatch(weak: &Weak<Shell>, msg: Msg) {
    let Some(shell) = weak.upgrade() else {
        return;
    };
    shell.queue.borrow_mut().push_back(msg);
    let Ok(mut app) = shell.app.try_borrow_mut() else {
        return;
    };
    loop {
        let next = shell.queue.borrow_mut().pop_front();
        let Some(msg) = next else {
            break;
        };
        app.handle(msg);
    }
    app.render();
}

/// One join: its socket, its iframe and its console.
struct Join {
    generation: u64,
    request: JoinRequest,
    socket: WebSocket,
    /// Dropped (so removed) before the socket is closed on purpose.
    socket_listeners: Vec<EventListener>,
    console: Console<WebDom>,
    /// The guards and the agent's pointing listeners on the iframe's
    /// current document.
    frame_guards: Vec<EventListener>,
    pointing: Option<Pointing>,
    quality: Quality,
    guarded_snapshot: u64,
    tick: Option<Interval>,
    /// The next reconnect attempt (or a draining relay's chosen moment).
    retry: Option<Timeout>,
}

struct App {
    ui: Ui,
    _listeners: Vec<EventListener>,
    join: Option<Join>,
    /// The state and status shown when no join is running.
    idle: (ConsoleState, String),
    generation: u64,
    weak: Weak<Shell>,
}

impl App {
    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Route => self.route(),
            Msg::Submit => self.submit(),
            Msg::Leave => {
                if let Some(join) = &mut self.join {
                    join.console.leave();
                }
                self.after_console();
            }
            Msg::Resize => self.layout(),
            Msg::Tick => {
                let now = js_sys::Date::now();
                if let Some(join) = &mut self.join {
                    join.console.on_tick(now);
                    if join.console.state() == ConsoleState::Live && join.quality.start_if_due(now)
                    {
                        measure_round_trip(&self.ui.window, self.weak.clone(), join.generation);
                    }
                }
                self.after_console();
            }
            Msg::RoundTrip(generation, ms) => {
                if let Some(join) = self.current(generation) {
                    join.quality.finished(ms);
                }
            }
            Msg::Open(generation) => self.on_open(generation),
            Msg::Bytes(generation, bytes) => {
                let timing = LargeFrameTiming::start(&self.ui.window, bytes.len());
                if let Some(join) = self.current(generation) {
                    join.console.on_bytes(&bytes, js_sys::Date::now());
                    if let Some(timing) = timing {
                        timing.finish();
                    }
                }
                self.after_console();
            }
            Msg::Frame(generation, event) => {
                if let Some(join) = self.current(generation) {
                    if let Some(pointing) = &mut join.pointing {
                        pointing.on_frame_event(&mut join.console, &event, js_sys::Date::now());
                    }
                }
                self.after_console();
            }
            Msg::ModeSwitch => {
                if let Some(join) = &mut self.join {
                    let wanted = match join.console.mode() {
                        Some(Mode::Shared) => Mode::ViewOnly,
                        _ => Mode::Shared,
                    };
                    join.console.request_mode(wanted);
                }
                self.after_console();
            }
            Msg::FullScreen => {
                // The viewing area alone, scaled to the whole screen (the
                // resize that follows re-fits the page); Esc leaves.
                if self.ui.document.fullscreen_element().is_some() {
                    self.ui.document.exit_fullscreen();
                } else if let Err(e) = self.ui.stage.request_fullscreen() {
                    log::warn(&format!("full screen refused: {e:?}"));
                }
            }
            Msg::HighlightTool => {
                if let Some(pointing) = self.join.as_mut().and_then(|j| j.pointing.as_mut()) {
                    pointing.highlight_armed = !pointing.highlight_armed;
                }
            }
            Msg::Closed(generation, code, reason) => {
                let now = js_sys::Date::now();
                if let Some(join) = self.current(generation) {
                    join.console.on_closed(code, &reason, now);
                    if join.console.is_reconnecting() {
                        self.schedule_retry();
                    } else {
                        join.tick = None;
                    }
                }
                self.after_console();
            }
            Msg::Retry(generation) => {
                if self.current(generation).is_some() {
                    self.reopen();
                }
                self.after_console();
            }
            Msg::Drain(generation) => {
                if let Some(join) = self.current(generation) {
                    join.console.begin_reconnect(js_sys::Date::now());
                    self.reopen();
                }
                self.after_console();
            }
        }
    }

    fn current(&mut self, generation: u64) -> Option<&mut Join> {
        self.join.as_mut().filter(|j| j.generation == generation)
    }

    fn route(&mut self) {
        let hash = self.ui.window.location().hash().unwrap_or_default();
        match params::route(&hash) {
            Route::Login { token, code, mode } => {
                self.stop_join(true);
                self.ui.fill_form(&token, &code, mode);
                self.idle = (ConsoleState::Login, LOGIN_STATUS.to_owned());
            }
            Route::Invalid { message } => {
                self.stop_join(true);
                self.idle = (ConsoleState::Ended, ended_status(&message));
            }
            Route::Join(request) => {
                let same = self
                    .join
                    .as_ref()
                    .is_some_and(|j| j.request == request && !j.console.is_over());
                if !same {
                    self.ui
                        .fill_form(&request.token, request.code.as_str(), request.mode);
                    self.stop_join(true);
                    if let Err(e) = self.start_join(request) {
                        self.idle = (
                            ConsoleState::Ended,
                            ended_status(&format!("The console could not connect: {e}")),
                        );
                    }
                }
            }
        }
    }

    fn submit(&mut self) {
        let mode = if self.ui.mode.value() == "shared" {
            Mode::Shared
        } else {
            Mode::ViewOnly
        };
        let hash = params::hash_for(&self.ui.token.value(), &self.ui.code.value(), mode);
        let location = self.ui.window.location();
        if location.hash().unwrap_or_default() == hash {
            // Setting the same hash fires no hashchange: join again directly.
            self.route();
        } else if let Err(e) = location.set_hash(&hash) {
            log::warn(&format!("could not set the address: {e:?}"));
        }
    }

    fn start_join(&mut self, request: JoinRequest) -> Result<(), String> {
        self.generation += 1;
        let generation = self.generation;
        let frame = self.new_frame()?;
        let location = self.ui.window.location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().map_err(|e| format!("{e:?}"))?;
        let (socket, socket_listeners) = open_socket(
            &format!("{scheme}://{host}/ws/agent"),
            &self.weak,
            generation,
        )?;
        let weak = self.weak.clone();
        let tick = {
            let weak = weak.clone();
            Interval::new(TICK_MS, move || dispatch(&weak, Msg::Tick))
        };
        self.join = Some(Join {
            generation,
            request,
            socket,
            socket_listeners,
            console: Console::new(WebDom::new(frame))
                .with_relay_origin(&self.ui.window.location().origin().unwrap_or_default()),
            frame_guards: Vec::new(),
            pointing: Pointing::new(&self.ui.document, &self.ui.fit_box)
                .map_err(|e| log::warn(&format!("no cursor overlay: {e:?}")))
                .ok(),
            quality: Quality::default(),
            guarded_snapshot: 0,
            tick: Some(tick),
            retry: None,
        });
        Ok(())
    }

    /// The join's connection broke: the next attempt after the console's
    /// backoff, or none (it gave up and says so).
    fn schedule_retry(&mut self) {
        let Some(join) = &mut self.join else {
            return;
        };
        let generation = join.generation;
        if let Some(ms) = join
            .console
            .next_retry(js_sys::Date::now(), js_sys::Math::random())
        {
            let weak = self.weak.clone();
            join.retry = Some(Timeout::new(ms, move || {
                dispatch(&weak, Msg::Retry(generation))
            }));
        }
    }

    /// A new socket for the current join (its console, iframe and mirrored
    /// page stay); the old one goes quietly. Its hello is a rejoin.
    fn reopen(&mut self) {
        let Some(join) = &mut self.join else {
            return;
        };
        join.retry = None;
        join.socket_listeners.clear();
        let _ = join.socket.close_with_code(1000);
        let url = join.socket.url();
        match open_socket(&url, &self.weak, join.generation) {
            Ok((socket, listeners)) => {
                join.socket = socket;
                join.socket_listeners = listeners;
            }
            Err(e) => {
                log::warn(&format!("could not reconnect: {e}"));
                self.schedule_retry();
            }
        }
    }

    /// A fresh sandboxed iframe for a new join, replacing the last one.
    fn new_frame(&self) -> Result<HtmlIFrameElement, String> {
        self.remove_frame();
        let frame: HtmlIFrameElement = self
            .ui
            .document
            .create_element("iframe")
            .map_err(|e| format!("{e:?}"))?
            .unchecked_into();
        frame.set_id("cobrowse-frame");
        // Exactly this: same origin so the console can write the mirror,
        // never scripts, forms, popups or top navigation.
        let _ = frame.set_attribute("sandbox", "allow-same-origin");
        frame.set_title("The visitor's page");
        let _ = frame.set_attribute("referrerpolicy", "no-referrer");
        self.ui
            .fit_box
            .append_child(&frame)
            .map_err(|e| format!("{e:?}"))?;
        Ok(frame)
    }

    fn remove_frame(&self) {
        if let Some(old) = self.ui.document.get_element_by_id("cobrowse-frame") {
            old.remove();
        }
    }

    /// Ends the current join's connection; `leave` tells the relay first if
    /// the session was still on.
    fn stop_join(&mut self, leave: bool) {
        if let Some(mut join) = self.join.take() {
            if leave && !join.console.is_over() {
                join.console.leave();
                flush(&join.socket, join.console.take_outbox());
            }
            join.socket_listeners.clear();
            let _ = join.socket.close_with_code(1000);
        }
        self.remove_frame();
    }

    fn on_open(&mut self, generation: u64) {
        let Some(join) = self.current(generation) else {
            return;
        };
        // A console reconnecting continues its place instead of joining.
        let hello = join
            .console
            .rejoin_hello(&join.request.token)
            .unwrap_or_else(|| {
                Hello::Agent(AgentHello {
                    token: join.request.token.clone(),
                    code: join.request.code.clone(),
                    mode: join.request.mode,
                })
            });
        match protocol::encode_hello(&hello) {
            Ok(bytes) => {
                if let Err(e) = join.socket.send_with_u8_array(&bytes) {
                    log::warn(&format!("could not send the hello: {e:?}"));
                }
            }
            Err(e) => join
                .console
                .end(&format!("The console could not say hello: {e}")),
        }
    }

    /// After the console handled something: send what it queued, follow the
    /// mirror's new document and size, close the socket once it is over.
    fn after_console(&mut self) {
        let Some(join) = &mut self.join else {
            return;
        };
        let snapshots = join.console.snapshots_applied();
        let mode_changed = join.console.take_mode_changed();
        if snapshots != join.guarded_snapshot {
            if let Some(pointing) = &mut join.pointing {
                pointing.page_replaced(&mut join.console);
            }
        }
        // After the line above, which may queue a message.
        flush(&join.socket, join.console.take_outbox());
        if let Some(within) = join.console.take_drain() {
            // A random moment in the draining relay's window, so its
            // consoles do not all arrive at the next relay at once.
            let at = (js_sys::Math::random() * f64::from(within)) as u32;
            let (weak, generation) = (self.weak.clone(), join.generation);
            join.retry = Some(Timeout::new(at, move || {
                dispatch(&weak, Msg::Drain(generation))
            }));
        }
        if snapshots != join.guarded_snapshot || mode_changed {
            join.guarded_snapshot = snapshots;
            // Typing stays local-only unless the visitor granted control.
            let view_only = join.console.mode() != Some(Mode::Shared);
            let dom = join.console.mirror().backend();
            let mut listeners = dom.guard_interactions(view_only);
            let (weak, generation) = (self.weak.clone(), join.generation);
            listeners.extend(Pointing::attach(dom, move |event| {
                dispatch(&weak, Msg::Frame(generation, event));
            }));
            join.frame_guards = listeners;
        }
        if let Some(pointing) = &mut join.pointing {
            pointing.draw(&mut join.console);
        }
        let relayout = join.console.take_layout_dirty();
        if join.console.is_over() {
            join.tick = None;
            join.socket_listeners.clear();
            let _ = join.socket.close_with_code(1000);
        }
        if relayout {
            self.layout();
        }
    }

    /// Scales the iframe to the viewing area: the visitor's size, shrunk to
    /// fit, never enlarged.
    fn layout(&self) {
        let Some(join) = &self.join else {
            return;
        };
        let Some(viewport) = join.console.mirror().viewport() else {
            return;
        };
        let area_width = f64::from(self.ui.stage.client_width()) - 2.0 * STAGE_PADDING;
        let area_height = f64::from(self.ui.stage.client_height()) - 2.0 * STAGE_PADDING;
        let fit = layout::fit(viewport, area_width, area_height);
        let frame = join.console.mirror().backend().frame();
        let frame_style = frame.style();
        let _ = frame_style.set_property("transform", &format!("scale({})", fit.scale));
        let _ = frame_style.set_property("transform-origin", "0 0");
        let box_style = self.ui.fit_box.style();
        let _ = box_style.set_property("width", &format!("{}px", fit.box_width));
        let _ = box_style.set_property("height", &format!("{}px", fit.box_height));
        let _ = self
            .ui
            .fit_box
            .set_attribute("data-scale", &format!("{:.3}", fit.scale));
    }

    fn render(&self) {
        let (state, status, url) = match &self.join {
            Some(join) => (
                join.console.state(),
                join.console.status().to_owned(),
                join.console.page_url().unwrap_or_default().to_owned(),
            ),
            None => (self.idle.0, self.idle.1.clone(), String::new()),
        };
        set_attr(&self.ui.root, "data-cobrowse-state", state.as_str());
        let reconnecting = self
            .join
            .as_ref()
            .is_some_and(|j| j.console.is_reconnecting());
        set_attr(
            &self.ui.root,
            "data-cobrowse-connection",
            if reconnecting { "reconnecting" } else { "ok" },
        );
        set_text(&self.ui.status, &status);
        set_text(&self.ui.page_url, &url);
        let badge = match state {
            ConsoleState::Login => "Sign in",
            ConsoleState::Joining => "Connecting",
            ConsoleState::Waiting => "Waiting",
            ConsoleState::Live => "Live",
            ConsoleState::Ended => "Ended",
        };
        set_text(&self.ui.badge, badge);
        let can_leave = matches!(
            state,
            ConsoleState::Joining | ConsoleState::Waiting | ConsoleState::Live
        );
        self.ui.leave.set_hidden(!can_leave);
        let live = state == ConsoleState::Live;
        let (mode, armed) = match &self.join {
            Some(join) => (
                join.console.mode(),
                join.pointing.as_ref().is_some_and(|p| p.highlight_armed),
            ),
            None => (None, false),
        };
        let (mode_text, switch_text) = match mode {
            Some(Mode::Shared) => ("Shared control", "Stop control"),
            _ => ("View only", "Ask for control"),
        };
        set_attr(
            &self.ui.root,
            "data-cobrowse-mode",
            params::mode_name(mode.unwrap_or(Mode::ViewOnly)),
        );
        set_text(&self.ui.mode_state, if live { mode_text } else { "" });
        let reading = self
            .join
            .as_ref()
            .filter(|_| live)
            .and_then(|j| j.quality.reading());
        match reading {
            Some((text, level)) => {
                set_text(&self.ui.quality, &text);
                set_attr(&self.ui.quality, "data-level", level.as_str());
            }
            None => set_text(&self.ui.quality, ""),
        }
        set_text(&self.ui.mode_switch, switch_text);
        self.ui.mode_switch.set_hidden(!live);
        self.ui.highlight.set_hidden(!live);
        self.ui.fullscreen.set_hidden(!live);
        set_attr(
            &self.ui.highlight,
            "aria-pressed",
            if armed { "true" } else { "false" },
        );
    }
}
