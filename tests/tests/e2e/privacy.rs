//! Issue 6's masking and no-recording promises, end to end. The canary
//! page (`tests/fixtures/privacy.html`) plants unique strings, all starting
//! with the canary prefix, wherever a masked or blocked element's data could
//! leak from — text, values, `placeholder`, `title`, `alt`, `aria-*`,
//! `data-*`, query strings of `href`/`src`, a CSS `content: attr()` that
//! reads a masked attribute, passwords, a masked-only image file — in the
//! main document, in shadow roots (a masked element inside one, a masked
//! host) and in same-origin iframes (masked parts, a masked `<iframe>`),
//! before the snapshot and after it (set by script, typed, pasted,
//! autofill-like, moved into a masked parent), next to a blocked canvas
//! and a public one, with resources uploaded. The relay runs with Redis,
//! `strict` resources (the agent's browser talks to nobody else) and
//! `RUST_LOG=trace`, behind a tap that records every byte of its HTTP and
//! WebSocket traffic. No canary may appear in any WebSocket frame the
//! browser sent or received, any byte the relay was sent or sent back, any
//! Redis key or value (live, after the uploads, after the end) or any
//! line of the relay's log; positive controls prove each place was
//! really searched. Beyond canaries: the relay keeps no page — page text
//! is never in its log, in Redis only in the session's replay buffer (the
//! masked frames, for a peer that continues after its relay died), and
//! after the session ends no key names it and no page text is left.
//!
//! What a page links itself (its stylesheet, a public image) is not masked
//! data: those files are uploaded, and a literal string in the site's own
//! stylesheet (`content: "…"`) is the site's code, the same for every
//! visitor. The promise is about what a masked or blocked element holds
//! and the files only such elements use.
//!
//! Also here, on the same page: a snapshot cut at the `maxNodes` option
//! reaches the agent with a visible notice, never as a silently wrong page.
//! And a site whose CSP lacks `'wasm-unsafe-eval'`
//! (`tests/fixtures/privacy-csp.html`): `start()` rejects with the advice,
//! the console says it once, the page keeps working and nothing is sent.

mod watch;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use e2e::{
    browser::{Browser, Frame, Tab},
    scenario::*,
    services::{start_redis, Binaries, RelayOptions, Service},
    tap::Tap,
};
use protocol::{decode, Event, ToVisitor, VisitorMsg};
use serde_json::Value;
use watch::*;

/// Every canary starts with this: one search finds them all.
const CANARY: &str = "CANARY";
/// Page text that is not masked: it travels, but the relay keeps none.
const PAGE_TEXT: [&str; 3] = [
    "PUBLIC-CONTROL-after",
    "PUBLIC-SHADOW-after",
    "PUBLIC-FRAME-after",
];
/// Resources are uploaded after the snapshot; give them time.
const RESOURCES_WAIT: Duration = Duration::from_secs(30);

/// Redis, the relay (strict resources, trace logging, its log kept), a tap
/// in front of it, a site serving `tests/fixtures`, and a browser.
struct Fixtures {
    // Dropped in this order: the relay before its Redis.
    relay: Service,
    tap: Tap,
    site: Service,
    browser: Browser,
    redis: Service,
    _config: TempFile,
}

