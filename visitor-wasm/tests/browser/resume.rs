//! Sessions that survive navigation, against the fake relay of
//! `session.rs`: the tab's `sessionStorage` entry, a page load that
//! continues the session with no `start()` and no consent, refusals, a
//! dropped connection and the page going away.

use protocol::{
    AgentId, ErrorCode, ErrorFrame, Event, Hello, JoinCode, Mode, SessionId, ToVisitor, VisitorMsg,
    WatchingAgent,
};
use visitor_wasm::resume::{Entry, KEY};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::session::{options, ui_text, Relay};
use crate::util::*;

const RELAY: &str = "http://127.0.0.1:9";
const TOKEN: &str = "cmVzdW1lLXRva2VuLTEyOA";

fn storage() -> web_sys::Storage {
    web_sys::window()
        .unwrap()
        .session_storage()
        .unwrap()
        .unwrap()
}

fn stored() -> Option<Entry> {
    storage()
        .get_item(KEY)
        .unwrap()
        .map(|s| Entry::decode(&s).expect("a readable entry"))
}

/// Each test starts and ends with an empty storage.
struct CleanStorage;

impl CleanStorage {
    fn new() -> CleanStorage {
        storage().remove_item(KEY).unwrap();
        CleanStorage
    }
}

impl Drop for CleanStorage {
    fn drop(&mut self) {
        let _ = storage().remove_item(KEY);
    }
}

fn now() -> f64 {
    js_sys::Date::now()
}

fn welcome(secs: u32) -> ToVisitor {
    ToVisitor::Welcome {
        session: SessionId("s1".into()),
        code: JoinCode::parse("123456").unwrap(),
        upload_token: String::new(),
        resume_token: if secs > 0 {
            TOKEN.into()
        } else {
            String::new()
        },
        resume_secs: secs,
        masking: protocol::MaskRules::default(),
    }
}

fn ann(mode: Mode) -> WatchingAgent {
    WatchingAgent {
        agent: AgentId(7),
        name: "Ann".into(),
        mode,
    }
}

/// Starts a session whose Welcome has a resume window of `secs`.
async fn started(relay: &Relay, secs: u32) -> visitor_wasm::Session {
    let bytes = protocol::encode(&welcome(secs)).unwrap();
    let relay = relay.handle();
    wasm_bindgen_futures::spawn_local(async move {
        sleep(20).await;
        relay.say_bytes(&bytes);
    });
    visitor_wasm::start(options("")).await.unwrap()
}

/// The visitor's frames decoded from the `from`th on, hellos included.
fn sent(relay: &Relay, from: usize) -> Vec<Result<VisitorMsg, Hello>> {
    relay.frames()[from..]
        .iter()
        .map(|f| match protocol::decode_hello(f) {
            Ok(hello) => Err(hello),
            Err(_) => Ok(protocol::decode(f).unwrap()),
        })
        .collect()
}

fn resume_of(hello: &Hello) -> Option<String> {
    match hello {
        Hello::Visitor(v) => v.resume.clone(),
        Hello::Agent(_) | Hello::AgentRejoin(_) => panic!("not a visitor hello"),
    }
}

fn events(relay: &Relay, from: usize) -> Vec<(u64, Event)> {
    sent(relay, from)
        .into_iter()
        .filter_map(|m| match m {
            Ok(VisitorMsg::Event(f)) => Some((f.seq.0, f.event().unwrap())),
            _ => None,
        })
        .collect()
}

fn has_ui() -> bool {
    document().query_selector("cobrowse-ui").unwrap().is_some()
}

/// An entry the previous page left, live for `ms` more.
fn leave_entry(next_seq: u64, ms: f64, relay: &str) -> Entry {
    let mut opts = visitor_wasm::Options::new(relay).unwrap();
    opts.mask = vec![".secret".into()];
    let entry = Entry {
        relay: opts.relay.clone(),
        origin: origin(),
        token: TOKEN.into(),
        expires_at: (now() + ms) as u64,
        next_seq,
        options: opts,
    };
    storage().set_item(KEY, &entry.encode()).unwrap();
    entry
}

