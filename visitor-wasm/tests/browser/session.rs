//! Whole sessions through the public `start()`, with `window.WebSocket`
//! replaced by a fake that records what the visitor sends and lets the test
//! speak as the relay.

use protocol::{AgentId, Event, JoinCode, Mode, Seq, SessionId, ToVisitor, VisitorMsg};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::util::*;

#[wasm_bindgen(module = "/tests/browser/support.js")]
extern "C" {
    #[derive(Clone)]
    type Fake;
    fn install_fake_socket() -> Fake;
    #[wasm_bindgen(method)]
    fn restore(this: &Fake);
    #[wasm_bindgen(method)]
    fn url(this: &Fake) -> String;
    #[wasm_bindgen(method)]
    fn closed(this: &Fake) -> bool;
    #[wasm_bindgen(method)]
    fn count(this: &Fake) -> u32;
    #[wasm_bindgen(method)]
    fn frame(this: &Fake, i: u32) -> Vec<u8>;
    #[wasm_bindgen(method)]
    fn deliver(this: &Fake, bytes: &[u8]);
    #[wasm_bindgen(method)]
    fn refuse(this: &Fake);
    #[wasm_bindgen(method, js_name = closeWith)]
    fn close_with(this: &Fake, code: u16, reason: &str);
    #[wasm_bindgen(method)]
    fn made(this: &Fake) -> u32;
}

/// The fake relay, restored on drop (of the first handle: clones share it).
pub(crate) struct Relay(Fake, bool);

impl Relay {
    pub(crate) fn install() -> Relay {
        Relay(install_fake_socket(), true)
    }

    /// Another handle on the same fake, for a spawned task.
    pub(crate) fn handle(&self) -> Relay {
        Relay(self.0.clone(), false)
    }

    pub(crate) fn say_bytes(&self, bytes: &[u8]) {
        self.0.deliver(bytes);
    }

    pub(crate) fn say(&self, msg: &ToVisitor) {
        self.0.deliver(&protocol::encode(msg).unwrap());
    }

    /// The connection drops (a network failure: no reason).
    pub(crate) fn drop_connection(&self) {
        self.0.refuse();
    }

    /// The relay closes the connection with `code` and `reason`.
    pub(crate) fn close_with(&self, code: u16, reason: &str) {
        self.0.close_with(code, reason);
    }

    /// How many sockets the visitor opened.
    pub(crate) fn sockets(&self) -> u32 {
        self.0.made()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.0.closed()
    }

    pub(crate) fn frames(&self) -> Vec<Vec<u8>> {
        (0..self.0.count()).map(|i| self.0.frame(i)).collect()
    }

    /// Everything after the hello, decoded.
    pub(crate) fn messages(&self) -> Vec<VisitorMsg> {
        self.frames()
            .iter()
            .skip(1)
            .map(|f| protocol::decode(f).unwrap())
            .collect()
    }

    pub(crate) fn events(&self) -> Vec<(Seq, Event)> {
        self.messages()
            .into_iter()
            .filter_map(|m| match m {
                VisitorMsg::Event(f) => Some((f.seq, f.event().unwrap())),
                _ => None,
            })
            .collect()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if self.1 {
            self.0.restore();
        }
    }
}

