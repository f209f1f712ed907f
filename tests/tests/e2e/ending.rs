//! How sessions end (issue 5), end to end: a session nobody uses ends on
//! both screens after the relay's `idle_timeout_secs`, the console's header
//! and the visitor's panel each saying why.

use anyhow::{ensure, Result};
use e2e::scenario::*;
use protocol::EndReason;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_ends_on_both_screens_and_each_says_why() -> Result<()> {
    let config =
        std::env::temp_dir().join(format!("cobrowse-e2e-idle-{}.toml", std::process::id()));
    std::fs::write(&config, "idle_timeout_secs = 3\n")?;
    let world =
        World::start_with_relay_args(vec!["--config".into(), config.display().to_string()]).await?;
    // A page with nothing that changes by itself (the home page's claims
    // feed would keep the session busy).
    let visitor = world.visitor("apply.html").await?;
    let code = start_and_read_code(&visitor).await?;
    let console = world.console_sized(&code, "view", 1000, 700).await?;
    wait_state(&console, "waiting").await?;
    click_ui(&visitor, "data-cobrowse-accept").await?;
    wait_state(&console, "live").await?;

    step("nobody does anything for 3 seconds");
    let started = std::time::Instant::now();
    wait_state(&console, "ended").await?;
    let idle_for = started.elapsed();
    let header: String = console
        .eval("return document.getElementById('cobrowse-status').textContent;")
        .await?;
    ensure!(
        header == format!("Ended: {}", EndReason::Idle.describe()),
        "the console's header after an idle end: {header:?}"
    );
    step(&format!("the console says: {header} (after {idle_for:?})"));

    let said = visitor
        .wait_for(
            "the visitor's panel to say why the session ended",
            &format!("{}?.textContent", ui("[data-cobrowse-ended]")),
            WAIT,
        )
        .await?;
    let said = said.as_str().unwrap_or_default().to_owned();
    ensure!(
        said.contains("without activity"),
        "the visitor's panel after an idle end: {said:?}"
    );
    step(&format!("the visitor's panel says: {said}"));
    let end_button: bool = visitor
        .eval(&format!("return !!{};", ui("[data-cobrowse-end]")))
        .await?;
    ensure!(!end_button, "an ended session offers no End button");
    let frame_shown: bool = visitor
        .eval(&format!(
            "const f = {}; return !!f && !f.hidden;",
            ui(".frame")
        ))
        .await?;
    ensure!(!frame_shown, "nobody watches: no frame around the page");
    let current: Value = visitor
        .eval("return await window.Cobrowse.current();")
        .await?;
    ensure!(current.is_null(), "no running session: {current}");
    visitor
        .screenshot(&world.screenshot_path("idle-visitor"))
        .await?;
    console
        .screenshot(&world.screenshot_path("idle-console"))
        .await?;

    step("the visitor's next start replaces the notice with a new panel");
    // The demo's own button stays disabled after its first start.
    let code = start_via_api(&visitor).await?;
    let notices: u32 = visitor
        .eval("return document.querySelectorAll('cobrowse-ui').length;")
        .await?;
    ensure!(notices == 1, "one panel, not {notices}, with code {code}");
    world.stop().await;
    let _ = std::fs::remove_file(config);
    Ok(())
}