#[wasm_bindgen_test]
async fn a_welcome_with_a_resume_window_stores_an_entry_and_end_clears_it() {
    let _clean = CleanStorage::new();
    let relay = Relay::install();
    let session = started(&relay, 30).await;
    let entry = stored().expect("stored on Welcome");
    assert_eq!(entry.relay, RELAY);
    assert_eq!(entry.origin, origin());
    assert_eq!(entry.token, TOKEN);
    assert_eq!(entry.next_seq, 1);
    let left = entry.expires_at as f64 - now();
    assert!(left > 25_000.0 && left <= 30_000.0, "{left}");

    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(7),
        name: "Ann".into(),
        mode: Mode::ViewOnly,
    });
    ui_button("data-cobrowse-accept").unwrap().click();
    relay.say(&ToVisitor::SnapshotNeeded);
    let f = Fixture::new("resume-store", "<p>x</p>");
    f.root.set_inner_html("<p>y</p>");
    sleep(150).await;
    let last = events(&relay, 1).last().map(|(s, _)| *s).expect("events");
    assert!(last >= 2, "a snapshot and a batch");
    assert_eq!(stored().unwrap().next_seq, last + 1, "above every seq sent");

    session.end();
    assert_eq!(stored(), None, "end() clears the entry");
    assert!(visitor_wasm::current().is_none());
}

#[wasm_bindgen_test]
async fn nothing_is_stored_when_the_relay_turns_resuming_off() {
    let _clean = CleanStorage::new();
    let relay = Relay::install();
    let session = started(&relay, 0).await;
    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(7),
        name: "Ann".into(),
        mode: Mode::ViewOnly,
    });
    ui_button("data-cobrowse-accept").unwrap().click();
    relay.say(&ToVisitor::SnapshotNeeded);
    sleep(50).await;
    assert_eq!(storage().get_item(KEY).unwrap(), None);
    // A drop ends such a session for good: no reconnect.
    relay.drop_connection();
    sleep(800).await;
    assert_eq!(relay.sockets(), 1);
    assert!(!has_ui());
    session.end();
}

#[wasm_bindgen_test]
async fn a_page_load_with_a_live_entry_resumes_without_start_or_consent() {
    let _clean = CleanStorage::new();
    let relay = Relay::install();
    let f = Fixture::new(
        "resumed",
        "<p class='secret' id='s'>4111 1111</p><ul id='list'></ul>",
    );
    leave_entry(42, 30_000.0, RELAY);
    let session = visitor_wasm::resume(Some(format!("{RELAY}/"))).expect("resuming");
    sleep(20).await;
    let hellos = sent(&relay, 0);
    let [Err(hello)] = &hellos[..] else {
        panic!("one hello: {hellos:?}")
    };
    assert_eq!(resume_of(hello).as_deref(), Some(TOKEN));
    // The relay's Welcome comes first: still no panel, and no code shown.
    relay.say(&welcome(30));
    assert!(!has_ui(), "nothing shown before the relay confirms");
    // A second start() is refused while the resumed session runs.
    let err = visitor_wasm::start(options(""))
        .await
        .err()
        .expect("refused");
    let msg: String = err.dyn_into::<js_sys::Error>().unwrap().message().into();
    assert!(msg.contains("already running"), "{msg}");

    relay.say(&ToVisitor::Resumed {
        agents: vec![ann(Mode::Shared)],
        masking: protocol::MaskRules::default(),
        last_seq: None,
    });
    let t = ui_text().expect("the live panel");
    assert!(t.contains("Ann can control this page"), "{t}");
    assert!(!t.contains("123456"), "no code panel: {t}");
    assert!(
        ui_button("data-cobrowse-accept").is_none(),
        "no consent asked"
    );
    assert!(ui_button("data-cobrowse-view-only").is_some());

    // Capture runs: the snapshot at the stored number, then one by one.
    let li = document().create_element("li").unwrap();
    li.set_text_content(Some("after resume"));
    f.get("#list").append_child(&li).unwrap();
    sleep(150).await;
    let evs = events(&relay, 1);
    assert!(matches!(evs[0], (42, Event::Snapshot(_))), "{evs:?}");
    let Event::Snapshot(snap) = &evs[0].1 else {
        unreachable!()
    };
    assert!(
        !text(find_id(&snap.root, "s")).contains("4111"),
        "the site's mask option holds on the resumed page"
    );
    assert!(
        matches!(&evs[1], (43, Event::Mutations(b)) if text(&b.adds[0].node) == "after resume")
    );
    assert_eq!(stored().unwrap().next_seq, 44);

    // Agents who ask later go through consent as usual.
    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(8),
        name: "Bo".into(),
        mode: Mode::ViewOnly,
    });
    assert!(ui_button("data-cobrowse-accept").is_some());

    // The page can end it: current() is this session.
    let current = visitor_wasm::current().expect("running");
    assert_eq!(current.code(), "123456");
    current.end();
    assert!(matches!(sent(&relay, 1).last(), Some(Ok(VisitorMsg::End))));
    assert_eq!(stored(), None);
    assert!(!has_ui());
    session.end();
}

