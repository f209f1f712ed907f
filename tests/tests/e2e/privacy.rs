//! Issue 6's masking promise, end to end: on a page that plants unique
//! canary strings in every place a masked or blocked element's data could
//! leak from (before and after the snapshot, typed, pasted, set by script,
//! moved), no WebSocket frame the visitor or the console sent or received
//! holds a canary, while an unmasked control string does get through; and
//! the mirror shows same-length placeholders and same-size empty boxes.
//!
//! Serves `tests/fixtures` (the canary page `privacy.html`) instead of the
//! demo site. Not covered yet: shadow roots, iframes, CSS `content:`,
//! canvas, HTTP traffic, Redis values and logs (the SDK captures none of the
//! first four yet).

use std::path::PathBuf;

use anyhow::{ensure, Context, Result};
use e2e::{
    browser::{Browser, Frame, Tab},
    scenario::*,
    services::{Binaries, RelayOptions, Service},
};
use serde_json::Value;

/// The relay, a site serving `tests/fixtures`, and a browser.
struct Fixtures {
    _relay: Service,
    relay_url: String,
    site: Service,
    browser: Browser,
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
        let relay = bins.start_relay(&RelayOptions {
            static_dir: dist,
            dev_agent_token: Some(TOKEN.into()),
            ..Default::default()
        })?;
        let site = bins.start_site(0, &root.join("fixtures"), relay.url())?;
        let browser = Browser::launch().await?;
        Ok(Fixtures {
            relay_url: relay.url().to_owned(),
            _relay: relay,
            site,
            browser,
        })
    }

    async fn live(&self, page: &str) -> Result<(Tab, Tab)> {
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
        let code = start_and_read_code(&visitor).await?;
        step(&format!("agent joins with code {code}"));
        let (w, h) = AGENT_SIZE;
        let console_url = format!(
            "{}/agent/#token={TOKEN}&code={code}&mode=view",
            self.relay_url
        );
        let console = self.browser.open(&console_url, w, h).await?;
        wait_state(&console, "waiting").await?;
        click_ui(&visitor, "data-cobrowse-accept").await?;
        wait_state(&console, "live").await?;
        Ok((visitor, console))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The needle as UTF-8 and as UTF-16 (little and big endian): a frame must
/// hold it in none of the encodings a string could take.
fn encodings(s: &str) -> [Vec<u8>; 3] {
    [
        s.as_bytes().to_vec(),
        s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        s.encode_utf16().flat_map(u16::to_be_bytes).collect(),
    ]
}

fn leaks<'a>(frames: &'a [Frame], needle: &str) -> Option<&'a Frame> {
    let forms = encodings(needle);
    frames
        .iter()
        .find(|f| forms.iter().any(|n| contains(&f.bytes, n)))
}

