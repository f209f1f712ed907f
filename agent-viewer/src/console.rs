//! One join attempt, from "Connecting…" to "Ended: …". Owns: the console's
//! states and status sentences, what each relay message does to them, and
//! when to ask for a resync. Does not own: the socket, timers or the chrome
//! (`app` feeds this bytes and the time, and sends what it queues), nor
//! applying events (`mirror`) or ordering them (`sequencer`).

use protocol::{AgentMsg, Control, ErrorFrame, EventFrame, Mode, Point, ToAgent};

use crate::log;
use crate::mirror::{Applied, DomBackend, Mirror};
use crate::rejoin::{self, Reconnect};
use crate::sequencer::Sequencer;

/// The value of the console's `data-cobrowse-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleState {
    Login,
    Joining,
    Waiting,
    Live,
    Ended,
}

impl ConsoleState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleState::Login => "login",
            ConsoleState::Joining => "joining",
            ConsoleState::Waiting => "waiting",
            ConsoleState::Live => "live",
            ConsoleState::Ended => "ended",
        }
    }
}

pub const CONNECTING: &str = "Connecting…";
pub const WAITING_FOR_CONSENT: &str = "Waiting for the visitor to accept…";
pub const LOADING_PAGE: &str = "The visitor accepted. Loading their page…";
pub const CONNECTION_LOST: &str = "Connection to the relay lost";

/// While the console's connection to the relay is being made again.
pub const RECONNECTING: &str = "Reconnecting…";

/// While the visitor's page is going away or the next one loading.
pub const VISITOR_AWAY: &str = "The visitor is changing pages…";
pub const WAITING_FOR_INVITATION: &str = "Waiting for the visitor to take up your invitation…";

/// The status line of an ended session.
pub fn ended_status(message: &str) -> String {
    format!("Ended: {message}")
}

/// The status line when the visitor's page is too large to build.
pub fn too_large_status(cap: usize) -> String {
    format!("The visitor's page is too large to show here (more than {cap} nodes).")
}

/// The status line of a live session.
pub fn live_status(url: &str) -> String {
    format!("Live — {url}")
}

pub struct Console<B: DomBackend> {
    state: ConsoleState,
    status: String,
    page_url: Option<String>,
    mirror: Mirror<B>,
    sequencer: Sequencer,
    outbox: Vec<AgentMsg>,
    snapshots: u64,
    layout_dirty: bool,
    /// `scheme://host:port` of the relay, put before the resource path the
    /// relay sends (the iframe's document must not depend on its own base).
    relay_origin: String,
    /// The mode the visitor granted, as the relay says (`None` before).
    mode: Option<Mode>,
    mode_changed: bool,
    /// The secret that continues this agent's place after a broken
    /// connection (`Hello::AgentRejoin`); `None` until admitted.
    rejoin_token: Option<String>,
    /// Between a broken connection and `Admitted` on the next one.
    reconnect: Option<Reconnect>,
    /// A draining relay asked for a reconnect within this many ms.
    drain: Option<u32>,
    /// The last snapshot was refused as too large: asking for another
    /// would only bring the same page again, so the console waits for one
    /// the visitor sends by itself (its next page).
    too_large: bool,
}

impl<B: DomBackend> Console<B> {
    /// A join attempt that is connecting.
    pub fn new(backend: B) -> Self {
        Console {
            state: ConsoleState::Joining,
            status: CONNECTING.to_owned(),
            page_url: None,
            mirror: Mirror::new(backend),
            sequencer: Sequencer::default(),
            outbox: Vec::new(),
            snapshots: 0,
            layout_dirty: false,
            relay_origin: String::new(),
            mode: None,
            mode_changed: false,
            rejoin_token: None,
            reconnect: None,
            drain: None,
            too_large: false,
        }
    }

    /// The relay's origin (`http://relay:8080`), for the session's resource
    /// URLs.
    #[must_use]
    pub fn with_relay_origin(mut self, origin: &str) -> Self {
        self.relay_origin = origin.trim_end_matches('/').to_owned();
        self
    }

    pub fn state(&self) -> ConsoleState {
        self.state
    }

    pub fn status(&self) -> &str {
        &self.status
    }

    /// The visitor page's address, as the relay or the last snapshot said.
    pub fn page_url(&self) -> Option<&str> {
        self.page_url.as_deref()
    }