/// A file removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Fixtures {
    async fn start() -> Result<Fixtures> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let repo = root.parent().context("tests/ has a parent")?;
        let dist = repo.join("target/dist");
        ensure!(
            dist.join("sdk/cobrowse.js").is_file(),
            "target/dist is incomplete: run `cargo xtask dist`"
        );
        let bins = Binaries::next_to_test()?;
        let redis = start_redis()?;
        let config = TempFile(
            std::env::temp_dir().join(format!("cobrowse-privacy-{}.toml", std::process::id())),
        );
        // Strict: an unoffered file is a 404 from the relay, never the
        // agent's browser fetching it from the site behind the tap's back.
        std::fs::write(&config.0, "[resources]\nstrict = true\n")?;
        let relay = bins.start_relay(&RelayOptions {
            static_dir: dist,
            dev_agent_token: Some(TOKEN.into()),
            extra_args: vec![
                "--redis".into(),
                redis.url().into(),
                "--config".into(),
                config.0.display().to_string(),
            ],
            env: vec![("RUST_LOG".into(), "trace".into())],
            capture_log: true,
            ..Default::default()
        })?;
        let tap = Tap::start(relay.host()).await?;
        let site = bins.start_site(0, &root.join("fixtures"), tap.url())?;
        let browser = Browser::launch().await?;
        Ok(Fixtures {
            relay,
            tap,
            site,
            browser,
            redis,
            _config: config,
        })
    }

    /// The visitor on `page`, the agent's console (its own browser context)
    /// joined and accepted; both reach the relay only through the tap.
    async fn live(&self, page: &str) -> Result<(Tab, Tab)> {
        self.live_with(page, None).await
    }

    /// [`Fixtures::live`], starting with `Cobrowse.start(options)` instead
    /// of the page's own button when `options` (a JS object) is given.
    async fn live_with(&self, page: &str, options: Option<&str>) -> Result<(Tab, Tab)> {
        step(&format!("visitor opens /{page}"));
        let (w, h) = VISITOR_SIZE;
        let url = format!("{}/{page}", self.site.url());
        let visitor = self.browser.open(&url, w, h).await?;
        visitor
            .wait_for(
                "the SDK to load",
                "window.Cobrowse && document.readyState === 'complete'",
                WAIT,
            )
            .await?;
        let code = match options {
            None => start_and_read_code(&visitor).await?,
            Some(options) => {
                visitor
                    .eval(&format!(
                        "const s = await window.Cobrowse.start({options}); window.fixtureSession = s; return s.code;"
                    ))
                    .await?
            }
        };
        step(&format!("agent joins with code {code}"));
        let (w, h) = AGENT_SIZE;
        let console_url = format!(
            "{}/agent/#token={TOKEN}&code={code}&mode=view",
            self.tap.url()
        );
        let console = self.browser.open_private(&console_url, w, h).await?;
        wait_state(&console, "waiting").await?;
        click_ui(&visitor, "data-cobrowse-accept").await?;
        wait_state(&console, "live").await?;
        Ok((visitor, console))
    }

    /// Every Redis key and value: no canary anywhere, ever; page text only
    /// in the session's replay buffer (`cobrowse:replay:*`: the frames the
    /// visitor's script sent, already masked, kept while the session lives
    /// so a peer can continue after its relay died), nowhere else.
    fn check_redis(&self, moment: &str) -> Result<Vec<Entry>> {
        step(&format!("checking every Redis key and value ({moment})"));
        let entries = redis_dump(self.redis.url())?;
        redis_free_of(&entries, CANARY, moment)?;
        let outside_replay: Vec<Entry> = entries
            .iter()
            .filter(|e| !e.name().starts_with("cobrowse:replay:"))
            .cloned()
            .collect();
        for text in PAGE_TEXT {
            redis_free_of(&outside_replay, text, moment)?;
        }
        Ok(entries)
    }
}

fn leaks<'a>(frames: &'a [Frame], needle: &str) -> Option<&'a Frame> {
    let forms = encodings(needle);
    frames.iter().find(|f| position(&f.bytes, &forms).is_some())
}

/// The session id the relay welcomed the visitor with.
fn session_id(visitor: &Tab) -> Option<String> {
    visitor
        .frames()
        .iter()
        .filter(|f| !f.sent)
        .find_map(|f| match decode::<ToVisitor>(&f.bytes) {
            Ok(ToVisitor::Welcome { session, .. }) => Some(session.0),
            _ => None,
        })
}

