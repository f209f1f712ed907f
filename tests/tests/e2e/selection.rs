//! Text selection both ways (issue 5), end to end with real mouse drags in
//! two windows of different sizes: the visitor's selection shows in the
//! console's mirror over the same text, the agent's selection shows on the
//! visitor's page over the same text, and an agent's drag in shared mode is
//! a selection, never a click on the visitor's page.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use chromiumoxide::cdp::browser_protocol::input::{
    DispatchMouseEventParams, DispatchMouseEventType, MouseButton,
};
use chromiumoxide::layout::Point as ScreenPoint;
use e2e::browser::Tab;
use e2e::scenario::*;
use serde_json::Value;

const FRAME: &str = "document.querySelector('iframe#cobrowse-frame')";

/// Presses the left button at `from`, moves in steps to `to` and lets go:
/// a person selecting text.
async fn drag(tab: &Tab, from: ScreenPoint, to: ScreenPoint) -> Result<()> {
    let event = |kind, at: ScreenPoint, buttons| {
        DispatchMouseEventParams::builder()
            .r#type(kind)
            .x(at.x)
            .y(at.y)
            .button(MouseButton::Left)
            .buttons(buttons)
            .click_count(1)
            .build()
            .map_err(anyhow::Error::msg)
    };
    tab.page.move_mouse(from).await?;
    tab.page
        .execute(event(DispatchMouseEventType::MousePressed, from, 1)?)
        .await?;
    for i in 1..=6 {
        let f = f64::from(i) / 6.0;
        let at = ScreenPoint {
            x: from.x + (to.x - from.x) * f,
            y: from.y + (to.y - from.y) * f,
        };
        tab.page
            .execute(event(DispatchMouseEventType::MouseMoved, at, 1)?)
            .await?;
    }
    tab.page
        .execute(event(DispatchMouseEventType::MouseReleased, to, 0)?)
        .await?;
    Ok(())
}

/// JavaScript: the middle-left of character `start` and the middle-right of
/// character `end - 1` of the `<h1>`'s text in `doc`, in `doc`'s viewport,
/// as `[x0, y0, x1, y1]`.
fn heading_span(doc: &str, start: u32, end: u32) -> String {
    format!(
        "const t = {doc}.querySelector('h1').firstChild; const r = {doc}.createRange(); \
         r.setStart(t, {start}); r.setEnd(t, {start} + 1); const a = r.getBoundingClientRect(); \
         r.setStart(t, {end} - 1); r.setEnd(t, {end}); const b = r.getBoundingClientRect(); \
         return [a.left + 1, a.top + a.height / 2, b.right - 1, b.top + b.height / 2];"
    )
}