    pub fn mirror(&self) -> &Mirror<B> {
        &self.mirror
    }

    pub fn mirror_mut(&mut self) -> &mut Mirror<B> {
        &mut self.mirror
    }

    pub fn is_over(&self) -> bool {
        self.state == ConsoleState::Ended
    }

    /// How many snapshots were applied: each one gave the iframe a new
    /// document (which lost whatever listeners the old one had).
    pub fn snapshots_applied(&self) -> u64 {
        self.snapshots
    }

    /// Messages for the relay, oldest first.
    pub fn take_outbox(&mut self) -> Vec<AgentMsg> {
        std::mem::take(&mut self.outbox)
    }

    /// Whether the visitor's window size changed since the last call.
    pub fn take_layout_dirty(&mut self) -> bool {
        std::mem::take(&mut self.layout_dirty)
    }

    /// A binary frame from the relay. One that does not decode is logged and
    /// ignored: a bad frame must not end the session.
    pub fn on_bytes(&mut self, bytes: &[u8], now_ms: f64) {
        match protocol::decode::<ToAgent>(bytes) {
            Ok(msg) => self.on_message(msg, now_ms),
            Err(e) => log::warn(&format!("ignored a frame from the relay: {e}")),
        }
    }

    pub fn on_message(&mut self, msg: ToAgent, now_ms: f64) {
        if self.is_over() {
            return;
        }
        match msg {
            ToAgent::Joined { page_url, .. } => {
                self.state = ConsoleState::Waiting;
                self.status = WAITING_FOR_CONSENT.to_owned();
                self.page_url = Some(page_url);
            }
            ToAgent::Admitted { resources } => {
                // An empty path: a relay without a resource cache; URLs
                // stay the visitor's.
                let base =
                    (!resources.is_empty()).then(|| format!("{}{resources}", self.relay_origin));
                self.mirror.set_resources(base);
                if self.reconnect.take().is_some() && self.state == ConsoleState::Live {
                    // Back: the page stayed on screen; frames follow.
                    self.status = live_status(self.page_url.as_deref().unwrap_or_default());
                } else if self.state != ConsoleState::Live {
                    self.state = ConsoleState::Waiting;
                    self.status = LOADING_PAGE.to_owned();
                }
            }
            ToAgent::Event(frame) => self.on_frame(frame, now_ms),
            ToAgent::VisitorAway { .. } => {
                // The last page stays on screen until the next one's
                // snapshot replaces it.
                self.status = VISITOR_AWAY.to_owned();
            }
            ToAgent::Mode(mode) => {
                self.mode_changed |= self.mode != Some(mode);
                self.mode = Some(mode);
            }
            ToAgent::Invited { .. } => {
                self.state = ConsoleState::Waiting;
                self.status = WAITING_FOR_INVITATION.to_owned();
            }
            ToAgent::RejoinToken(token) => self.rejoin_token = Some(token),
            ToAgent::Reconnect { within_ms } => {
                self.status = RECONNECTING.to_owned();
                self.drain = Some(within_ms);
            }
            ToAgent::Error(ErrorFrame { code, .. })
                if self.reconnect.is_some() && code == protocol::ErrorCode::NotAllowed =>
            {
                self.end(rejoin::REJOIN_REFUSED);
            }
            ToAgent::Ended { reason } => self.end(reason.describe()),
            ToAgent::Error(ErrorFrame { code, message }) => {
                if message.trim().is_empty() {
                    self.end(&format!("The relay refused the session ({code:?})."));
                } else {
                    self.end(&message);
                }
            }
        }
    }

    /// The clock moved on: a gap may have waited long enough.
    pub fn on_tick(&mut self, now_ms: f64) {
        if !self.is_over() && self.sequencer.check_gap(now_ms) {
            log::warn("events went missing; asking the visitor for a fresh snapshot");
            self.outbox.push(AgentMsg::Resync);
        }
    }

    /// The socket closed. Expected after the session ended; otherwise the
    /// relay's reason (an application close code carries a sentence) or a
    /// plain "connection lost".
    /// An admitted console whose connection broke (not a refusal) starts
    /// reconnecting instead: `app` asks [`Console::next_retry`] when.
    pub fn on_closed(&mut self, code: u16, reason: &str, now_ms: f64) {
        if self.is_over() {
            return;
        }
        let refused = (4000..5000).contains(&code) && !reason.trim().is_empty();
        if !refused && self.rejoin_token.is_some() {
            self.begin_reconnect(now_ms);
            return;
        }
        if refused {
            self.end(reason);
        } else {
            self.end(CONNECTION_LOST);
        }
    }