pub(crate) fn options(extra: &str) -> JsValue {
    let json = format!(r#"{{"relay": "http://127.0.0.1:9" {extra}}}"#);
    js_sys::JSON::parse(&json).unwrap()
}

/// Starts a session and answers its hello with a Welcome.
async fn started(relay: &Relay) -> visitor_wasm::Session {
    started_with(relay, "").await
}

/// Starts a session whose Welcome carries `upload_token` (empty: the
/// resource service stays off).
pub(crate) async fn started_with(relay: &Relay, upload_token: &str) -> visitor_wasm::Session {
    started_masking(relay, upload_token, protocol::MaskRules::default()).await
}

/// Starts a session whose Welcome carries the relay's masking rules.
async fn started_masking(
    relay: &Relay,
    upload_token: &str,
    masking: protocol::MaskRules,
) -> visitor_wasm::Session {
    let fake = relay.0.clone();
    let upload_token = upload_token.to_owned();
    wasm_bindgen_futures::spawn_local(async move {
        sleep(20).await;
        let welcome = ToVisitor::Welcome {
            session: SessionId("s1".into()),
            code: JoinCode::parse("123456").unwrap(),
            upload_token,
            resume_token: String::new(),
            resume_secs: 0,
            masking,
        };
        fake.deliver(&protocol::encode(&welcome).unwrap());
    });
    let session = visitor_wasm::start(options("")).await.unwrap();
    let hello = protocol::decode_hello(&relay.frames()[0]).unwrap();
    assert!(matches!(hello, protocol::Hello::Visitor(_)));
    session
}

pub(crate) fn ui_text() -> Option<String> {
    let host = document().query_selector("cobrowse-ui").unwrap()?;
    host.shadow_root()?.text_content()
}

#[wasm_bindgen_test]
async fn start_rejects_bad_options_with_clear_errors() {
    for (opts, expected) in [
        (JsValue::UNDEFINED, "options.relay is required"),
        (
            js_sys::JSON::parse(r#"{"relay": 5}"#).unwrap(),
            "options.relay must be a string",
        ),
        (
            js_sys::JSON::parse(r#"{"relay": "nope"}"#).unwrap(),
            "options.relay must be an http(s)",
        ),
        (options(r#", "mask": "x""#), "options.mask must be an array"),
        (options(r#", "mask": [":::"]"#), "invalid CSS selector"),
        (
            options(r#", "css": {"server": "yes"}"#),
            "options.css.server must be true or false",
        ),
    ] {
        let err = visitor_wasm::start(opts).await.err().expect("rejected");
        let msg = err.dyn_into::<js_sys::Error>().expect("an Error").message();
        assert!(
            String::from(msg.clone()).contains(expected),
            "{msg:?} lacks {expected:?}"
        );
    }
    assert!(document().query_selector("cobrowse-ui").unwrap().is_none());
}

#[wasm_bindgen_test]
async fn an_unreachable_relay_rejects_and_leaves_nothing_behind() {
    let relay = Relay::install();
    let pending = visitor_wasm::start(options(""));
    wasm_bindgen_futures::spawn_local({
        let fake = relay.0.clone();
        async move {
            sleep(5).await;
            fake.refuse();
        }
    });
    let err = pending.await.err().expect("rejected");
    let msg: String = err.dyn_into::<js_sys::Error>().unwrap().message().into();
    assert!(msg.contains("could not reach"), "{msg}");
    assert!(document().query_selector("cobrowse-ui").unwrap().is_none());
}

#[wasm_bindgen_test]
async fn nothing_is_captured_before_consent_and_everything_after_is_masked_and_ordered() {
    let relay = Relay::install();
    let f = Fixture::new(
        "live",
        "<input id='pw' type='password'><ul id='list'></ul><input id='name'>",
    );
    let session = started(&relay).await;
    assert_eq!(relay.0.url(), "ws://127.0.0.1:9/ws/visitor");
    assert_eq!(session.code(), "123456");
    let t = ui_text().unwrap();
    assert!(
        t.contains("Your co-browsing code: 123456 — read it to the agent"),
        "{t}"
    );

    // An agent asks; the page changes and the visitor types before answering.
    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(7),
        name: "Ann".into(),
        mode: Mode::ViewOnly,
    });
    // The relay's display name, as is (no "Agent Agent 1").
    let asking = ui_text().unwrap();
    assert!(
        asking.contains("Ann wants to see this page (view only)") && !asking.contains("Agent Ann")
    );
    f.get("#list").set_inner_html("<li>before consent</li>");
    set_value(&f.get("#name"), "typed before consent");
    fire(&f.get("#name"), "input");
    relay.say(&ToVisitor::SnapshotNeeded); // out of turn: must be ignored
    sleep(150).await;
    assert!(
        relay.messages().is_empty(),
        "nothing before consent: {:?}",
        relay.messages()
    );

    ui_button("data-cobrowse-accept").unwrap().click();
    assert_eq!(
        relay.messages(),
        [VisitorMsg::Consent {
            agent: AgentId(7),
            accepted: true
        }]
    );
    let live = ui_text().unwrap();
    assert!(live.contains("Ann is viewing this page") && !live.contains("Agent Ann"));
    assert!(ui_button("data-cobrowse-end").is_some());

    relay.say(&ToVisitor::SnapshotNeeded);
    let li = document().create_element("li").unwrap();
    li.set_text_content(Some("after consent"));
    f.get("#list").append_child(&li).unwrap();
    let pw = f.get("#pw");
    set_value(&pw, "hunter2-secret");
    fire(&pw, "input");
    sleep(150).await;

    let events = relay.events();
    let seqs: Vec<u64> = events.iter().map(|(s, _)| s.0).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "no gaps");
    assert!(matches!(events[0].1, Event::Snapshot(_)), "snapshot first");
    // The input flushed the pending append first: causal order.
    assert!(
        matches!(&events[1].1, Event::Mutations(b) if text(&b.adds[0].node) == "after consent")
    );
    assert!(matches!(&events[2].1, Event::Input { state, .. } if state.masked_len == Some(14)));
    for frame in relay.frames() {
        assert!(!contains(&frame, "hunter2-secret"));
        assert!(
            !contains(&frame, "Your co-browsing code"),
            "the UI is never mirrored"
        );
    }

    // End: the relay hears it, the UI goes, and nothing is captured after.
    ui_button("data-cobrowse-end").unwrap().click();
    assert_eq!(relay.messages().last(), Some(&VisitorMsg::End));
    assert!(document().query_selector("cobrowse-ui").unwrap().is_none());
    let before = relay.frames().len();
    f.get("#list").set_inner_html("<li>after end</li>");
    fire(&pw, "input");
    window_scroll_by(10);
    sleep(150).await;
    assert_eq!(relay.frames().len(), before, "nothing is sent after End");
    assert!(relay.0.closed());
    session.end(); // idempotent
}

fn window_scroll_by(y: i32) {
    web_sys::window()
        .unwrap()
        .scroll_by_with_x_and_y(0.0, f64::from(y));
}

#[wasm_bindgen_test]
async fn declining_the_only_agent_ends_the_session() {
    let relay = Relay::install();
    let _session = started(&relay).await;
    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(3),
        name: "Bo".into(),
        mode: Mode::ViewOnly,
    });
    ui_button("data-cobrowse-decline").unwrap().click();
    assert_eq!(
        relay.messages(),
        [
            VisitorMsg::Consent {
                agent: AgentId(3),
                accepted: false
            },
            VisitorMsg::End
        ]
    );
    assert!(document().query_selector("cobrowse-ui").unwrap().is_none());
}

#[wasm_bindgen_test]
async fn end_from_js_stops_capture_a_resync_reuses_ids_and_scrolls_are_sent() {
    let relay = Relay::install();
    let f = Fixture::new(
        "resync",
        "<p id='p'>x</p><div id='sc' style='height:40px;overflow:auto'><div style='height:400px'>tall</div></div>",
    );
    let session = started(&relay).await;
    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(1),
        name: "Cy".into(),
        mode: Mode::ViewOnly,
    });
    ui_button("data-cobrowse-accept").unwrap().click();
    relay.say(&ToVisitor::SnapshotNeeded);
    relay.say(&ToVisitor::SnapshotNeeded);
    let events = relay.events();
    let [(_, Event::Snapshot(a)), (_, Event::Snapshot(b))] = &events[..] else {
        panic!("two snapshots: {events:?}")
    };
    assert_eq!(find_id(&a.root, "p"), find_id(&b.root, "p"), "same ids");

    // Scrolling an element is reported once per flush, at its last position.
    let sc = f.get("#sc");
    sc.set_scroll_top(10);
    sleep(40).await;
    sc.set_scroll_top(25);
    sleep(150).await;
    let sc_id = find_id(&b.root, "sc").id();
    let scrolls: Vec<_> = relay
        .events()
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::Scroll(p) if p.target == sc_id => Some(p.y),
            _ => None,
        })
        .collect();
    assert_eq!(scrolls.last(), Some(&25.0), "{scrolls:?}");

    session.end();
    assert_eq!(relay.messages().last(), Some(&VisitorMsg::End));
    assert!(document().query_selector("cobrowse-ui").unwrap().is_none());
    let before = relay.frames().len();
    f.get("#p").set_text_content(Some("changed"));
    sleep(150).await;
    assert_eq!(relay.frames().len(), before);
}