#[wasm_bindgen_test]
async fn a_refused_resume_clears_the_entry_and_shows_nothing() {
    let _clean = CleanStorage::new();
    let relay = Relay::install();
    leave_entry(9, 30_000.0, RELAY);
    let _session = visitor_wasm::resume(Some(RELAY.into())).expect("resuming");
    sleep(20).await;
    relay.say(&ToVisitor::Error(ErrorFrame {
        code: ErrorCode::NotAllowed,
        message: "the session to resume has ended".into(),
    }));
    relay.close_with(4003, "the session to resume has ended");
    sleep(800).await;
    assert_eq!(storage().get_item(KEY).unwrap(), None);
    assert!(!has_ui());
    assert!(visitor_wasm::current().is_none());
    assert_eq!(relay.sockets(), 1, "no retry, and no new session");
    assert_eq!(relay.frames().len(), 1, "only the hello");

    // A close with a reason but no error frame is a refusal too.
    leave_entry(9, 30_000.0, RELAY);
    let _session = visitor_wasm::resume(Some(RELAY.into())).expect("resuming");
    sleep(20).await;
    relay.close_with(4003, "the session to resume has ended");
    sleep(800).await;
    assert_eq!(storage().get_item(KEY).unwrap(), None);
    assert_eq!(relay.sockets(), 2);
    assert!(!has_ui());
}

#[wasm_bindgen_test]
async fn only_a_live_entry_for_this_relay_is_resumed() {
    let _clean = CleanStorage::new();
    let relay = Relay::install();
    leave_entry(5, -1.0, RELAY);
    assert!(visitor_wasm::resume(Some(RELAY.into())).is_none());
    assert_eq!(storage().get_item(KEY).unwrap(), None, "expired: removed");
    leave_entry(5, 30_000.0, "https://other-relay.example");
    assert!(visitor_wasm::resume(Some(RELAY.into())).is_none());
    assert!(stored().is_some(), "another relay's entry is left alone");
    storage().set_item(KEY, "garbage").unwrap();
    assert!(visitor_wasm::resume(Some(RELAY.into())).is_none());
    assert_eq!(relay.sockets(), 0);
    assert!(!has_ui());
}

