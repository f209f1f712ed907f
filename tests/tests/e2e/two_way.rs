//! Two people on one page (issue 5, first slice), end to end: each side sees
//! the other's pointer over the same element although the windows differ in
//! size, clicks show a yellow circle on both screens, a view-only agent
//! cannot act on the visitor's page even when it skips the console and
//! writes to the relay itself, and a shared-mode agent fills a React-style
//! controlled input and a select.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use chromiumoxide::layout::Point as ScreenPoint;
use e2e::browser::Tab;
use e2e::scenario::*;
use futures_util::{SinkExt, StreamExt};
use protocol::{
    AgentHello, AgentMsg, Control, Event, Hello, Mode, Navigation, Node, NodeId, ToAgent,
};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const FRAME: &str = "document.querySelector('iframe#cobrowse-frame')";

/// `[left, top, width, height]` of `selector` in the visitor's viewport.
async fn visitor_box(visitor: &Tab, selector: &str) -> Result<[f64; 4]> {
    visitor
        .eval(&format!(
            "const r = document.querySelector({selector:?}).getBoundingClientRect(); return [r.left, r.top, r.width, r.height];"
        ))
        .await
}

/// The same element's box as the console shows it, in the console's
/// viewport (the iframe is scaled to fit).
async fn console_box(console: &Tab, selector: &str) -> Result<[f64; 4]> {
    console
        .eval(&format!(
            "const f = {FRAME}; const fr = f.getBoundingClientRect(); const s = fr.width / f.offsetWidth; \
             const r = f.contentDocument.querySelector({selector:?}).getBoundingClientRect(); \
             return [fr.left + r.left * s, fr.top + r.top * s, r.width * s, r.height * s];"
        ))
        .await
}