#[wasm_bindgen_test]
async fn a_second_start_while_one_runs_is_refused_and_after_end_is_allowed() {
    let relay = Relay::install();
    let session = started(&relay).await;
    let err = visitor_wasm::start(options(""))
        .await
        .err()
        .expect("refused");
    let message = js_sys::Error::from(err)
        .message()
        .as_string()
        .unwrap_or_default();
    assert!(message.contains("already running"), "{message}");
    assert_eq!(
        document()
            .query_selector_all("cobrowse-ui")
            .unwrap()
            .length(),
        1,
        "one panel, not two"
    );
    // Codes are single use: the relay's fresh code is what `code` says now.
    relay.say(&ToVisitor::Welcome {
        session: SessionId("s1".into()),
        code: JoinCode::parse("654321").unwrap(),
        upload_token: String::new(),
        resume_token: String::new(),
        resume_secs: 0,
        masking: protocol::MaskRules::default(),
    });
    assert_eq!(session.code(), "654321");
    session.end();
    let again = started(&relay).await;
    assert_eq!(again.code(), "123456");
    again.end();
}

#[wasm_bindgen_test]
async fn the_relays_masking_rules_apply_on_top_of_the_sites_and_a_bad_one_is_dropped() {
    let relay = Relay::install();
    let f = Fixture::new(
        "relay-rules",
        "<p class='card'>cnry-relay-card-4111</p>\
         <input id='cvc' name='cvc' value='cnry-relay-cvc'>\
         <div id='sig' style='width:120px;height:40px'>cnry-relay-signature</div>\
         <p id='plain'>plain text stays</p>",
    );
    let masking = protocol::MaskRules {
        // "p[" cannot parse: joined into the list it would break every
        // match; it is dropped and the rest still apply.
        mask: vec![".card".into(), "p[".into(), "input[name=cvc]".into()],
        block: vec!["#sig".into()],
    };
    let session = started_masking(&relay, "", masking).await;
    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(3),
        name: "Ann".into(),
        mode: Mode::ViewOnly,
    });
    ui_button("data-cobrowse-accept").unwrap().click();
    relay.say(&ToVisitor::SnapshotNeeded);
    // Later changes are masked too.
    f.get(".card")
        .set_text_content(Some("cnry-relay-card-later"));
    sleep(150).await;
    let events = relay.events();
    assert!(
        matches!(events.first(), Some((_, Event::Snapshot(_)))),
        "{events:?}"
    );
    let frames = relay.frames();
    let all: Vec<u8> = frames.concat();
    for canary in ["cnry-relay-card", "cnry-relay-cvc", "cnry-relay-signature"] {
        assert!(!contains(&all, canary), "{canary} left the page");
    }
    assert!(
        contains(&all, "plain text stays"),
        "only the named elements are masked"
    );
    assert!(
        contains(&all, "data-cobrowse-blocked"),
        "the block rule made a box"
    );
    session.end();
}