#[wasm_bindgen_test]
async fn a_dropped_connection_reconnects_and_carries_on_numbering() {
    let _clean = CleanStorage::new();
    let relay = Relay::install();
    let session = started(&relay, 30).await;
    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(7),
        name: "Ann".into(),
        mode: Mode::ViewOnly,
    });
    ui_button("data-cobrowse-accept").unwrap().click();
    relay.say(&ToVisitor::SnapshotNeeded);
    let before = relay.frames().len();
    let last = events(&relay, 1).last().map(|(s, _)| *s).unwrap();

    relay.drop_connection();
    sleep(10).await;
    let t = ui_text().expect("the panel stays");
    assert!(t.contains("Reconnecting"), "{t}");
    assert!(stored().is_some(), "the entry stays for the retry");
    let mut waited = 0;
    while relay.sockets() < 2 {
        assert!(waited < 2000, "no retry within 2 s");
        sleep(50).await;
        waited += 50;
    }
    // (How long it waited is the backoff's, unit tested in `resume_tests`:
    // with full jitter the first wait may be anything up to 0.5 s.)
    sleep(20).await;
    let hellos = sent(&relay, before);
    let [Err(hello)] = &hellos[..] else {
        panic!("a resume hello: {hellos:?}")
    };
    assert_eq!(resume_of(hello).as_deref(), Some(TOKEN));
    relay.say(&welcome(30));
    relay.say(&ToVisitor::Resumed {
        agents: vec![ann(Mode::ViewOnly)],
        masking: protocol::MaskRules::default(),
        last_seq: None,
    });
    let evs = events(&relay, before);
    assert!(
        matches!(evs.first(), Some((s, Event::Snapshot(_))) if *s == last + 1),
        "{evs:?}"
    );
    assert!(ui_text().unwrap().contains("Ann is viewing this page"));
    session.end();
    assert_eq!(stored(), None);
}

#[wasm_bindgen_test]
async fn a_drop_past_the_grace_window_gives_up_quietly() {
    let _clean = CleanStorage::new();
    let relay = Relay::install();
    let _session = started(&relay, 1).await;
    // A relay that never answers again: every attempt is dropped.
    let mut waited = 0;
    relay.drop_connection();
    while has_ui() {
        assert!(waited < 4000, "still trying after the window");
        sleep(100).await;
        if relay.sockets() > 1 && !relay.is_closed() {
            relay.drop_connection();
        }
        waited += 100;
    }
    assert_eq!(storage().get_item(KEY).unwrap(), None);
    assert!(visitor_wasm::current().is_none());
    let made = relay.sockets();
    sleep(1500).await;
    assert_eq!(relay.sockets(), made, "no attempt after giving up");
}

#[wasm_bindgen_test]
async fn leaving_the_page_sends_no_end_and_keeps_the_entry() {
    let _clean = CleanStorage::new();
    let relay = Relay::install();
    let _session = started(&relay, 30).await;
    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(7),
        name: "Ann".into(),
        mode: Mode::ViewOnly,
    });
    ui_button("data-cobrowse-accept").unwrap().click();
    relay.say(&ToVisitor::SnapshotNeeded);
    let next = stored().unwrap().next_seq;
    let window = web_sys::window().unwrap();
    window
        .dispatch_event(&web_sys::Event::new("pagehide").unwrap())
        .unwrap();
    sleep(50).await;
    assert!(relay.is_closed(), "the socket goes at once");
    assert!(
        !sent(&relay, 1)
            .iter()
            .any(|m| matches!(m, Ok(VisitorMsg::End))),
        "no End: the session waits for the next page"
    );
    let entry = stored().expect("kept for the next page");
    assert_eq!(entry.next_seq, next);
    assert!(entry.expires_at as f64 - now() > 29_000.0);
    assert!(visitor_wasm::current().is_none());
    sleep(800).await;
    assert_eq!(relay.sockets(), 1, "no reconnect from a page going away");
}

/// Until the page opened its `n`th socket (2 s at most).
async fn wait_for_socket(relay: &Relay, n: u32) {
    let mut waited = 0;
    while relay.sockets() < n {
        assert!(waited < 2000, "no socket {n} within 2 s");
        sleep(20).await;
        waited += 20;
    }
    sleep(20).await;
}

/// A watched session with a mutation batch after its snapshot; returns
/// the newest seq sent.
async fn watched_with_a_batch(relay: &Relay, fixture: &Fixture) -> (visitor_wasm::Session, u64) {
    let session = started(relay, 30).await;
    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(7),
        name: "Ann".into(),
        mode: Mode::ViewOnly,
    });
    ui_button("data-cobrowse-accept").unwrap().click();
    relay.say(&ToVisitor::SnapshotNeeded);
    sleep(50).await;
    fixture.get("#line").set_text_content(Some("two"));
    sleep(250).await;
    let evs = events(relay, 1);
    assert!(
        matches!(evs.last(), Some((_, Event::Mutations(_)))),
        "{evs:?}"
    );
    (session, evs.last().unwrap().0)
}

