//! The agent's console whose own network drops (issue 9): it rejoins its
//! place with its rejoin token, keeps the mirrored page on screen (no new
//! snapshot), shows "Reconnecting…" meanwhile, and gets every event once,
//! in order.

use anyhow::{ensure, Context, Result};
use e2e::proxy::Proxy;
use e2e::scenario::*;
use protocol::{decode, Hello, ToAgent};
use serde_json::Value;

fn is_rejoin_hello(bytes: &[u8]) -> bool {
    matches!(protocol::decode_hello(bytes), Ok(Hello::AgentRejoin(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_whose_network_drops_rejoins_and_keeps_the_page() -> Result<()> {
    let world = World::start().await?;
    // The console reaches the relay through a proxy the test can cut; the
    // visitor's page talks to the relay directly.
    let proxy = Proxy::start(world.relay.host()).await?;
    step("visitor opens /apply.html");
    let visitor = world.visitor("apply.html").await?;
    let code = start_and_read_code(&visitor).await?;
    step("agent joins through the proxy");
    let (w, h) = AGENT_SIZE;
    let console = world
        .browser
        .open_private(
            &format!("{}/agent/#token={TOKEN}&code={code}&mode=view", proxy.url()),
            w,
            h,
        )
        .await?;
    wait_state(&console, "waiting").await?;
    click_ui(&visitor, "data-cobrowse-accept").await?;
    wait_state(&console, "live").await?;
    assert_mirrored(&visitor, &console).await?;
    // A mark on the mirrored document: a new snapshot would replace it.
    console
        .eval::<Value>(
            "document.querySelector('iframe#cobrowse-frame').contentDocument.__kept = true; return null;",
        )
        .await?;

    // Notes whether the console ever said it was reconnecting (it may be
    // back before a poll would see it).
    console
        .eval::<Value>(
            "window.__sawReconnecting = false; \
             new MutationObserver(() => { \
               if (document.documentElement.getAttribute('data-cobrowse-connection') === 'reconnecting') \
                 window.__sawReconnecting = true; \
             }).observe(document.documentElement, { attributes: true }); return null;",
        )
        .await?;

    step("the console's network drops");
    proxy
        .cut_until_reconnected(
            &console,
            is_rejoin_hello,
            "the console (with its rejoin token)",
        )
        .await?;

    step("a change on the visitor's page reaches the rejoined console");
    visitor
        .eval::<Value>(
            "const p = document.createElement('p'); p.id = 'after-rejoin'; p.textContent = 'still here'; \
             document.querySelector('main').appendChild(p); return null;",
        )
        .await?;
    console
        .wait_for(
            "the change made after the rejoin",
            "document.querySelector('iframe#cobrowse-frame').contentDocument.getElementById('after-rejoin')",
            WAIT,
        )
        .await?;
    ensure!(
        console_state(&console).await? == "live",
        "the console is live again"
    );
    let connection: String = console
        .eval("return document.documentElement.getAttribute('data-cobrowse-connection');")
        .await?;
    ensure!(connection == "ok", "connection attribute: {connection}");
    let said: bool = console
        .eval("return window.__sawReconnecting === true;")
        .await?;
    ensure!(said, "the console never showed that it was reconnecting");
    let kept: bool = console
        .eval("return document.querySelector('iframe#cobrowse-frame').contentDocument.__kept === true;")
        .await?;
    ensure!(kept, "the mirrored page was replaced by a new snapshot");
    assert_mirrored(&visitor, &console).await?;

    let seqs: Vec<u64> = console
        .frames()
        .iter()
        .filter(|f| !f.sent)
        .filter_map(|f| match decode::<ToAgent>(&f.bytes) {
            Ok(ToAgent::Event(frame)) => Some(frame.seq.0),
            _ => None,
        })
        .collect();
    let first = *seqs.first().context("events")?;
    let applied: Vec<u64> = seqs.iter().copied().filter(|s| *s >= first).collect();
    ensure!(
        applied.windows(2).all(|w| w[1] == w[0] + 1),
        "every event once, in order, over both sockets: {seqs:?}"
    );
    world.stop().await;
    Ok(())
}