/// The text of each range of the console's `cobrowse-visitor` highlight.
const CONSOLE_HIGHLIGHT: &str = "(() => { const h = document.querySelector('iframe#cobrowse-frame')\
    .contentWindow.CSS.highlights.get('cobrowse-visitor'); return h ? [...h].map(r => r.toString()).join('') : ''; })()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selections_show_on_the_other_screen_and_an_agents_drag_is_no_click() -> Result<()> {
    let world = World::start().await?;
    let visitor = world.visitor("index.html").await?;
    // Every click the page hears, the agent's controls included.
    visitor
        .eval::<Value>(
            "window.e2eClicks = 0; document.addEventListener('click', \
             e => { if (!e.target.closest?.('cobrowse-ui')) window.e2eClicks++; }, true); return null;",
        )
        .await?;
    let code = start_and_read_code(&visitor).await?;
    step("the agent joins in shared mode from a smaller window; the visitor accepts");
    let console = world.console_sized(&code, "shared", 1000, 700).await?;
    wait_state(&console, "waiting").await?;
    click_ui(&visitor, "data-cobrowse-accept").await?;
    wait_state(&console, "live").await?;
    console
        .wait_for(
            "shared mode in the console",
            "document.documentElement.getAttribute('data-cobrowse-mode') === 'shared'",
            WAIT,
        )
        .await?;
    let scale: f64 = console
        .eval(&format!(
            "const f = {FRAME}; return f.getBoundingClientRect().width / f.offsetWidth;"
        ))
        .await?;
    ensure!(
        scale < 0.9,
        "the console should show the page scaled, not at {scale}"
    );

    step("the visitor drags across \"Home insurance\"; the console highlights the same text");
    let [x0, y0, x1, y1]: [f64; 4] = visitor.eval(&heading_span("document", 0, 14)).await?;
    drag(
        &visitor,
        ScreenPoint { x: x0, y: y0 },
        ScreenPoint { x: x1, y: y1 },
    )
    .await?;
    let selected: String = visitor
        .eval("return String(document.getSelection());")
        .await?;
    ensure!(
        selected.contains("insurance"),
        "the drag should have selected the heading's first words, not {selected:?}"
    );
    let shown = console
        .wait_for(
            "the visitor's selection highlighted in the mirror",
            &format!("{CONSOLE_HIGHLIGHT} === {selected:?}"),
            WAIT,
        )
        .await;
    if let Err(e) = shown {
        let got: Value = console
            .eval(&format!("return {CONSOLE_HIGHLIGHT};"))
            .await
            .unwrap_or(Value::Null);
        return Err(e.context(format!("the console highlights {got}")));
    }
    let agents_own: String = console
        .eval(&format!(
            "return String({FRAME}.contentDocument.getSelection());"
        ))
        .await?;
    ensure!(
        agents_own.is_empty(),
        "the visitor's selection must not become the agent's own: {agents_own:?}"
    );

    step("the agent drags across \"picks up the phone\" in the mirror");
    // The visitor's own drag was a click on their page; count afresh.
    visitor
        .eval::<Value>("window.e2eClicks = 0; return null;")
        .await?;
    let [a0, b0, a1, b1]: [f64; 4] = console
        .eval(&heading_span(&format!("{FRAME}.contentDocument"), 20, 38))
        .await?;
    let offset: [f64; 2] = console
        .eval(&format!(
            "const r = {FRAME}.getBoundingClientRect(); return [r.left, r.top];"
        ))
        .await?;
    let on_screen = |x: f64, y: f64| ScreenPoint {
        x: offset[0] + x * scale,
        y: offset[1] + y * scale,
    };
    drag(&console, on_screen(a0, b0), on_screen(a1, b1)).await?;
    let agent_selected: String = console
        .eval(&format!(
            "return String({FRAME}.contentDocument.getSelection());"
        ))
        .await?;
    ensure!(
        agent_selected.contains("phone"),
        "the agent's drag should have selected the heading's last words, not {agent_selected:?}"
    );
    let marks = visitor
        .wait_for(
            "the agent's selection drawn on the visitor's page",
            &format!(
                "(() => {{ const m = [...{}?.querySelectorAll('[data-cobrowse-selection]') || []]; \
                   return m.length ? m.map(e => {{ const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }}) : null; }})()",
                "document.querySelector('cobrowse-ui')?.shadowRoot"
            ),
            WAIT,
        )
        .await?;
    let marks: Vec<[f64; 4]> = serde_json::from_value(marks)?;
    // Where the same text is on the visitor's page.
    let want: [f64; 4] = visitor
        .eval(&format!(
            "const t = document.querySelector('h1').firstChild; const i = t.data.indexOf({agent_selected:?}); \
             if (i < 0) return null; const r = document.createRange(); r.setStart(t, i); \
             r.setEnd(t, i + {len}); const b = r.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom];",
            len = agent_selected.encode_utf16().count()
        ))
        .await
        .context("the agent's selected text on the visitor's page")?;
    let got = marks.iter().fold(
        [f64::MAX, f64::MAX, f64::MIN, f64::MIN],
        |[l, t, r, b], m| [l.min(m[0]), t.min(m[1]), r.max(m[2]), b.max(m[3])],
    );
    ensure!(
        got.iter().zip(want).all(|(g, w)| (g - w).abs() <= 2.0),
        "the agent's selection is drawn at {got:?}, the text {agent_selected:?} is at {want:?}"
    );
    let still: String = visitor
        .eval("return String(document.getSelection());")
        .await?;
    ensure!(
        still == selected,
        "the agent's selection must not replace the visitor's own: {still:?}"
    );
    visitor
        .screenshot(&world.screenshot_path("selection-visitor"))
        .await?;
    console
        .screenshot(&world.screenshot_path("selection-console"))
        .await?;

    step("the drag clicked nothing on the visitor's page; a plain click does (the check can fail)");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let clicks: u32 = visitor.eval("return window.e2eClicks;").await?;
    ensure!(
        clicks == 0,
        "the agent's drag clicked on the visitor's page ({clicks} clicks)"
    );
    console.page.click(on_screen(a0, b0)).await?;
    visitor
        .wait_for(
            "the shared-mode agent's click on the visitor's page",
            "window.e2eClicks === 1",
            WAIT,
        )
        .await?;
    console
        .wait_for(
            "the agent's click to clear the agent's selection",
            &format!("String({FRAME}.contentDocument.getSelection()) === ''"),
            WAIT,
        )
        .await?;
    visitor
        .wait_for(
            "the agent's cleared selection gone from the visitor's page",
            "!document.querySelector('cobrowse-ui')?.shadowRoot?.querySelector('[data-cobrowse-selection]')",
            WAIT,
        )
        .await?;
    world.stop().await;
    Ok(())
}