const MIRROR: &str = "document.querySelector('iframe#cobrowse-frame').contentDocument";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_leaves_the_page_and_the_mirror_shows_placeholders_and_boxes() -> Result<()> {
    let fixtures = Fixtures::start().await?;
    let (visitor, console) = fixtures.live("privacy.html").await?;
    console
        .wait_for(
            "the snapshot in the mirror",
            &format!("{MIRROR}.getElementById('control')?.textContent === 'PUBLIC-CONTROL-before'"),
            WAIT,
        )
        .await?;

    step("planting canaries after the snapshot");
    visitor
        .eval::<Value>(
            "const $ = (id) => document.getElementById(id);
             const input = $('masked-input');
             input.setAttribute('title', 'CANARY-LATE-TITLE-c1');
             input.setAttribute('aria-label', 'CANARY-LATE-ARIA-c2');
             input.setAttribute('data-customer', 'CANARY-LATE-DATA-c3');
             input.setAttribute('placeholder', 'CANARY-LATE-PLACEHOLDER-c4');
             input.setAttribute('value', 'CANARY-LATE-VALUEATTR-c5');
             $('masked-img').setAttribute('alt', 'CANARY-LATE-ALT-c6');
             $('masked-link').setAttribute('href', '/account?id=CANARY-LATE-HREFQ-c7');
             $('masked-text').firstChild.nodeValue = 'CANARY-LATE-TEXT-c8 stays masked';
             const added = document.createElement('p');
             added.title = 'CANARY-LATE-ADDEDTITLE-c9';
             added.textContent = 'CANARY-LATE-ADDED-d1';
             $('masked').appendChild(added);
             $('blocked').firstChild.nodeValue = 'CANARY-LATE-BLOCKED-d2';
             $('blocked').setAttribute('title', 'CANARY-LATE-BLOCKTITLE-d3');
             const pwLater = $('pw-later');
             pwLater.setAttribute('type', 'password');
             pwLater.setAttribute('value', 'CANARY-LATE-PWATTR-d4');
             // A text node moved into a masked parent must be re-sent
             // masked (it was public until now, so it is a PUBLIC string);
             // its later changes stay masked too (below).
             $('masked-target').appendChild($('mover').firstChild);
             return null;",
        )
        .await?;

    step("typing, pasting and scripting values");
    visitor
        .type_into("#masked-input", "CANARY-TYPED-d5")
        .await?;
    visitor.type_into("#pw-later", "CANARY-TYPED-PW-d6").await?;
    visitor
        .type_into("#blocked-input", "CANARY-TYPED-BLOCKED-d7")
        .await?;
    visitor
        .eval::<Value>(
            "const $ = (id) => document.getElementById(id);
             // A paste: the paste event, then the insertion as the browser does it.
             for (const [id, text] of [['pw', 'CANARY-PASTE-PW-d8'], ['option-masked', 'CANARY-PASTE-OPT-d9'], ['masked-notes', 'CANARY-PASTE-NOTES-e1']]) {
               const el = $(id);
               el.focus();
               const data = new DataTransfer();
               data.setData('text/plain', text);
               el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
               document.execCommand('insertText', false, text);
             }
             $('masked-target').firstChild.nodeValue = 'CANARY-MOVED-LATER-f1';
             // Scripted and autofill-like values, with and without events.
             $('pw').value = 'CANARY-SCRIPT-PW-e2';
             $('pw').dispatchEvent(new Event('input', { bubbles: true }));
             $('pw').dispatchEvent(new Event('change', { bubbles: true }));
             $('masked-notes').value = 'CANARY-SCRIPT-NOTES-e3';
             $('masked-notes').dispatchEvent(new Event('change', { bubbles: true }));
             $('option-masked').value = 'CANARY-SCRIPT-OPT-e4';
             $('option-masked').dispatchEvent(new Event('input', { bubbles: true }));
             // Last: the positive control, so once the mirror shows it
             // everything above has been sent.
             $('control').textContent = 'PUBLIC-CONTROL-after';
             return null;",
        )
        .await?;
    console
        .wait_for(
            "the last change in the mirror",
            &format!("{MIRROR}.getElementById('control')?.textContent === 'PUBLIC-CONTROL-after'"),
            WAIT,
        )
        .await?;

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
    for control in ["PUBLIC-CONTROL-before", "PUBLIC-CONTROL-after"] {
        ensure!(
            leaks(&frames, control).is_some(),
            "the unmasked control {control} is in no frame: the frame capture does not work"
        );
    }
    // Every canary starts with this word: one search finds them all.
    if let Some(frame) = leaks(&frames, "CANARY") {
        let at = frame
            .bytes
            .windows(6)
            .position(|w| w == b"CANARY")
            .unwrap_or(0);
        let end = (at + 40).min(frame.bytes.len());
        anyhow::bail!(
            "a canary left the page in a {} frame: {:?}",
            if frame.sent { "sent" } else { "received" },
            String::from_utf8_lossy(&frame.bytes[at..end])
        );
    }

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
    visitor
        .screenshot(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/e2e-screenshots/privacy-visitor.png"),
        )
        .await?;
    console
        .screenshot(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/e2e-screenshots/privacy-console.png"),
        )
        .await?;
    fixtures.browser.close().await;
    Ok(())
}