/// Bitmap sizes of the canvas pictures the visitor sent.
fn canvas_sizes(visitor: &Tab) -> Vec<(u32, u32)> {
    visitor
        .frames()
        .iter()
        .filter(|f| f.sent)
        .filter_map(|f| match decode::<VisitorMsg>(&f.bytes) {
            Ok(VisitorMsg::Event(frame)) => match frame.event().ok()? {
                Event::Canvas(c) => Some((c.width, c.height)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Waits until some frame the visitor sent holds `text`.
async fn wait_sent(visitor: &Tab, text: &str) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        let frames: Vec<Frame> = visitor.frames().into_iter().filter(|f| f.sent).collect();
        if leaks(&frames, text).is_some() {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "the visitor never sent {text:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const MIRROR: &str = "document.querySelector('iframe#cobrowse-frame').contentDocument";

/// After the snapshot: canaries set by script in the main document, a
/// shadow root and both iframes.
const PLANT_LATE: &str = "const $ = (id) => document.getElementById(id);
     const input = $('masked-input');
     input.setAttribute('title', 'CANARY-LATE-TITLE-c1');
     input.setAttribute('aria-label', 'CANARY-LATE-ARIA-c2');
     input.setAttribute('data-customer', 'CANARY-LATE-DATA-c3');
     input.setAttribute('placeholder', 'CANARY-LATE-PLACEHOLDER-c4');
     input.setAttribute('value', 'CANARY-LATE-VALUEATTR-c5');
     $('masked-img').setAttribute('alt', 'CANARY-LATE-ALT-c6');
     $('masked-link').setAttribute('href', '/account?id=CANARY-LATE-HREFQ-c7');
     $('masked-text').firstChild.nodeValue = 'CANARY-LATE-TEXT-c8 stays masked';
     $('masked-note').setAttribute('data-note', 'CANARY-LATE-CSSATTR-g2');
     const added = document.createElement('p');
     added.title = 'CANARY-LATE-ADDEDTITLE-c9';
     added.textContent = 'CANARY-LATE-ADDED-d1';
     $('masked').appendChild(added);
     $('blocked').firstChild.nodeValue = 'CANARY-LATE-BLOCKED-d2';
     $('blocked').setAttribute('title', 'CANARY-LATE-BLOCKTITLE-d3');
     const pwLater = $('pw-later');
     pwLater.setAttribute('type', 'password');
     pwLater.setAttribute('value', 'CANARY-LATE-PWATTR-d4');
     // A text node moved into a masked parent must be re-sent masked (it
     // was public until now, so it is a PUBLIC string); its later changes
     // stay masked too.
     $('masked-target').appendChild($('mover').firstChild);

     const shadow = $('shadow-host').shadowRoot;
     shadow.getElementById('shadow-masked').firstChild.nodeValue = 'CANARY-LATE-SHADOW-k1';
     shadow.getElementById('shadow-masked').setAttribute('data-extra', 'CANARY-LATE-SHADOW-k2');
     const inShadow = document.createElement('p');
     inShadow.setAttribute('data-cobrowse-mask', '');
     inShadow.textContent = 'CANARY-LATE-SHADOW-k3';
     shadow.appendChild(inShadow);
     $('shadow-host-masked').shadowRoot.getElementById('shadow-covered').textContent = 'CANARY-LATE-SHADOWHOST-k4';

     const frame = $('frame').contentDocument;
     frame.getElementById('frame-text').firstChild.nodeValue = 'CANARY-LATE-FRAME-k5';
     frame.getElementById('frame-input').setAttribute('placeholder', 'CANARY-LATE-FRAME-k6');
     const inFrame = frame.createElement('span');
     inFrame.textContent = 'CANARY-LATE-FRAME-k7';
     frame.getElementById('frame-masked-part').appendChild(inFrame);
     const whole = $('frame-masked').contentDocument;
     whole.getElementById('frame-public').textContent = 'CANARY-LATE-FRAMEWHOLE-k8';
     return null;";

/// Values typed, pasted, scripted and autofill-like, in every document;
/// the public strings last, so once they arrive everything above went.
const ENTER_VALUES: &str = "const $ = (id) => document.getElementById(id);
     // A paste: the paste event, then the insertion as the browser does it.
     const paste = (doc, el, text) => {
       el.focus();
       const data = new DataTransfer();
       data.setData('text/plain', text);
       el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
       doc.execCommand('insertText', false, text);
     };
     paste(document, $('pw'), 'CANARY-PASTE-PW-d8');
     paste(document, $('option-masked'), 'CANARY-PASTE-OPT-d9');
     paste(document, $('masked-notes'), 'CANARY-PASTE-NOTES-e1');
     const shadow = $('shadow-host').shadowRoot;
     paste(document, shadow.getElementById('shadow-input'), 'CANARY-PASTE-SHADOW-m1');
     paste(document, shadow.getElementById('shadow-pw'), 'CANARY-PASTE-SHADOWPW-m2');
     const frame = $('frame').contentDocument;
     paste(frame, frame.getElementById('frame-input'), 'CANARY-PASTE-FRAME-m3');
     paste(frame, frame.getElementById('frame-pw'), 'CANARY-PASTE-FRAMEPW-m4');
     $('masked-target').firstChild.nodeValue = 'CANARY-MOVED-LATER-f1';
     // Scripted and autofill-like values, with and without events.
     $('pw').value = 'CANARY-SCRIPT-PW-e2';
     $('pw').dispatchEvent(new Event('input', { bubbles: true }));
     $('pw').dispatchEvent(new Event('change', { bubbles: true }));
     $('masked-notes').value = 'CANARY-SCRIPT-NOTES-e3';
     $('masked-notes').dispatchEvent(new Event('change', { bubbles: true }));
     $('option-masked').value = 'CANARY-SCRIPT-OPT-e4';
     $('option-masked').dispatchEvent(new Event('input', { bubbles: true }));
     shadow.getElementById('shadow-pw').value = 'CANARY-AUTOFILL-SHADOWPW-m5';
     shadow.getElementById('shadow-pw').dispatchEvent(new Event('change', { bubbles: true }));
     frame.getElementById('frame-pw').value = 'CANARY-AUTOFILL-FRAMEPW-m6';
     frame.getElementById('frame-input').value = 'CANARY-AUTOFILL-FRAME-m7';
     frame.getElementById('frame-input').dispatchEvent(new Event('input', { bubbles: true }));
     // The positive controls.
     shadow.getElementById('shadow-public').textContent = 'PUBLIC-SHADOW-after';
     frame.getElementById('frame-public').textContent = 'PUBLIC-FRAME-after';
     $('control').textContent = 'PUBLIC-CONTROL-after';
     return null;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_reaches_a_frame_the_relay_redis_or_a_log_and_no_page_outlives_its_session(
) -> Result<()> {
    let fixtures = Fixtures::start().await?;
    let (visitor, console) = fixtures.live("privacy.html").await?;
    console
        .wait_for(
            "the snapshot in the mirror",
            &format!("{MIRROR}.getElementById('control')?.textContent === 'PUBLIC-CONTROL-before'"),
            WAIT,
        )
        .await?;
    let session = session_id(&visitor).context("no Welcome frame was recorded")?;
    let live = fixtures.check_redis("live")?;
    ensure!(
        live.iter().any(|e| e.name().contains(&session)),
        "no Redis key names the live session {session}: is the relay using this Redis?"
    );
    // The replay buffer holds the page as the agent sees it: the canary
    // search above read the very bytes that carry the page.
    ensure!(
        live.iter()
            .filter(|e| e.name().starts_with("cobrowse:replay:"))
            .any(|e| e
                .parts
                .iter()
                .any(|p| position(p, &encodings("PUBLIC-CONTROL-before")).is_some())),
        "the live session's replay buffer does not hold the page: the Redis check searched nothing"
    );

    step("planting canaries after the snapshot");
    visitor.eval::<Value>(PLANT_LATE).await?;
    step("typing, pasting and scripting values");
    visitor
        .type_into("#masked-input", "CANARY-TYPED-d5")
        .await?;
    visitor.type_into("#pw-later", "CANARY-TYPED-PW-d6").await?;
    visitor
        .type_into("#blocked-input", "CANARY-TYPED-BLOCKED-d7")
        .await?;
    visitor
        .type_into("#masked-editable", "CANARY-TYPED-EDITABLE-n9")
        .await?;
    visitor.eval::<Value>(ENTER_VALUES).await?;
    console
        .wait_for(
            "the last change in the mirror",
            &format!("{MIRROR}.getElementById('control')?.textContent === 'PUBLIC-CONTROL-after'"),
            WAIT,
        )
        .await?;
    for text in PAGE_TEXT {
        wait_sent(&visitor, text).await?;
    }

    step("waiting for the uploads and the public canvas");
    let deadline = Instant::now() + RESOURCES_WAIT;
    while !(tap_saw(&fixtures.tap.connections(), "PUBLIC-FILE-marker", true)
        && canvas_sizes(&visitor).contains(&(120, 60)))
    {
        ensure!(
            Instant::now() < deadline,
            "no upload of the public image reached the relay, or no picture of the public canvas was sent"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    console
        .wait_for(
            "the public image from the relay's cache in the mirror",
            &format!("(() => {{ const i = {MIRROR}.getElementById('public-img'); return i && i.complete && i.naturalWidth > 0; }})()"),
            RESOURCES_WAIT,
        )
        .await?;
    let uploaded = fixtures.check_redis("after the uploads")?;
    ensure!(
        uploaded.iter().any(|e| e.parts.iter().any(|p| position(
            p,
            &encodings("PUBLIC-FILE-marker")
        )
        .is_some())),
        "the uploaded public image is in no Redis value: the resource check searched nothing"
    );

    step("checking every WebSocket frame");
    let frames: Vec<Frame> = visitor
        .frames()
        .into_iter()
        .chain(console.frames())
        .collect();
    ensure!(
        frames.iter().any(|f| f.sent) && frames.iter().any(|f| !f.sent),
        "no frames were captured"
    );
    for control in [
        "PUBLIC-CONTROL-before",
        "PUBLIC-CONTROL-after",
        "PUBLIC-SHADOW-before",
        "PUBLIC-FRAME-before",
    ] {
        ensure!(
            leaks(&frames, control).is_some(),
            "the unmasked control {control} is in no frame: the frame capture (or shadow/frame capture) does not work"
        );
    }
    if let Some(frame) = leaks(&frames, CANARY) {
        let at = position(&frame.bytes, &encodings(CANARY)).unwrap_or(0);
        bail!(
            "a canary left the page in a {} frame: {:?}",
            if frame.sent { "sent" } else { "received" },
            excerpt(&frame.bytes, at)
        );
    }

    step("checking the canvases");
    let sizes = canvas_sizes(&visitor);
    ensure!(
        !sizes.contains(&(90, 45)),
        "the blocked canvas's pixels were sent: {sizes:?}"
    );

    step("checking every byte the relay saw over HTTP");
    let traffic = fixtures.tap.connections();
    ensure!(
        tap_saw(&traffic, "PUBLIC-CONTROL-after", true)
            && tap_saw(&traffic, "PUBLIC-CONTROL-after", false),
        "the tap did not see the page's public text both ways: it recorded nothing useful"
    );
    tap_free_of(&traffic, CANARY)?;

    check_mirror(&visitor, &console).await?;

    step("the visitor ends the session");
    click_ui(&visitor, "data-cobrowse-end").await?;
    wait_state(&console, "ended").await?;
    let deadline = Instant::now() + WAIT;
    loop {
        let left = fixtures.check_redis("after the end")?;
        let named: Vec<String> = left
            .iter()
            .map(Entry::name)
            .filter(|k| k.contains(&session))
            .collect();
        if named.is_empty() {
            // Nothing of the page outlives its session, the replay buffer
            // included.
            for text in PAGE_TEXT {
                redis_free_of(&left, text, "after the end")?;
            }
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "after the end these Redis keys still name session {session}: {named:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    step("checking the relay's log");
    let log = fixtures.relay.log();
    ensure!(
        position(&log, &encodings(&session)).is_some()
            && position(&log, &encodings("TRACE")).is_some(),
        "the relay's log has no trace line naming the session: the log capture does not work"
    );
    for needle in std::iter::once(CANARY).chain(PAGE_TEXT) {
        if let Some(at) = position(&log, &log_encodings(needle)) {
            bail!(
                "the relay's log holds {needle:?}: …{}…",
                excerpt(&log, at.saturating_sub(80))
            );
        }
    }
    fixtures.browser.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_past_max_nodes_shows_the_agent_a_notice_not_a_silently_wrong_page() -> Result<()> {
    let fixtures = Fixtures::start().await?;
    let (visitor, console) = fixtures
        .live_with("privacy.html", Some("{ maxNodes: 20 }"))
        .await?;
    let shown = console
        .wait_for(
            "the notice of the cut in the mirror",
            &format!("{MIRROR}.querySelector('[data-cobrowse-truncated]')?.textContent"),
            WAIT,
        )
        .await?;
    ensure!(
        shown
            .as_str()
            .is_some_and(|t| t.contains("only its first 20 nodes are shown")),
        "the notice says {shown}"
    );
    let visible: bool = console
        .eval(&format!(
            "const n = {MIRROR}.querySelector('[data-cobrowse-truncated]'); \
             const r = n.getBoundingClientRect(); return r.width > 100 && r.height > 10;"
        ))
        .await?;
    ensure!(visible, "the notice is not visible in the mirror");
    let mirrored: u32 = console
        .eval(&format!(
            "return {MIRROR}.getElementsByTagName('*').length;"
        ))
        .await?;
    ensure!(mirrored <= 22, "the mirror holds {mirrored} elements");
    let real: u32 = visitor
        .eval("return document.getElementsByTagName('*').length;")
        .await?;
    ensure!(
        real > 30,
        "the fixture page is too small for this test: {real}"
    );
    fixtures.browser.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_csp_without_wasm_unsafe_eval_gets_a_clear_console_message_and_a_working_page(
) -> Result<()> {
    let fixtures = Fixtures::start().await?;
    let (w, h) = VISITOR_SIZE;
    let url = format!("{}/privacy-csp.html", fixtures.site.url());
    let visitor = fixtures.browser.open(&url, w, h).await?;
    visitor
        .wait_for(
            "the loader under the page's CSP",
            "window.Cobrowse && document.readyState === 'complete'",
            WAIT,
        )
        .await?;
    step("starting under a CSP without 'wasm-unsafe-eval'");
    let outcome: String = visitor
        .eval(
            "const tries = [];
             for (let i = 0; i < 2; i++) {
               try { await window.Cobrowse.start(); tries.push('started'); }
               catch (e) { tries.push(String(e && e.message)); }
             }
             return tries.join(' | ');",
        )
        .await?;
    ensure!(
        outcome.matches("'wasm-unsafe-eval'").count() == 2,
        "start() did not reject with the CSP advice both times: {outcome}"
    );
    let errors: Vec<String> = visitor.eval("return window.consoleErrors;").await?;
    ensure!(
        errors.len() == 1
            && errors[0].contains("Content-Security-Policy")
            && errors[0].contains("'wasm-unsafe-eval'"),
        "the console should say once what to add to the CSP: {errors:?}"
    );
    step("the page still works, and nothing was sent");
    visitor
        .eval::<Value>("document.getElementById('more').click(); return null;")
        .await?;
    let state: Value = visitor
        .eval(
            "return [document.getElementById('count').textContent, \
                     document.querySelectorAll('cobrowse-ui').length];",
        )
        .await?;
    ensure!(
        state == serde_json::json!(["1", 0]),
        "the page is broken or shows a half-started UI: {state}"
    );
    ensure!(
        visitor.frames().is_empty(),
        "a WebSocket was opened without the SDK"
    );
    fixtures.browser.close().await;
    Ok(())
}

/// The mirror shows same-length placeholders and same-size empty boxes.
async fn check_mirror(visitor: &Tab, console: &Tab) -> Result<()> {
    step("checking the mirror's placeholders and boxes");
    let text = "getElementById('masked-text').textContent";
    let real: String = visitor.eval(&format!("return document.{text};")).await?;
    let shown: String = console.eval(&format!("return {MIRROR}.{text};")).await?;
    ensure!(
        real.chars().count() == shown.chars().count()
            && shown.chars().all(|c| c == '*' || c.is_whitespace())
            && shown
                .chars()
                .zip(real.chars())
                .all(|(s, r)| s.is_whitespace() == r.is_whitespace()),
        "the mirror shows {shown:?} for the masked {real:?}"
    );
    let moved: String = console
        .eval(&format!(
            "return {MIRROR}.getElementById('masked-target').textContent;"
        ))
        .await?;
    ensure!(
        moved == "*".repeat("CANARY-MOVED-LATER-f1".len()),
        "the moved text shows as {moved:?}"
    );
    for id in ["blocked", "blocked-inline"] {
        let size = format!(
            "const r = (doc) => {{ const e = doc.getElementById('{id}'); const b = e.getBoundingClientRect(); \
               return [b.width, b.height, e.childNodes.length, e.hasAttribute('data-cobrowse-blocked')]; }};"
        );
        let want: Value = visitor.eval(&format!("{size} return r(document);")).await?;
        let got: Value = console.eval(&format!("{size} return r({MIRROR});")).await?;
        let num = |v: &Value, i: usize| v[i].as_f64().unwrap_or(-1.0);
        ensure!(
            (num(&want, 0) - num(&got, 0)).abs() <= 1.0
                && (num(&want, 1) - num(&got, 1)).abs() <= 1.0
                && num(&want, 0) > 0.0,
            "#{id}: the visitor's box is {want}, the mirror's {got}"
        );
        ensure!(
            got[2] == 0 && got[3] == true,
            "#{id} in the mirror is not an empty blocked box: {got}"
        );
    }
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots");
    visitor
        .screenshot(&shots.join("privacy-visitor.png"))
        .await?;
    console
        .screenshot(&shots.join("privacy-console.png"))
        .await?;
    Ok(())
}
