//! Agent-initiated sessions through the integrator API (issue 5), end to
//! end: a backend creates an invitation with the agent's token, the agent's
//! console waits for the visitor, the visitor's page takes the invitation up
//! with `Cobrowse.start({ invitation })`, the visitor accepts and the agent is
//! live; one invitation at a time (409); a cancelled or expired invitation
//! tells the waiting console why and is refused on the visitor's page.

use anyhow::{bail, ensure, Context, Result};
use e2e::browser::Tab;
use e2e::scenario::*;
use protocol::{EndReason, ToAgent};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request to the relay's integrator API, as a site's backend makes it
/// (plain HTTP/1.1, the agent's `token` as a bearer): the status and the
/// JSON body (`null` when empty).
async fn api(
    world: &World,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, Value)> {
    let host = world.relay.host();
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .context("the relay did not answer the API")??;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status line in {text:?}"))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).with_context(|| format!("a JSON body, not {body:?}"))?
    };
    Ok((status, json))
}

/// `POST /api/invitations`: the secret, the code and the lifetime.
async fn invite(world: &World, token: &str) -> Result<(String, String, u64)> {
    let (status, body) = api(
        world,
        token,
        "POST",
        "/api/invitations",
        r#"{"mode":"view"}"#,
    )
    .await?;
    ensure!(status == 201, "creating an invitation: {status} {body}");
    let field = |name: &str| {
        body[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no {name} in {body}"))
    };
    let expires = body["expires_in"].as_u64().context("expires_in")?;
    Ok((field("invitation")?, field("code")?, expires))
}

/// The console's header sentence.
async fn header(console: &Tab) -> Result<String> {
    console
        .eval("return document.getElementById('cobrowse-status').textContent;")
        .await
}

/// The reason of the `Ended` the console received from the relay.
fn ended_reason(console: &Tab) -> Option<EndReason> {
    console.frames().iter().filter(|f| !f.sent).find_map(|f| {
        match protocol::decode::<ToAgent>(&f.bytes) {
            Ok(ToAgent::Ended { reason }) => Some(reason),
            _ => None,
        }
    })
}

/// The visitor's page takes the invitation up: the session's code, or the
/// refusal's message as `Err`.
async fn take_up(visitor: &Tab, secret: &str) -> Result<std::result::Result<String, String>> {
    let got: Value = visitor
        .eval(&format!(
            "try {{ const s = await window.Cobrowse.start({{ invitation: {secret:?} }}); \
               window.e2eSession = s; return {{ code: s.code }}; }} \
             catch (e) {{ return {{ refused: String(e && e.message || e) }}; }}"
        ))
        .await?;
    match (got["code"].as_str(), got["refused"].as_str()) {
        (Some(code), _) => Ok(Ok(code.to_owned())),
        (_, Some(why)) => Ok(Err(why.to_owned())),
        _ => bail!("Cobrowse.start answered {got}"),
    }
}

/// The console of the agent with `token`, waiting for the visitor to take
/// the invitation up.
async fn waiting_console(world: &World, token: &str, code: &str) -> Result<Tab> {
    let (w, h) = AGENT_SIZE;
    let url = format!(
        "{}/agent/#token={token}&code={code}&mode=view",
        world.relay.url()
    );
    let console = world.browser.open_private(&url, w, h).await?;
    wait_state(&console, "waiting").await?;
    console
        .wait_for(
            "the console to say it waits for the invitation",
            "/invitation/.test(document.getElementById('cobrowse-status').textContent)",
            WAIT,
        )
        .await?;
    Ok(console)
}

/// A relay that knows the integrator's secret, and a token signed with it
/// for agent `sub` named `name` (as the integrator's backend would issue);
/// the folder holding the secret, for the test to remove.
async fn world_with_signed_agent(
    sub: &str,
    name: &str,
) -> Result<(World, String, std::path::PathBuf)> {
    let dir = std::env::temp_dir().join(format!("cobrowse-e2e-signed-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let secret = dir.join("agent-secret");
    std::fs::write(
        &secret,
        "5f2b9c1e8a7d4036b1e9c2d7a4f80b3e6c1d9a2f7b4e8c0d3a6f9b2e5c8d1a4f\n",
    )?;
    // The relay binary the tests start: target/debug next to the test's deps/.
    let relay = std::env::current_exe()?
        .parent()
        .and_then(std::path::Path::parent)
        .context("the test's target folder")?
        .join("cobrowse-relay");
    let minted = std::process::Command::new(relay)
        .args(["token", "--secret-file"])
        .arg(&secret)
        .args(["--sub", sub, "--name", name])
        .output()?;
    ensure!(
        minted.status.success(),
        "minting a token: {}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let token = String::from_utf8(minted.stdout)?.trim().to_owned();
    let world = World::start_with_relay_args(vec![
        "--agent-secret-file".into(),
        secret.display().to_string(),
    ])
    .await?;
    Ok((world, token, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_starts_a_session_the_waiting_agent_joins_one_at_a_time() -> Result<()> {
    let (world, token, secret_dir) = world_with_signed_agent("agent-42", "Ann Smith").await?;
    step("the site's backend invites with the agent's signed token");
    let (secret, code, expires) = invite(&world, &token).await?;
    ensure!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "a 6-digit code, not {code:?}"
    );
    ensure!(
        secret.len() == 43,
        "a 43-character secret, not {} characters",
        secret.len()
    );
    ensure!(expires == 1200, "expires in 20 minutes, not {expires} s");

    step("a second invitation while the first is open is refused with a sentence");
    let (status, body) = api(&world, &token, "POST", "/api/invitations", "").await?;
    let why = body["error"].as_str().unwrap_or_default();
    ensure!(
        status == 409 && why.len() > 10,
        "a second invitation: {status} {body}"
    );

    step("the agent's console opens with the invitation's code and waits");
    let console = waiting_console(&world, &token, &code).await?;

    step("the visitor's page takes the invitation up and the visitor accepts");
    let visitor = world.visitor("index.html").await?;
    let session_code = take_up(&visitor, &secret)
        .await?
        .map_err(|why| anyhow::anyhow!("the invitation was refused: {why}"))?;
    ensure!(
        session_code == code,
        "the session should start under the invitation's code {code}, not {session_code}"
    );
    let asked = visitor
        .wait_for(
            "the visitor to be asked",
            &format!(
                "{} && {}.textContent",
                ui("[data-cobrowse-accept]"),
                ui("[role=status]")
            ),
            WAIT,
        )
        .await?;
    ensure!(
        asked.as_str().is_some_and(|t| t.contains("Ann Smith")),
        "the visitor should be asked by the agent's name: {asked}"
    );
    click_ui(&visitor, "data-cobrowse-accept").await?;
    wait_state(&console, "live").await?;
    assert_mirrored(&visitor, &console).await?;

    step("no invitation while the agent is in a live session; one invitation starts one session");
    let (status, body) = api(&world, &token, "POST", "/api/invitations", "").await?;
    ensure!(status == 409, "an invitation while live: {status} {body}");
    let again = world.visitor("apply.html").await?;
    match take_up(&again, &secret).await? {
        Err(why) => ensure!(!why.is_empty(), "a refusal says why"),
        Ok(code) => bail!("a used invitation started another session ({code})"),
    }

    step("the visitor ends; the agent may invite again");
    click_ui(&visitor, "data-cobrowse-end").await?;
    wait_state(&console, "ended").await?;
    ensure!(
        header(&console).await? == format!("Ended: {}", EndReason::VisitorEnded.describe()),
        "the console's header after the visitor ended: {:?}",
        header(&console).await?
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = api(&world, &token, "POST", "/api/invitations", "").await?;
        if status == 201 {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "a new invitation after the session ended: {status} {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    world.stop().await;
    let _ = std::fs::remove_dir_all(secret_dir);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_invitation_tells_the_waiting_console_and_is_refused_to_the_visitor(
) -> Result<()> {
    let world = World::start().await?;
    let (secret, code, _) = invite(&world, TOKEN).await?;
    let console = waiting_console(&world, TOKEN, &code).await?;

    step("the backend cancels the invitation");
    let path = format!("/api/invitations/{secret}");
    let (status, body) = api(&world, TOKEN, "DELETE", &path, "").await?;
    ensure!((200..300).contains(&status), "cancelling: {status} {body}");
    wait_state(&console, "ended").await?;
    let reason = ended_reason(&console).context("the relay's Ended for the console")?;
    let shown = header(&console).await?;
    ensure!(
        reason == EndReason::InvitationCancelled,
        "a cancelled invitation ends as cancelled, not {reason:?}"
    );
    ensure!(
        shown == format!("Ended: {}", reason.describe()) && shown.contains("invitation"),
        "the waiting console should say the invitation is gone ({reason:?}), not {shown:?}"
    );
    step(&format!("the console says: {shown}"));

    step("the visitor's page cannot take the cancelled invitation up");
    let visitor = world.visitor("index.html").await?;
    match take_up(&visitor, &secret).await? {
        Err(why) => step(&format!("refused: {why}")),
        Ok(code) => bail!("a cancelled invitation started a session ({code})"),
    }
    let offered: bool = visitor
        .eval(&format!("return !!{};", ui("[data-cobrowse-accept]")))
        .await?;
    ensure!(!offered, "nothing to accept on the visitor's page");
    step("cancelled, it no longer blocks a new invitation");
    invite(&world, TOKEN).await?;
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unused_invitation_expires_and_the_waiting_console_says_so() -> Result<()> {
    let config = std::env::temp_dir().join(format!(
        "cobrowse-e2e-invite-ttl-{}.toml",
        std::process::id()
    ));
    std::fs::write(&config, "code_ttl_secs = 4\n")?;
    let world =
        World::start_with_relay_args(vec!["--config".into(), config.display().to_string()]).await?;
    let (secret, code, expires) = invite(&world, TOKEN).await?;
    ensure!(expires == 4, "the configured lifetime, not {expires} s");
    let console = waiting_console(&world, TOKEN, &code).await?;

    step("nobody takes it up for 4 seconds");
    wait_state(&console, "ended").await?;
    let shown = header(&console).await?;
    ensure!(
        shown == format!("Ended: {}", EndReason::InvitationExpired.describe()),
        "the waiting console should say the invitation expired, not {shown:?}"
    );
    ensure!(
        ended_reason(&console) == Some(EndReason::InvitationExpired),
        "the relay's reason: {:?}",
        ended_reason(&console)
    );

    step("the visitor's page cannot take the expired invitation up");
    let visitor = world.visitor("index.html").await?;
    match take_up(&visitor, &secret).await? {
        Err(why) => step(&format!("refused: {why}")),
        Ok(code) => bail!("an expired invitation started a session ({code})"),
    }
    world.stop().await;
    let _ = std::fs::remove_file(config);
    Ok(())
}
