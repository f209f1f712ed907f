//! A session that survives the visitor's navigation (issue 5): the visitor
//! follows a link and reloads, the script on each new page continues the
//! session with no new code and no new consent, and the console follows
//! with the new page — in order, nothing applied twice.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use e2e::browser::Tab;
use e2e::scenario::*;
use protocol::{decode, ToAgent};
use serde_json::Value;

/// The sequence numbers of every event the console received, in order.
fn received_seqs(console: &Tab) -> Vec<u64> {
    console
        .frames()
        .iter()
        .filter(|f| !f.sent)
        .filter_map(|f| match decode::<ToAgent>(&f.bytes) {
            Ok(ToAgent::Event(frame)) => Some(frame.seq.0),
            _ => None,
        })
        .collect()
}

async fn console_shows(console: &Tab, path: &str) -> Result<()> {
    console
        .wait_for(
            &format!("the console to show {path}"),
            &format!(
                "document.getElementById('cobrowse-page-url')?.textContent.endsWith({path:?}) && \
                 document.documentElement.getAttribute('data-cobrowse-state') === 'live'"
            ),
            WAIT,
        )
        .await
        .map(drop)
}

/// What the visitor's panel offers: a code to read out means a new
/// session was started, which a resume must never do.
async fn visitor_panel_text(visitor: &Tab) -> Result<String> {
    visitor
        .eval(
            "return Array.from(document.querySelector('cobrowse-ui')?.shadowRoot?.children || []) \
               .filter(e => e.localName !== 'style').map(e => e.innerText).join(' ');",
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_follows_the_visitor_to_another_page_and_through_a_reload() -> Result<()> {
    let world = World::start().await?;
    let (visitor, console) = live_session(&world, "apply.html").await?;

    step("the visitor follows a link to the home page");
    visitor
        .eval::<Value>("document.querySelector('nav a[href=\"index.html\"]').click(); return null;")
        .await?;
    visitor
        .wait_for(
            "the home page with the SDK",
            "location.pathname.endsWith('/index.html') && document.readyState === 'complete' && window.Cobrowse",
            WAIT,
        )
        .await?;
    console_shows(&console, "/index.html").await?;
    assert_mirrored(&visitor, &console).await?;
    let panel = visitor_panel_text(&visitor).await?;
    ensure!(
        !regex_like_code(&panel) && panel.contains("viewing"),
        "the new page's panel should say who is watching, without a code to read out: {panel:?}"
    );

    step("a change on the new page reaches the console");
    visitor
        .eval::<Value>(
            "const p = document.createElement('p'); p.id = 'after-move'; p.textContent = 'moved along'; \
             document.querySelector('main').appendChild(p); return null;",
        )
        .await?;
    console
        .wait_for(
            "the new page's change in the console",
            "document.querySelector('iframe#cobrowse-frame').contentDocument.getElementById('after-move')",
            WAIT,
        )
        .await?;

    step("the visitor reloads");
    visitor.page.reload().await?;
    visitor
        .wait_for(
            "the reloaded page",
            "document.readyState === 'complete' && window.Cobrowse",
            WAIT,
        )
        .await?;
    console
        .wait_for(
            "the reloaded page in the console (without the removed change)",
            "!document.querySelector('iframe#cobrowse-frame').contentDocument.getElementById('after-move') \
             && document.documentElement.getAttribute('data-cobrowse-state') === 'live'",
            WAIT,
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_mirrored(&visitor, &console).await?;

    step("the console applied every event once, in order");
    let seqs = received_seqs(&console);
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    ensure!(
        sorted == seqs,
        "events arrived out of order or twice: {seqs:?}"
    );
    ensure!(seqs.len() >= 3, "too few events: {seqs:?}");

    step("the visitor ends the session on the third page; the console ends");
    click_ui(&visitor, "data-cobrowse-end").await?;
    wait_state(&console, "ended").await?;
    visitor.page.reload().await?;
    visitor
        .wait_for(
            "the page after the end",
            "document.readyState === 'complete' && window.Cobrowse",
            WAIT,
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ui: bool = visitor
        .eval("return !!document.querySelector('cobrowse-ui');")
        .await?;
    ensure!(!ui, "an ended session came back after a reload");
    world.stop().await;
    Ok(())
}

/// Whether `text` shows a 6-digit join code.
fn regex_like_code(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() == 6)
}

/// Whether `bytes` is a visitor's hello that continues a session.
fn is_resume_hello(bytes: &[u8]) -> bool {
    matches!(
        protocol::decode_hello(bytes),
        Ok(protocol::Hello::Visitor(protocol::VisitorHello {
            resume: Some(_),
            ..
        }))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_network_resumes_the_session_with_nothing_applied_twice() -> Result<()> {
    let world = World::start_behind_proxy().await?;
    let (visitor, console) = live_session(&world, "apply.html").await?;

    step("the visitor's network drops: its socket closes, the relay's stays open");
    let proxy = world.proxy.as_ref().context("the proxy")?;
    proxy
        .cut_until_reconnected(
            &visitor,
            is_resume_hello,
            "the visitor (with its resume token)",
        )
        .await?;

    step("a change after the drop reaches the console");
    visitor
        .eval::<Value>(
            "const p = document.createElement('p'); p.id = 'after-drop'; p.textContent = 'back online'; \
             document.querySelector('main').appendChild(p); return null;",
        )
        .await?;
    console
        .wait_for(
            "the change made after the drop",
            "document.querySelector('iframe#cobrowse-frame').contentDocument.getElementById('after-drop')",
            WAIT,
        )
        .await?;
    assert_mirrored(&visitor, &console).await?;
    let seqs = received_seqs(&console);
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    ensure!(
        sorted == seqs,
        "events arrived out of order or twice: {seqs:?}"
    );
    ensure!(
        console_state(&console).await? == "live",
        "the console left the session"
    );
    world.stop().await;
    Ok(())
}