/// The panel's sentence after the relay ended a session for `reason`
/// (`None`: the panel went at once).
async fn farewell_for(relay: &Relay, reason: protocol::EndReason) -> Option<String> {
    let _session = started(relay).await;
    relay.say(&ToVisitor::Ended { reason });
    let text = ui_text();
    assert!(
        ui_button("data-cobrowse-end").is_none(),
        "an ended session offers no End button"
    );
    text.map(|t| {
        // The panel's text without its stylesheet.
        let host = document().query_selector("cobrowse-ui").unwrap().unwrap();
        let p = host
            .shadow_root()
            .unwrap()
            .query_selector("[data-cobrowse-ended]")
            .unwrap()
            .unwrap_or_else(|| panic!("no ended sentence in {t:?}"));
        p.text_content().unwrap_or_default()
    })
}

#[wasm_bindgen_test]
async fn when_the_relay_ends_the_session_the_panel_says_why_until_the_next_start() {
    use protocol::EndReason;
    let relay = Relay::install();
    let mut seen = Vec::new();
    for reason in [
        EndReason::Idle,
        EndReason::AgentLeft,
        EndReason::RelayShutdown,
        EndReason::Error,
        EndReason::InvitationExpired,
        EndReason::InvitationCancelled,
        EndReason::VisitorDisconnected,
    ] {
        let sentence = farewell_for(&relay, reason)
            .await
            .unwrap_or_else(|| panic!("{reason:?}: the panel went without a word"));
        assert!(!sentence.trim().is_empty(), "{reason:?}");
        assert!(
            !seen.contains(&sentence),
            "{reason:?} says what another reason says: {sentence}"
        );
        seen.push(sentence);
        // The next start() (in the next round) replaces it: one panel.
    }
    assert!(seen[0].contains("without activity"), "{seen:?}");
    // The visitor's own ends need no explanation: the panel just goes.
    for reason in [EndReason::VisitorEnded, EndReason::VisitorDeclined] {
        assert_eq!(farewell_for(&relay, reason).await, None, "{reason:?}");
    }
    assert_eq!(
        document()
            .query_selector_all("cobrowse-ui")
            .unwrap()
            .length(),
        0
    );
}