    /// Leaves the current connection for a new one (it broke, or a
    /// draining relay asked); the mirrored page stays on screen.
    pub fn begin_reconnect(&mut self, now_ms: f64) {
        if self.reconnect.is_none() {
            self.reconnect = Some(Reconnect::new(now_ms));
        }
        self.status = RECONNECTING.to_owned();
    }

    pub fn is_reconnecting(&self) -> bool {
        self.reconnect.is_some() && !self.is_over()
    }

    /// The wait before the next attempt; `None` (and the session over for
    /// this console) once it has tried for a minute.
    pub fn next_retry(&mut self, now_ms: f64, jitter: f64) -> Option<u32> {
        let wait = self.reconnect.as_mut()?.next_wait(now_ms, jitter);
        if wait.is_none() {
            self.end(rejoin::COULD_NOT_REJOIN);
        }
        wait
    }

    /// A draining relay's window, once.
    pub fn take_drain(&mut self) -> Option<u32> {
        self.drain.take()
    }

    /// The hello of the next connection while reconnecting.
    pub fn rejoin_hello(&self, token: &str) -> Option<protocol::Hello> {
        let rejoin = self.rejoin_token.as_deref()?;
        self.reconnect.as_ref()?;
        Some(rejoin::hello(token, rejoin, self.sequencer.last_applied()))
    }

    /// The secret for `Hello::AgentRejoin` (`None` until admitted).
    pub fn rejoin_token(&self) -> Option<&str> {
        self.rejoin_token.as_deref()
    }

    /// The mode the visitor granted this agent (`None` until admitted).
    pub fn mode(&self) -> Option<Mode> {
        self.mode
    }

    /// Whether the granted mode changed since the last call.
    pub fn take_mode_changed(&mut self) -> bool {
        std::mem::take(&mut self.mode_changed)
    }

    /// Asks for a mode (shared needs the visitor's consent).
    pub fn request_mode(&mut self, mode: Mode) {
        if self.state == ConsoleState::Live && self.mode != Some(mode) {
            self.outbox.push(AgentMsg::RequestMode(mode));
        }
    }

    /// The agent points (any mode, once the page shows).
    pub fn point(&mut self, point: Point) {
        if self.state == ConsoleState::Live {
            self.outbox.push(AgentMsg::Point(point));
        }
    }

    /// The agent acts on the page. Only in shared mode: the console never
    /// sends what the mode forbids (the relay and the visitor check again).
    /// Whether it was sent.
    pub fn control(&mut self, control: Control) -> bool {
        let allowed = self.state == ConsoleState::Live && self.mode == Some(Mode::Shared);
        if allowed {
            self.outbox.push(AgentMsg::Control(control));
        }
        allowed
    }

    /// The agent pressed Leave.
    pub fn leave(&mut self) {
        if !self.is_over() {
            self.outbox.push(AgentMsg::Leave);
            self.end(protocol::EndReason::AgentLeft.describe());
        }
    }

    pub fn end(&mut self, message: &str) {
        self.state = ConsoleState::Ended;
        self.status = ended_status(message);
    }

