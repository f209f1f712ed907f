//! The foundation issue's promises, end to end: the visitor's page mirrored
//! live into the agent's iframe, in order, with typing, and with the password
//! never leaving the page.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use e2e::scenario::*;
use protocol::{decode, Event, ToAgent};
use serde_json::Value;

/// Decodes every event the console received, in arrival order.
fn received_events(console: &e2e::browser::Tab) -> Vec<(u64, Event)> {
    console
        .frames()
        .iter()
        .filter(|f| !f.sent)
        .filter_map(|f| match decode::<ToAgent>(&f.bytes) {
            Ok(ToAgent::Event(frame)) => Some((frame.seq.0, frame.event().ok()?)),
            _ => None,
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_page_is_mirrored_follows_100_changes_in_order_and_typing_and_ends() -> Result<()> {
    let world = World::start().await?;
    let (visitor, console) = live_session(&world, "apply.html").await?;

    // The first snapshot: same structure, text, attributes and form state.
    assert_mirrored(&visitor, &console).await?;
    visitor
        .screenshot(&world.screenshot_path("form-visitor"))
        .await?;
    console
        .screenshot(&world.screenshot_path("form-console"))
        .await?;

    // Record, inside the console, every value of the counter as the mirror
    // shows it, to see the order in which changes were applied.
    console
        .eval::<Value>(
            "const doc = document.querySelector('iframe#cobrowse-frame').contentDocument;
             window.e2eSeen = [];
             new MutationObserver(() => {
               const c = doc.getElementById('e2e-counter');
               if (c) window.e2eSeen.push(Number(c.getAttribute('data-last')));
             }).observe(doc, { subtree: true, childList: true, attributes: true, characterData: true });
             return null;",
        )
        .await?;

    // 100 changes, each in its own task: additions, attribute and text
    // changes, and removals that make the order matter.
    visitor
        .eval::<Value>(
            "const main = document.querySelector('main');
             const list = document.createElement('ol'); list.id = 'e2e-list'; main.appendChild(list);
             const counter = document.createElement('p'); counter.id = 'e2e-counter'; main.appendChild(counter);
             for (let i = 0; i < 100; i++) {
               const li = document.createElement('li');
               li.textContent = 'change ' + i; li.dataset.i = String(i);
               list.appendChild(li);
               counter.setAttribute('data-last', String(i));
               counter.textContent = 'last change ' + i;
               if (i % 10 === 9) list.removeChild(list.firstElementChild);
               await new Promise(r => setTimeout(r, 5));
             }
             return null;",
        )
        .await?;
    console
        .wait_for(
            "the 100th change in the mirror",
            "document.querySelector('iframe#cobrowse-frame').contentDocument.getElementById('e2e-counter')?.getAttribute('data-last') === '99'",
            WAIT,
        )
        .await?;
    assert_mirrored(&visitor, &console).await?;
    let seen: Vec<i64> = console.eval("return window.e2eSeen;").await?;
    ensure!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "changes applied out of order: {seen:?}"
    );
    ensure!(
        seen.last() == Some(&99),
        "last change not applied: {seen:?}"
    );
    let distinct = seen.iter().collect::<std::collections::BTreeSet<_>>().len();
    ensure!(
        distinct >= 5,
        "changes arrived all at once, not live: {seen:?}"
    );

    // On the wire the console got events numbered 1, 2, 3… with no gap.
    let seqs: Vec<u64> = received_events(&console).iter().map(|(s, _)| *s).collect();
    ensure!(
        !seqs.is_empty(),
        "the console's WebSocket frames were not captured"
    );
    ensure!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "event sequence numbers have gaps or repeats: {seqs:?}"
    );

    // Typing shows up in the mirror.
    visitor.type_into("#name", "Jane Roe").await?;
    console
        .wait_for(
            "the typed name in the mirror",
            "document.querySelector('iframe#cobrowse-frame').contentDocument.getElementById('name').value === 'Jane Roe'",
            WAIT,
        )
        .await?;

    // The password: its length may show, its text never leaves the page.
    let secret = "Tr0ub4dor&3-e2e";
    visitor.type_into("#password", secret).await?;
    console
        .wait_for(
            "the masked password's length in the mirror",
            &format!(
                "document.querySelector('iframe#cobrowse-frame').contentDocument.getElementById('password').value.length === {}",
                secret.len()
            ),
            WAIT,
        )
        .await?;
    let mirrored: String = console
        .eval("return document.querySelector('iframe#cobrowse-frame').contentDocument.getElementById('password').value;")
        .await?;
    ensure!(mirrored != secret, "the mirror holds the real password");
    visitor.type_into("#notes", "after the password").await?;
    assert_mirrored(&visitor, &console).await?;

    let frames: Vec<_> = visitor
        .frames()
        .into_iter()
        .chain(console.frames())
        .collect();
    // The capture itself works: the typed name is in the frames...
    ensure!(
        frames.iter().any(|f| contains(&f.bytes, b"Jane Roe")),
        "the typed name is in no captured frame: the frame capture is not working"
    );
    // ...and the password in none, in any encoding a frame might use.
    let utf16: Vec<u8> = secret.encode_utf16().flat_map(u16::to_le_bytes).collect();
    for frame in &frames {
        ensure!(
            !contains(&frame.bytes, secret.as_bytes()) && !contains(&frame.bytes, &utf16),
            "the password left the page in a {} frame",
            if frame.sent { "sent" } else { "received" }
        );
    }
    visitor
        .screenshot(&world.screenshot_path("typed-visitor"))
        .await?;
    console
        .screenshot(&world.screenshot_path("typed-console"))
        .await?;

    // The visitor ends the session: the console says so.
    click_ui(&visitor, "data-cobrowse-end").await?;
    wait_state(&console, "ended").await?;
    let status: String = console
        .eval("return document.body.innerText;")
        .await
        .context("console text")?;
    ensure!(
        status.contains("ended"),
        "the console does not say the session ended: {status}"
    );
    visitor
        .wait_for(
            "<cobrowse-ui> to be gone",
            "!document.querySelector('cobrowse-ui')",
            WAIT,
        )
        .await?;
    console
        .screenshot(&world.screenshot_path("ended-console"))
        .await?;
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_page_with_live_feed_svg_and_images_stays_in_sync() -> Result<()> {
    let world = World::start().await?;
    let (visitor, console) = live_session(&world, "").await?;
    assert_mirrored(&visitor, &console).await?;
    // The page's own feed changes every 3 s; the mirror follows.
    let count = "return document.getElementById('claims-count').textContent;";
    let before: String = visitor.eval(count).await?;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let after: String = visitor.eval(count).await?;
    ensure!(before != after, "the demo feed did not change ({before})");
    assert_mirrored(&visitor, &console).await?;
    visitor
        .screenshot(&world.screenshot_path("home-visitor"))
        .await?;
    console
        .screenshot(&world.screenshot_path("home-console"))
        .await?;
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_leaves_the_console_ended_and_shows_nothing() -> Result<()> {
    let world = World::start().await?;
    let visitor = world.visitor("apply.html").await?;
    let code = start_and_read_code(&visitor).await?;
    let console = world.console(&code, "view").await?;
    wait_state(&console, "waiting").await?;
    click_ui(&visitor, "data-cobrowse-decline").await?;
    wait_state(&console, "ended").await?;
    let events = received_events(&console);
    ensure!(
        events.is_empty(),
        "the console got page events without consent: {events:?}"
    );
    let mirrored: Value = mirror_dom(&console).await?;
    ensure!(
        !mirrored.to_string().contains("Apply for home cover"),
        "the declined page shows in the console"
    );
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_code_is_a_clear_message_not_a_blank_screen() -> Result<()> {
    let world = World::start().await?;
    let console = world.console("000000", "view").await?;
    wait_state(&console, "ended").await?;
    let text: String = console.eval("return document.body.innerText;").await?;
    ensure!(
        text.to_lowercase().contains("code"),
        "the console does not explain the wrong code: {text}"
    );
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_snapshot_is_timed_in_the_consoles_performance_timeline() -> Result<()> {
    let world = World::start().await?;
    let visitor = world.visitor("index.html").await?;
    // ~400 KB of text: a snapshot frame over the console's 256 KB mark.
    visitor
        .eval::<Value>(
            "const s = document.createElement('section'); s.id = 'e2e-bulk'; \
             for (let i = 0; i < 3000; i++) { const p = document.createElement('p'); \
             p.textContent = `Paragraph ${i}: ` + 'lorem ipsum dolor sit amet '.repeat(4); \
             s.append(p); } document.body.append(s); return null;",
        )
        .await?;
    let code = start_and_read_code(&visitor).await?;
    let console = join_and_accept(&world, &visitor, &code, "view").await?;
    let last = "document.querySelector('iframe#cobrowse-frame').contentDocument\
                .querySelector('#e2e-bulk p:last-child')";
    console
        .wait_for(
            "the bulk's last paragraph in the mirror",
            &format!("({last}?.textContent || '').startsWith('Paragraph 2999')"),
            WAIT,
        )
        .await?;
    let timed = "return performance.getEntriesByName('cobrowse:large-frame').map(m => m.duration);";
    let durations: Vec<f64> = console.eval(timed).await?;
    ensure!(
        durations.len() == 1 && durations[0] > 0.0,
        "one measure with a duration for the one large frame, not {durations:?}"
    );

    step("a small change is applied without a measure of its own");
    visitor
        .eval::<Value>(
            "document.querySelector('#e2e-bulk p').textContent = 'changed after'; return null;",
        )
        .await?;
    let first = "document.querySelector('iframe#cobrowse-frame').contentDocument\
                 .querySelector('#e2e-bulk p')";
    console
        .wait_for(
            "the change in the mirror",
            &format!("{first}?.textContent === 'changed after'"),
            WAIT,
        )
        .await?;
    let after: Vec<f64> = console.eval(timed).await?;
    ensure!(after.len() == 1, "small frames are not timed: {after:?}");
    world.stop().await;
    Ok(())
}