/// Clicks the mirrored `selector` until the mirror's focus is on it: right
/// after the page appears the console may still be scaling or rebuilding the
/// mirror, and a click measured before that lands beside the field.
async fn focus_in_mirror(console: &Tab, selector: &str) -> Result<()> {
    let focused = format!("{FRAME}.contentDocument.activeElement?.matches({selector:?}) === true");
    for _ in 0..5 {
        let field = console_box(console, selector).await?;
        console.page.click(spot(field, 0.5, 0.5)).await?;
        for _ in 0..20 {
            if console.eval::<bool>(&format!("return {focused};")).await? {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    anyhow::bail!("a click on the console's {selector} never gave it the focus")
}

/// Where a drawn cursor's tip is, or `None` while it is hidden.
async fn cursor_tip(tab: &Tab, query: &str) -> Result<Option<[f64; 2]>> {
    tab.eval(&format!(
        "const c = {query}; if (!c || c.hidden || getComputedStyle(c).display === 'none') return null; \
         const r = c.getBoundingClientRect(); return [r.left, r.top];"
    ))
    .await
}

const VISITOR_CURSOR: &str =
    "document.querySelector('#cobrowse-fit [data-cobrowse-cursor=\"visitor\"]')";
const AGENT_CURSOR: &str =
    "document.querySelector('cobrowse-ui')?.shadowRoot?.querySelector('[data-cobrowse-cursor=\"agent\"]')";

fn spot([l, t, w, h]: [f64; 4], fx: f64, fy: f64) -> ScreenPoint {
    ScreenPoint {
        x: l + fx * w,
        y: t + fy * h,
    }
}

/// Waits until the cursor drawn by `query` is within 3 px of `want`.
async fn cursor_lands(tab: &Tab, query: &str, want: ScreenPoint, what: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        last = cursor_tip(tab, query).await?;
        if let Some([x, y]) = last {
            if (x - want.x).abs() <= 3.0 && (y - want.y).abs() <= 3.0 {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "{what}: the cursor is at {last:?}, not at ({:.1}, {:.1})",
        want.x,
        want.y
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pointers_land_on_the_same_element_and_clicks_show_on_both_screens() -> Result<()> {
    let world = World::start().await?;
    // A console window smaller than the visitor's: the page shows scaled
    // down, so a pointer at the same raw pixel would be somewhere else.
    let visitor = world.visitor("apply.html").await?;
    let code = start_and_read_code(&visitor).await?;
    let console = world.console_sized(&code, "view", 1000, 700).await?;
    wait_state(&console, "waiting").await?;
    click_ui(&visitor, "data-cobrowse-accept").await?;
    wait_state(&console, "live").await?;
    let scale: f64 = console
        .eval(&format!(
            "const f = {FRAME}; return f.getBoundingClientRect().width / f.offsetWidth;"
        ))
        .await?;
    step(&format!("the console shows the page at scale {scale:.3}"));
    ensure!(
        scale < 0.9,
        "the console should show the page scaled down, not at {scale}"
    );
    let quality = console
        .wait_for(
            "the connection quality in the console's header",
            r"(() => { const q = document.getElementById('cobrowse-quality');
               return /^\d+ ms$/.test(q.textContent) && q.dataset.level ? q.textContent + ' ' + q.dataset.level : null; })()",
            WAIT,
        )
        .await?;
    step(&format!("relay round trip shown: {quality}"));

    step("the visitor points at the email field; the console draws it there");
    let email = visitor_box(&visitor, "#email").await?;
    visitor.page.move_mouse(spot(email, 0.3, 0.5)).await?;
    let shown = console_box(&console, "#email").await?;
    cursor_lands(
        &console,
        VISITOR_CURSOR,
        spot(shown, 0.3, 0.5),
        "the visitor's cursor in the console",
    )
    .await?;
    console
        .wait_for(
            "the field under the visitor's pointer to show :hover",
            &format!("{FRAME}.contentDocument.getElementById('email').hasAttribute('data-cobrowse-hover')"),
            WAIT,
        )
        .await?;

    step("the visitor clicks; a yellow circle shows in the console");
    visitor.page.click(spot(email, 0.3, 0.5)).await?;
    console
        .wait_for(
            "a click circle in the console",
            "document.querySelector('#cobrowse-fit [data-cobrowse-click]')",
            WAIT,
        )
        .await?;

    step("the agent points at the name field; the visitor's page draws it there");
    let name_in_console = console_box(&console, "#name").await?;
    console
        .page
        .move_mouse(spot(name_in_console, 0.7, 0.5))
        .await?;
    let name = visitor_box(&visitor, "#name").await?;
    cursor_lands(
        &visitor,
        AGENT_CURSOR,
        spot(name, 0.7, 0.5),
        "the agent's cursor on the visitor's page",
    )
    .await?;

    step("the agent clicks; a yellow circle shows on the visitor's page, nothing else happens");
    console.page.click(spot(name_in_console, 0.7, 0.5)).await?;
    visitor
        .wait_for(
            "a click circle on the visitor's page",
            &ui("[data-cobrowse-click]"),
            WAIT,
        )
        .await?;
    let focused: String = visitor
        .eval("return document.activeElement?.id || '';")
        .await?;
    ensure!(
        focused != "name",
        "a view-only agent's click focused the visitor's field"
    );

    visitor
        .screenshot(&world.screenshot_path("two-way-visitor"))
        .await?;
    console
        .screenshot(&world.screenshot_path("two-way-console"))
        .await?;

    step("the agent shows the page full screen");
    let button: [f64; 4] = console
        .eval("const r = document.getElementById('cobrowse-fullscreen').getBoundingClientRect(); return [r.left, r.top, r.width, r.height];")
        .await?;
    console.page.click(spot(button, 0.5, 0.5)).await?;
    console
        .wait_for(
            "the viewing area full screen",
            "document.fullscreenElement?.id === 'cobrowse-stage'",
            WAIT,
        )
        .await?;
    world.stop().await;
    Ok(())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn recv_agent(ws: &mut Ws) -> Result<ToAgent> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .context("the relay said nothing")?
        {
            Some(Ok(Message::Binary(b))) => return Ok(protocol::decode(&b)?),
            Some(Ok(Message::Close(c))) => bail!("closed: {c:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("closed"),
        }
    }
}

/// The node id of the element whose `id` attribute is `html_id`.
fn find_id(node: &Node, html_id: &str) -> Option<NodeId> {
    match node {
        Node::Document { children, .. } => children.iter().find_map(|c| find_id(c, html_id)),
        Node::Element {
            id,
            attrs,
            children,
            ..
        } => {
            if attrs.iter().any(|a| a.name == "id" && a.value == html_id) {
                Some(*id)
            } else {
                children.iter().find_map(|c| find_id(c, html_id))
            }
        }
        _ => None,
    }
}

/// An agent that skips the console: its own WebSocket to the relay, joined
/// view-only with the visitor's code, admitted, holding the page's snapshot.
async fn rogue_agent(world: &World, code: &str) -> Result<Ws> {
    let url = format!("{}/ws/agent", world.relay.url().replacen("http", "ws", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let hello = Hello::Agent(AgentHello {
        token: TOKEN.into(),
        code: protocol::JoinCode::parse(code)?,
        mode: Mode::ViewOnly,
    });
    ws.send(Message::binary(protocol::encode_hello(&hello)?))
        .await?;
    match recv_agent(&mut ws).await? {
        ToAgent::Joined { .. } => Ok(ws),
        other => bail!("expected Joined, got {other:?}"),
    }
}

async fn snapshot_of(ws: &mut Ws) -> Result<Node> {
    loop {
        if let ToAgent::Event(frame) = recv_agent(ws).await? {
            if let Event::Snapshot(s) = frame.event()? {
                return Ok(s.root);
            }
        }
    }
}

async fn send(ws: &mut Ws, msg: &AgentMsg) -> Result<()> {
    ws.send(Message::binary(protocol::encode(msg)?)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_only_agent_cannot_act_even_when_it_skips_the_console() -> Result<()> {
    let world = World::start().await?;
    let visitor = world.visitor("apply.html").await?;
    let code = start_and_read_code(&visitor).await?;
    step("an agent joins with its own WebSocket, view-only");
    let mut rogue = rogue_agent(&world, &code).await?;
    click_ui(&visitor, "data-cobrowse-accept").await?;
    let root = snapshot_of(&mut rogue).await?;
    let name = find_id(&root, "name").context("the page's #name field")?;
    let flood = find_id(&root, "flood").context("the page's #flood checkbox")?;
    let form = find_id(&root, "apply").context("the page's form")?;

    step("it sends control the relay must drop and the page must refuse");
    let page_url: String = visitor.eval("return location.href;").await?;
    for control in [
        Control::SetValue {
            target: name,
            value: "typed by a view-only agent".into(),
        },
        Control::Click {
            target: flood,
            fx: 0.5,
            fy: 0.5,
        },
        Control::Submit { form },
        Control::Navigate(Navigation::To(format!("{}/index.html", world.site.url()))),
    ] {
        send(&mut rogue, &AgentMsg::Control(control)).await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let state: Value = visitor
        .eval("return [document.getElementById('name').value, document.getElementById('flood').checked, location.href];")
        .await?;
    ensure!(
        state == serde_json::json!(["", false, page_url]),
        "a view-only agent changed the visitor's page: {state}"
    );

    step("granted shared mode, the same message does act (the check can fail)");
    send(&mut rogue, &AgentMsg::RequestMode(Mode::Shared)).await?;
    visitor
        .wait_for(
            "the question to the visitor",
            &ui("[data-cobrowse-allow-control]"),
            WAIT,
        )
        .await?;
    visitor
        .screenshot(&world.screenshot_path("two-way-control-request"))
        .await?;
    click_ui(&visitor, "data-cobrowse-allow-control").await?;
    loop {
        if let ToAgent::Mode(Mode::Shared) = recv_agent(&mut rogue).await? {
            break;
        }
    }
    send(
        &mut rogue,
        &AgentMsg::Control(Control::SetValue {
            target: name,
            value: "typed in shared mode".into(),
        }),
    )
    .await?;
    visitor
        .wait_for(
            "the shared-mode agent's typing",
            "document.getElementById('name').value === 'typed in shared mode'",
            WAIT,
        )
        .await?;

    visitor
        .screenshot(&world.screenshot_path("two-way-control-shared"))
        .await?;
    step("the visitor takes control back; the agent is refused again");
    click_ui(&visitor, "data-cobrowse-view-only").await?;
    loop {
        if let ToAgent::Mode(Mode::ViewOnly) = recv_agent(&mut rogue).await? {
            break;
        }
    }
    send(
        &mut rogue,
        &AgentMsg::Control(Control::SetValue {
            target: name,
            value: "after the visitor took it back".into(),
        }),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let value: String = visitor
        .eval("return document.getElementById('name').value;")
        .await?;
    ensure!(
        value == "typed in shared mode",
        "control after the visitor took it back: {value:?}"
    );
    world.stop().await;
    Ok(())
}

/// Makes `#name` track its value the way React's controlled inputs do: a
/// setter on the element records every value a script assigns, and an
/// `input` event counts only if the value differs from the recorded one —
/// so a change made by assigning `el.value` is invisible to "React", and
/// only the native setter (as a real keystroke does) gets through.
const REACT_LIKE: &str = r#"
  const input = document.getElementById('name');
  const native = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value');
  let tracked = input.value;
  Object.defineProperty(input, 'value', {
    configurable: true,
    get() { return native.get.call(this); },
    set(v) { tracked = String(v); native.set.call(this, v); },
  });
  window.reactSeen = [];
  input.addEventListener('input', () => {
    const now = native.get.call(input);
    if (now !== tracked) { tracked = now; window.reactSeen.push(now); }
  });
  return null;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_agent_fills_a_react_style_input_and_a_select() -> Result<()> {
    let world = World::start().await?;
    let visitor = world.visitor("apply.html").await?;
    visitor.eval::<Value>(REACT_LIKE).await?;
    let code = start_and_read_code(&visitor).await?;
    step("the agent joins asking for shared mode; the visitor accepts");
    let console = join_and_accept(&world, &visitor, &code, "shared").await?;
    console
        .wait_for(
            "shared mode in the console",
            "document.documentElement.getAttribute('data-cobrowse-mode') === 'shared'",
            WAIT,
        )
        .await?;

    step("the agent types into the name field in the console");
    focus_in_mirror(&console, "#name").await?;
    console
        .page
        .execute(chromiumoxide::cdp::browser_protocol::input::InsertTextParams::new("Jane Agent"))
        .await?;
    visitor
        .wait_for(
            "the typed name on the visitor's page",
            "document.getElementById('name').value === 'Jane Agent'",
            WAIT,
        )
        .await?;
    let seen: Vec<String> = visitor.eval("return window.reactSeen;").await?;
    ensure!(
        seen.last().map(String::as_str) == Some("Jane Agent"),
        "a React-style controlled input did not see the change: {seen:?}"
    );

    step("the agent chooses another property type");
    console
        .eval::<Value>(&format!(
            "const s = {FRAME}.contentDocument.getElementById('property'); s.value = 'flat'; \
             s.dispatchEvent(new Event('change', {{ bubbles: true }})); return null;"
        ))
        .await?;
    visitor
        .wait_for(
            "the chosen option on the visitor's page",
            "document.getElementById('property').value === 'flat'",
            WAIT,
        )
        .await?;
    world.stop().await;
    Ok(())
}
