//! The visitor's panel over a fullscreen page. While an element of the page
//! is fullscreen the browser draws only it and the top layer: without care
//! the panel saying an agent watches (and its End button) and the frame
//! around the page would vanish, and the visitor would not know the session
//! goes on. They must stay in sight, the fullscreen page must stay usable
//! (nothing made inert), and all is as before once fullscreen ends.
//!
//! Chromium hit-tests nothing outside the fullscreen element, top layer
//! included, so End is seen but reached after leaving fullscreen (Escape);
//! this test checks what the visitor sees by the screen's pixels.

use anyhow::{ensure, Context, Result};
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use e2e::browser::Tab;
use e2e::pixels::Image;
use e2e::scenario::*;

use crate::modal::{click_at, click_middle};

/// The page's own fullscreen stage: a dark box with a button counting clicks.
const STAGE: &str = "\
    const s = document.createElement('div'); s.id = 'stage'; \
    s.style.cssText = 'background:#123;color:#fff;padding:40px'; \
    s.innerHTML = '<p>Slides</p><button id=\"next\" type=\"button\" style=\"font-size:24px\">Next slide</button>'; \
    window.nextClicks = 0; \
    s.querySelector('button').addEventListener('click', () => { window.nextClicks += 1; }); \
    document.body.append(s); return null;";

/// `<cobrowse-ui>` is in the top layer (an open popover).
const HOST_ON_TOP: &str =
    "document.querySelector('cobrowse-ui')?.matches(':popover-open') === true";

/// The middle of the panel's End button, in viewport px.
async fn end_button(visitor: &Tab) -> Result<(f64, f64)> {
    let [x, y]: [f64; 2] = visitor
        .eval(&format!(
            "const r = ({}).getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2];",
            ui("[data-cobrowse-end]")
        ))
        .await?;
    Ok((x, y))
}

/// Whether the screen shows the End button's red at its middle (the stage
/// there is dark blue).
async fn end_button_in_sight(visitor: &Tab) -> Result<bool> {
    let (x, y) = end_button(visitor).await?;
    let png = visitor
        .screenshot_region(x - 2.0, y - 2.0, 4.0, 4.0)
        .await?;
    let [r, g, b, _] = Image::decode(&png)?
        .pixel_at(2, 2)
        .context("the region has its middle pixel")?;
    Ok(r > 180 && g < 120 && b < 120)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_stays_in_sight_over_a_fullscreen_page() -> Result<()> {
    let world = World::start().await?;
    let (visitor, console) = live_session(&world, "apply.html").await?;
    let _: serde_json::Value = visitor.eval(STAGE).await?;
    ensure!(
        !visitor
            .eval::<bool>(&format!("return {HOST_ON_TOP};"))
            .await?,
        "without fullscreen the panel stays out of the top layer"
    );
    ensure!(
        end_button_in_sight(&visitor).await?,
        "the visitor sees End before fullscreen"
    );

    step("the page puts its stage fullscreen (a user gesture, as a click would give)");
    let request = EvaluateParams::builder()
        .expression("document.getElementById('stage').requestFullscreen().then(() => true)")
        .await_promise(true)
        .user_gesture(true)
        .build()
        .map_err(anyhow::Error::msg)?;
    visitor
        .page
        .execute(request)
        .await
        .context("requestFullscreen")?;
    visitor
        .wait_for(
            "the stage to be fullscreen",
            "document.fullscreenElement?.id === 'stage'",
            WAIT,
        )
        .await?;
    visitor
        .wait_for("the panel over the fullscreen stage", HOST_ON_TOP, WAIT)
        .await?;
    visitor
        .screenshot(&world.screenshot_path("fullscreen-visitor-live"))
        .await?;
    ensure!(
        end_button_in_sight(&visitor).await?,
        "the visitor sees the panel's End over the fullscreen stage"
    );

    step("the fullscreen page stays usable: its button takes a real click");
    click_middle(
        &visitor,
        "the stage's button",
        "document.getElementById('next')",
    )
    .await?;
    visitor
        .wait_for(
            "the stage's button to work",
            "window.nextClicks === 1",
            WAIT,
        )
        .await?;
    let mirrored: serde_json::Value = console
        .eval(
            "const d = document.querySelector('iframe#cobrowse-frame').contentDocument; \
             return [!!d.getElementById('stage'), !!d.querySelector('cobrowse-ui')];",
        )
        .await?;
    ensure!(
        mirrored == serde_json::json!([true, false]),
        "the agent sees the stage and never the panel: {mirrored}"
    );

    step("leaving fullscreen puts the panel back; End works with the mouse");
    let _: serde_json::Value = visitor
        .eval("await document.exitFullscreen(); return null;")
        .await?;
    visitor
        .wait_for(
            "the host to leave the top layer",
            "!document.fullscreenElement && !document.querySelector('cobrowse-ui').hasAttribute('popover')",
            WAIT,
        )
        .await?;
    let (x, y) = end_button(&visitor).await?;
    click_at(&visitor, x, y).await?;
    wait_state(&console, "ended").await?;
    world.stop().await;
    Ok(())
}