#[wasm_bindgen_test]
async fn after_a_drop_the_page_resends_only_what_the_relay_lacks_and_no_snapshot() {
    let _clean = CleanStorage::new();
    let fixture = Fixture::new("outbox", "<p id=line>one</p>");
    let relay = Relay::install();
    let (session, last) = watched_with_a_batch(&relay, &fixture).await;
    let original = relay.frames().last().unwrap().clone();

    relay.drop_connection();
    // The page goes on changing while the connection is down: captured,
    // held for the next socket.
    fixture.get("#line").set_text_content(Some("three"));
    sleep(250).await;
    let before = relay.frames().len();
    wait_for_socket(&relay, 2).await;
    // The relay had everything up to the frame before the batch.
    relay.say(&welcome(30));
    relay.say(&ToVisitor::Resumed {
        agents: vec![ann(Mode::ViewOnly)],
        masking: protocol::MaskRules::default(),
        last_seq: Some(protocol::Seq(last - 1)),
    });
    sleep(50).await;
    let evs = events(&relay, before);
    let seqs: Vec<u64> = evs.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, vec![last, last + 1], "{evs:?}");
    assert!(
        !evs.iter().any(|(_, e)| matches!(e, Event::Snapshot(_))),
        "no new snapshot: {evs:?}"
    );
    // The very bytes it sent before.
    assert!(relay.frames()[before..].contains(&original));
    assert!(ui_text().unwrap().contains("Ann is viewing this page"));
    session.end();
}

#[wasm_bindgen_test]
async fn a_relay_that_lacks_more_than_the_page_kept_gets_a_fresh_snapshot() {
    let _clean = CleanStorage::new();
    let fixture = Fixture::new("outbox", "<p id=line>one</p>");
    let relay = Relay::install();
    let (session, last) = watched_with_a_batch(&relay, &fixture).await;
    relay.drop_connection();
    let before = relay.frames().len();
    wait_for_socket(&relay, 2).await;
    relay.say(&welcome(30));
    relay.say(&ToVisitor::Resumed {
        agents: vec![ann(Mode::ViewOnly)],
        masking: protocol::MaskRules::default(),
        // Nothing held (another relay's buffer was lost): a snapshot,
        // numbered after everything sent.
        last_seq: None,
    });
    sleep(50).await;
    let evs = events(&relay, before);
    assert!(
        matches!(evs.first(), Some((s, Event::Snapshot(_))) if *s == last + 1),
        "{evs:?}"
    );
    session.end();
}

#[wasm_bindgen_test]
async fn a_draining_relay_asks_and_the_page_resumes_within_the_window() {
    let _clean = CleanStorage::new();
    let fixture = Fixture::new("outbox", "<p id=line>one</p>");
    let relay = Relay::install();
    let (session, last) = watched_with_a_batch(&relay, &fixture).await;
    relay.say(&ToVisitor::Reconnect { within_ms: 200 });
    let before = relay.frames().len();
    wait_for_socket(&relay, 2).await;
    let hellos = sent(&relay, before);
    let [Err(hello)] = &hellos[..] else {
        panic!("a resume hello: {hellos:?}")
    };
    assert_eq!(resume_of(hello).as_deref(), Some(TOKEN));
    relay.say(&welcome(30));
    relay.say(&ToVisitor::Resumed {
        agents: vec![ann(Mode::ViewOnly)],
        masking: protocol::MaskRules::default(),
        last_seq: Some(protocol::Seq(last)),
    });
    sleep(50).await;
    assert!(events(&relay, before).is_empty(), "nothing to resend");
    fixture.get("#line").set_text_content(Some("four"));
    sleep(250).await;
    let evs = events(&relay, before);
    assert!(
        matches!(&evs[..], [(s, Event::Mutations(_))] if *s == last + 1),
        "{evs:?}"
    );
    session.end();
}