    fn on_frame(&mut self, frame: EventFrame, now_ms: f64) {
        self.sequencer.push(frame);
        while let Some(frame) = self.sequencer.pop_ready() {
            let applied = frame
                .event()
                .map_err(crate::ViewerError::from)
                .and_then(|event| self.mirror.apply(&event));
            match applied {
                Ok(Applied::Snapshot) => {
                    self.too_large = false;
                    self.snapshots += 1;
                    self.layout_dirty = true;
                    self.state = ConsoleState::Live;
                    let url = self.mirror.url().unwrap_or_default().to_owned();
                    self.status = live_status(&url);
                    self.page_url = Some(url);
                }
                Ok(Applied::Viewport) => self.layout_dirty = true,
                Ok(_) => {}
                Err(crate::ViewerError::TooManyNodes { cap }) => {
                    log::warn(&format!(
                        "snapshot {:?} refused: more than {cap} nodes",
                        frame.seq
                    ));
                    self.too_large = true;
                    self.status = too_large_status(cap);
                }
                Err(e) => {
                    log::warn(&format!("event {:?} could not be applied: {e}", frame.seq));
                    if !self.too_large && self.sequencer.resync() {
                        self.outbox.push(AgentMsg::Resync);
                    }
                }
            }
        }
        self.on_tick(now_ms);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::mirror::fake::FakeDom;
    use protocol::{
        AddedNode, AgentId, EndReason, ErrorCode, Event, MutationBatch, Node, NodeId, Seq,
        SessionId, Snapshot, Viewport,
    };

    fn console() -> Console<FakeDom> {
        Console::new(FakeDom::default())
    }

    fn joined() -> ToAgent {
        ToAgent::Joined {
            session: SessionId("s1".into()),
            agent: AgentId(1),
            page_url: "https://shop.example/".into(),
        }
    }

    /// An empty page's snapshot at `seq` (also the rejoin tests' page).
    pub(crate) fn snapshot(seq: u64, url: &str) -> ToAgent {
        let event = Event::Snapshot(Snapshot {
            url: url.into(),
            base_url: url.into(),
            viewport: Viewport {
                width: 800,
                height: 600,
                device_pixel_ratio: 1.0,
            },
            root: Node::Document {
                id: NodeId(1),
                quirks: false,
                children: vec![],
            },
            scrolls: vec![],
        });
        ToAgent::Event(EventFrame::new(Seq(seq), &event).expect("encode"))
    }

    fn mutation(seq: u64, parent: u32) -> ToAgent {
        let event = Event::Mutations(MutationBatch {
            adds: vec![AddedNode {
                parent: NodeId(parent),
                next_sibling: None,
                node: Node::Comment {
                    id: NodeId(50 + seq as u32),
                    text: "c".into(),
                },
            }],
            ..Default::default()
        });
        ToAgent::Event(EventFrame::new(Seq(seq), &event).expect("encode"))
    }

    fn live() -> Console<FakeDom> {
        let mut c = console();
        c.on_message(joined(), 0.0);
        c.on_message(
            ToAgent::Admitted {
                resources: "/res/s/k/".into(),
            },
            0.0,
        );
        c.on_message(snapshot(1, "https://shop.example/cart"), 0.0);
        assert_eq!(c.state(), ConsoleState::Live);
        c
    }

    #[test]
    fn a_join_goes_connecting_waiting_live() {
        let mut c = console();
        assert_eq!(
            (c.state(), c.status()),
            (ConsoleState::Joining, "Connecting…")
        );
        c.on_bytes(&protocol::encode(&joined()).expect("encode"), 0.0);
        assert_eq!(c.state(), ConsoleState::Waiting);
        assert_eq!(c.status(), "Waiting for the visitor to accept…");
        assert_eq!(c.page_url(), Some("https://shop.example/"));
        c.on_message(
            ToAgent::Admitted {
                resources: "/res/s/k/".into(),
            },
            0.0,
        );
        assert_eq!(
            c.state(),
            ConsoleState::Waiting,
            "waiting until a snapshot shows"
        );
        c.on_message(snapshot(1, "https://shop.example/cart"), 0.0);
        assert_eq!(c.state(), ConsoleState::Live);
        assert_eq!(c.status(), "Live — https://shop.example/cart");
        assert_eq!(c.page_url(), Some("https://shop.example/cart"));
        assert_eq!(c.snapshots_applied(), 1);
        assert!(c.take_layout_dirty());
        assert!(c.take_outbox().is_empty());
    }

    #[test]
    fn control_is_sent_only_in_the_mode_the_visitor_granted() {
        let mut c = live();
        let click = || protocol::Control::Click {
            target: NodeId(5),
            fx: 0.5,
            fy: 0.5,
        };
        // Before the relay says which mode: nothing.
        assert!(!c.control(click()));
        c.on_message(ToAgent::Mode(Mode::ViewOnly), 0.0);
        assert!(c.take_mode_changed());
        assert!(!c.control(click()), "view-only never sends control");
        c.point(Point::Highlight { target: NodeId(5) });
        c.request_mode(Mode::Shared);
        assert_eq!(
            c.take_outbox(),
            [
                AgentMsg::Point(Point::Highlight { target: NodeId(5) }),
                AgentMsg::RequestMode(Mode::Shared)
            ]
        );
        c.on_message(ToAgent::Mode(Mode::Shared), 0.0);
        assert!(c.take_mode_changed());
        assert!(!c.take_mode_changed(), "drained");
        assert!(c.control(click()));
        assert_eq!(c.take_outbox(), [AgentMsg::Control(click())]);
        // Asking for the mode it has sends nothing.
        c.request_mode(Mode::Shared);
        assert!(c.take_outbox().is_empty());
        c.on_message(ToAgent::Mode(Mode::ViewOnly), 0.0);
        assert!(!c.control(click()));
        assert!(c.take_outbox().is_empty());
    }

    #[test]
    fn a_visitor_changing_pages_keeps_the_page_until_the_next_snapshot() {
        let mut c = live();
        c.on_message(ToAgent::VisitorAway { grace_secs: 30 }, 0.0);
        assert_eq!((c.state(), c.status()), (ConsoleState::Live, VISITOR_AWAY));
        assert!(!c.mirror().is_empty(), "the last page stays on screen");
        c.on_message(snapshot(2, "https://shop.example/checkout"), 0.0);
        assert_eq!(c.status(), "Live — https://shop.example/checkout");
        assert_eq!(c.page_url(), Some("https://shop.example/checkout"));
    }

    #[test]
    fn the_visitor_ending_shows_the_reason() {
        let mut c = live();
        c.on_message(
            ToAgent::Ended {
                reason: EndReason::VisitorEnded,
            },
            0.0,
        );
        assert_eq!(c.state(), ConsoleState::Ended);
        assert_eq!(c.status(), "Ended: The visitor ended the session.");
        // What comes after the end changes nothing.
        c.on_message(snapshot(2, "https://x/"), 0.0);
        c.on_closed(1000, "", 0.0);
        assert_eq!(c.status(), "Ended: The visitor ended the session.");
    }

    #[test]
    fn an_error_frame_ends_with_its_message_never_a_blank() {
        let mut c = console();
        c.on_message(
            ToAgent::Error(ErrorFrame {
                code: ErrorCode::VersionMismatch,
                message: "The relay speaks protocol version 2; reload the console.".into(),
            }),
            0.0,
        );
        assert_eq!(c.state(), ConsoleState::Ended);
        assert_eq!(
            c.status(),
            "Ended: The relay speaks protocol version 2; reload the console."
        );
        let mut c = console();
        c.on_message(
            ToAgent::Error(ErrorFrame {
                code: ErrorCode::UnknownCode,
                message: " ".into(),
            }),
            0.0,
        );
        assert_eq!(
            c.status(),
            "Ended: The relay refused the session (UnknownCode)."
        );
    }

    #[test]
    fn an_unexpected_close_is_a_lost_connection() {
        let mut c = live();
        c.on_closed(1006, "", 0.0);
        assert_eq!(c.status(), "Ended: Connection to the relay lost");
        let mut c = console();
        c.on_closed(4004, "No session has that code.", 0.0);
        assert_eq!(c.status(), "Ended: No session has that code.");
    }

    #[test]
    fn leaving_tells_the_relay_and_ends() {
        let mut c = live();
        c.leave();
        assert_eq!(c.take_outbox(), vec![AgentMsg::Leave]);
        assert_eq!(c.status(), "Ended: You left the session.");
        c.leave();
        assert!(c.take_outbox().is_empty(), "only once");
    }

    #[test]
    fn an_undecodable_frame_is_ignored() {
        let mut c = live();
        c.on_bytes(&[0xc1, 0xff, 0x00], 0.0);
        assert_eq!(c.state(), ConsoleState::Live);
        assert!(c.take_outbox().is_empty());
    }

    #[test]
    fn an_event_that_does_not_decode_asks_for_a_resync_once() {
        let mut c = live();
        let bad = |seq| {
            ToAgent::Event(EventFrame {
                seq: Seq(seq),
                snapshot: false,
                payload: vec![0xc1],
            })
        };
        c.on_message(bad(2), 0.0);
        c.on_message(bad(3), 0.0);
        assert_eq!(c.take_outbox(), vec![AgentMsg::Resync]);
        assert_eq!(
            c.state(),
            ConsoleState::Live,
            "the last page stays on screen"
        );
    }

    #[test]
    fn a_snapshot_past_the_console_cap_is_refused_with_a_message_and_no_resync() {
        let mut c = live();
        let nodes = (0..crate::mirror::MAX_SNAPSHOT_NODES as u32)
            .map(|i| Node::Text {
                id: NodeId(10 + i),
                text: String::new(),
            })
            .collect();
        let huge = Event::Snapshot(Snapshot {
            url: "https://shop.example/huge".into(),
            base_url: "https://shop.example/huge".into(),
            viewport: Viewport {
                width: 800,
                height: 600,
                device_pixel_ratio: 1.0,
            },
            root: Node::Document {
                id: NodeId(1),
                quirks: false,
                children: vec![Node::Element {
                    id: NodeId(2),
                    tag: "html".into(),
                    ns: protocol::Ns::Html,
                    attrs: vec![],
                    state: None,
                    children: nodes,
                }],
            },
            scrolls: vec![],
        });
        let frame = EventFrame::new(Seq(2), &huge).expect("encode");
        c.on_message(ToAgent::Event(frame), 0.0);
        assert_eq!(
            c.status(),
            "The visitor's page is too large to show here (more than 1200000 nodes)."
        );
        assert_eq!(c.state(), ConsoleState::Live);
        // The page would come back as large: no resync, also not for the
        // changes that follow and cannot be placed.
        c.on_message(mutation(3, 404), 0.0);
        assert!(c.take_outbox().is_empty());
        // The visitor's next page (a snapshot it sends by itself) shows.
        c.on_message(snapshot(4, "https://shop.example/small"), 0.0);
        assert_eq!(c.status(), "Live — https://shop.example/small");
        c.on_message(mutation(5, 404), 0.0);
        assert_eq!(c.take_outbox(), vec![AgentMsg::Resync]);
    }

    #[test]
    fn a_mutation_the_mirror_cannot_place_asks_for_a_resync_until_the_next_snapshot() {
        let mut c = live();
        c.on_message(mutation(2, 1), 0.0);
        assert!(c.take_outbox().is_empty(), "a known parent applies");
        c.on_message(mutation(3, 404), 0.0);
        c.on_message(mutation(4, 1), 0.0);
        assert_eq!(c.take_outbox(), vec![AgentMsg::Resync]);
        c.on_message(snapshot(9, "https://shop.example/again"), 0.0);
        assert_eq!(c.status(), "Live — https://shop.example/again");
        c.on_message(mutation(10, 404), 0.0);
        assert_eq!(
            c.take_outbox(),
            vec![AgentMsg::Resync],
            "a new failure asks again"
        );
    }

    #[test]
    fn a_gap_that_stays_open_asks_for_a_resync_on_a_tick() {
        let mut c = live();
        c.on_message(mutation(3, 1), 1000.0);
        c.on_tick(2000.0);
        assert!(c.take_outbox().is_empty());
        c.on_tick(3000.0);
        assert_eq!(c.take_outbox(), vec![AgentMsg::Resync]);
        c.on_tick(9000.0);
        assert!(c.take_outbox().is_empty());
    }

    #[test]
    fn every_way_a_session_ends_has_its_own_sentence_in_the_header() {
        let mut seen: Vec<String> = Vec::new();
        for reason in EndReason::ALL {
            // Live, and also still waiting (an invitation expiring, a visitor
            // declining): the same sentence either way.
            for mut c in [live(), {
                let mut c = console();
                c.on_message(joined(), 0.0);
                c
            }] {
                c.on_message(ToAgent::Ended { reason }, 0.0);
                assert_eq!(c.state(), ConsoleState::Ended, "{reason:?}");
                let sentence = c
                    .status()
                    .strip_prefix("Ended: ")
                    .unwrap_or_else(|| panic!("{reason:?}: {:?}", c.status()))
                    .to_owned();
                assert!(
                    sentence.ends_with('.') && sentence.split_whitespace().count() >= 4,
                    "{reason:?}: not a sentence a person can read: {sentence:?}"
                );
                if !seen.contains(&sentence) {
                    seen.push(sentence);
                }
            }
        }
        assert_eq!(
            seen.len(),
            EndReason::ALL.len(),
            "two reasons share a sentence: {seen:#?}"
        );
        // Ends that are not the relay's reasons are told apart too.
        let mut lost = live();
        lost.on_closed(1006, "", 0.0);
        let lost = lost.status().strip_prefix("Ended: ").map(str::to_owned);
        assert!(lost.is_some_and(|l| !l.is_empty() && !seen.contains(&l)));
    }
}
