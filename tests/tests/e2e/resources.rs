//! Static resources behind a login (issue 4), end to end: a visitor signs in
//! to the demo site, whose `/account/` answers 401 without the cookie; the
//! agent — another browser, without that cookie — sees the same pixels,
//! because the visitor's browser uploaded images, stylesheets, an @import, a
//! web font and a Shift_JIS stylesheet to the relay's cache. The relay runs
//! strict: the agent's browser may talk to nobody but the relay.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use e2e::browser::Tab;
use e2e::pixels::{compare, Image};
use e2e::scenario::*;
use serde_json::Value;

/// The visitor's window: small enough that the console shows the page
/// unscaled, so pixels compare one to one.
const VISITOR: (u32, u32) = (1000, 700);
const FRAME: &str = "document.querySelector('iframe#cobrowse-frame').contentDocument";
/// Resources are uploaded after the snapshot; give them time on a busy machine.
const RESOURCES_WAIT: Duration = Duration::from_secs(30);

/// Signs in on the demo site and waits for the account page with the SDK.
async fn signed_in_visitor(world: &World) -> Result<Tab> {
    step("visitor signs in");
    let (w, h) = VISITOR;
    let visitor = world
        .browser
        .open(&format!("{}/login.html", world.site.url()), w, h)
        .await?;
    visitor
        .wait_for(
            "the login page",
            "document.readyState === 'complete' && document.getElementById('sign-in')",
            WAIT,
        )
        .await?;
    visitor
        .eval::<Value>("document.getElementById('sign-in').click(); return null;")
        .await?;
    visitor
        .wait_for(
            "the account page with the SDK",
            "location.pathname === '/account/index.html' && document.readyState === 'complete' && window.Cobrowse",
            WAIT,
        )
        .await?;
    Ok(visitor)
}

/// Joins a session the visitor starts on the page it shows, and accepts.
async fn join(world: &World, visitor: &Tab) -> Result<Tab> {
    // Through the API: the page's own button stays disabled after a
    // session, as the demo site's script leaves it.
    let code = start_via_api(visitor).await?;
    let console = join_and_accept(world, visitor, &code, "view").await?;
    Ok(console)
}

/// Waits until the console's iframe shows every image, the web font and
/// the Shift_JIS stylesheet's text.
async fn wait_for_resources(console: &Tab) -> Result<()> {
    console
        .wait_for(
            "every image of the account page in the console",
            &format!(
                "(() => {{ const imgs = [...{FRAME}.images]; \
                   return imgs.length >= 3 && imgs.every(i => i.complete && i.naturalWidth > 0); }})()"
            ),
            RESOURCES_WAIT,
        )
        .await?;
    console
        .wait_for(
            "the web font in the console",
            &format!(
                "(() => {{ const d = {FRAME}; \
                   return [...d.fonts].some(f => f.family.includes('Northwind Script') && f.status === 'loaded'); }})()"
            ),
            RESOURCES_WAIT,
        )
        .await?;
    let japanese: String = console
        .eval(&format!(
            "return getComputedStyle({FRAME}.querySelector('.jp-title'), '::before').content;"
        ))
        .await?;
    ensure!(
        japanese == "\"ご利用明細\"",
        "the Shift_JIS stylesheet's text reached the console as {japanese:?}"
    );
    Ok(())
}

/// An element's box, rounded to whole CSS pixels: in the visitor's page, or
/// in the console's (unscaled) iframe translated to the console's viewport.
async fn region(tab: &Tab, selector: &str, in_console: bool) -> Result<[f64; 4]> {
    let script = if in_console {
        format!(
            "const f = document.querySelector('iframe#cobrowse-frame'); \
             const fr = f.getBoundingClientRect(); \
             const scale = fr.width / f.offsetWidth; \
             if (Math.abs(scale - 1) > 1e-6) return null; \
             const r = f.contentDocument.querySelector({selector:?}).getBoundingClientRect(); \
             return [fr.left + f.clientLeft + r.left, fr.top + f.clientTop + r.top, r.width, r.height].map(Math.round);"
        )
    } else {
        format!(
            "const r = document.querySelector({selector:?}).getBoundingClientRect(); \
             return [r.left, r.top, r.width, r.height].map(Math.round);"
        )
    };
    let value: Option<[f64; 4]> = tab.eval(&script).await?;
    value.with_context(|| {
        format!("{selector}: the console shows the page scaled; pixels cannot compare one to one")
    })
}

async fn shot(tab: &Tab, [x, y, w, h]: [f64; 4]) -> Result<Image> {
    Image::decode(&tab.screenshot_region(x, y, w, h).await?)
}

/// Each hash the visitor uploaded and its size, from its `PUT /res/up/…`
/// requests (`?offset=…&total=…`).
fn uploads(visitor: &Tab) -> BTreeMap<String, u64> {
    visitor
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.url.contains("/res/up/"))
        .filter_map(|r| {
            let after = r.url.split("/res/up/").nth(1)?;
            let hash = after.split('?').next()?.to_owned();
            let total = after
                .split(['?', '&'])
                .find_map(|kv| kv.strip_prefix("total="))?
                .parse()
                .ok()?;
            Some((hash, total))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_page_reaches_an_agent_without_cookies_pixel_for_pixel() -> Result<()> {
    let config =
        std::env::temp_dir().join(format!("cobrowse-e2e-strict-{}.toml", std::process::id()));
    std::fs::write(&config, "[resources]\nstrict = true\n")?;
    let world =
        World::start_with_relay_args(vec!["--config".into(), config.display().to_string()]).await?;

    // The agent's browser could not load these on its own.
    let anonymous = world
        .browser
        .open_private(
            &format!("{}/account/avatar.png", world.site.url()),
            400,
            300,
        )
        .await?;
    let refused: bool = anonymous
        .eval("return document.body.innerText.includes('401');")
        .await?;
    ensure!(
        refused,
        "the demo site's account area is open without the cookie"
    );

    let visitor = signed_in_visitor(&world).await?;
    let console = join(&world, &visitor).await?;
    step("waiting for the account page's resources in the console");
    wait_for_resources(&console).await?;
    visitor
        .screenshot(&world.screenshot_path("resources-visitor"))
        .await?;
    console
        .screenshot(&world.screenshot_path("resources-console"))
        .await?;

    step("comparing pixels");
    // The visitor's own UI (the frame around a live page, the panel) is
    // not part of the page.
    let ui_visibility = |v: &str| {
        format!("document.querySelector('cobrowse-ui').style.visibility = '{v}'; return null;")
    };
    visitor.eval::<Value>(&ui_visibility("hidden")).await?;
    for selector in [
        ".account-top",
        ".profile",
        "main .panel",
        ".jp-title",
        ".badge",
    ] {
        let seen = shot(&visitor, region(&visitor, selector, false).await?).await?;
        let shown = shot(&console, region(&console, selector, true).await?).await?;
        let diff = compare(&seen, &shown, 16)?;
        step(&format!(
            "{selector}: {:.3}% of {} pixels differ (mean {:.2})",
            diff.differing_share() * 100.0,
            diff.pixels,
            diff.mean
        ));
        ensure!(
            diff.differing_share() < 0.005,
            "{selector} looks different in the console: {diff:?} (screenshots in target/e2e-screenshots)"
        );
    }
    // The comparison can fail: two different regions do differ.
    let header = shot(&visitor, region(&visitor, ".account-top", false).await?).await?;
    let profile = region(&console, ".profile", true).await?;
    let other = shot(
        &console,
        [
            profile[0],
            profile[1],
            f64::from(header.width),
            f64::from(header.height),
        ],
    )
    .await?;
    ensure!(
        compare(&header, &other, 16)?.differing_share() > 0.2,
        "the pixel comparison cannot tell regions apart"
    );

    visitor.eval::<Value>(&ui_visibility("")).await?;

    step("the agent's browser talked only to the relay");
    let site = world.site.url().to_owned();
    let to_site: Vec<String> = console
        .requests()
        .into_iter()
        .map(|r| r.url)
        .filter(|u| u.starts_with(&site))
        .collect();
    ensure!(
        to_site.is_empty(),
        "the console asked the customer's site for {to_site:?}"
    );
    let resource_requests = console
        .requests()
        .iter()
        .filter(|r| r.url.contains("/res/s/"))
        .count();
    ensure!(
        resource_requests >= 6,
        "the console loaded only {resource_requests} resources from the relay"
    );

    let first = uploads(&visitor);
    let first_bytes: u64 = first.values().sum();
    step(&format!(
        "first session uploaded {} resources, {first_bytes} bytes",
        first.len()
    ));
    ensure!(
        first.len() >= 8,
        "expected the page's images, stylesheets and font to be uploaded: {first:?}"
    );

    // An agent of another session cannot read this session's resources.
    let avatar_url: String = console
        .eval(&format!("return {FRAME}.getElementById('avatar').src;"))
        .await?;
    ensure!(
        avatar_url.contains("/res/s/"),
        "the avatar does not come from the relay: {avatar_url}"
    );

    step("a second session on the same page uploads nothing new");
    click_ui(&visitor, "data-cobrowse-end").await?;
    wait_state(&console, "ended").await?;
    let before = visitor.requests().len();
    let second = join(&world, &visitor).await?;
    wait_for_resources(&second).await?;
    let again: Vec<String> = visitor.requests()[before..]
        .iter()
        .filter(|r| r.method == "PUT" && r.url.contains("/res/up/"))
        .map(|r| r.url.clone())
        .collect();
    step(&format!(
        "second session uploaded {} resources",
        again.len()
    ));
    ensure!(
        again.is_empty(),
        "the second session uploaded again: {again:?}"
    );

    step("another session's key does not open this session's resources");
    let public = world.visitor("apply.html").await?;
    let third = join(&world, &public).await?;
    let logo: String = third
        .wait_for(
            "the third console's logo from the relay",
            &format!("(() => {{ const s = {FRAME}.querySelector('.brand img')?.src; return s && s.includes('/res/s/') ? s : null; }})()"),
            WAIT,
        )
        .await?
        .as_str()
        .context("a URL")?
        .to_owned();
    let key_of = |url: &str| {
        url.split("/res/s/")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .map(str::to_owned)
    };
    let (their_key, our_key) = (
        key_of(&logo).context("key")?,
        key_of(&avatar_url).context("key")?,
    );
    ensure!(their_key != our_key, "two sessions share a resource key");
    let foreign = avatar_url.replace(&our_key, &their_key);
    let answer: u16 = third
        .eval(&format!(
            "return (await fetch({foreign:?}, {{ redirect: 'manual' }})).status;"
        ))
        .await?;
    ensure!(
        answer == 404,
        "another session's agent got {answer} for the avatar, not 404"
    );

    world.stop().await;
    let _ = std::fs::remove_file(config);
    Ok(())
}

/// Uploads `visitor` made since its request number `since`.
fn uploads_since(visitor: &Tab, since: usize) -> usize {
    visitor.requests()[since..]
        .iter()
        .filter(|r| r.method == "PUT" && r.url.contains("/res/up/"))
        .count()
}

/// Starts a session on the signed-in page the visitor shows, waits until
/// the console shows every resource, ends it, and says how many uploads it
/// took.
async fn session_uploads(world: &World, visitor: &Tab) -> Result<usize> {
    let before = visitor.requests().len();
    let console = join(world, visitor).await?;
    wait_for_resources(&console).await?;
    let count = uploads_since(visitor, before);
    click_ui(visitor, "data-cobrowse-end").await?;
    wait_state(&console, "ended").await?;
    let _ = console.page.clone().close().await;
    Ok(count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_resources_outlive_a_relay_restart_through_redis_and_expire_after_cache_ttl(
) -> Result<()> {
    const TTL_SECS: u64 = 6;
    let redis = e2e::services::start_redis()?;
    let config =
        std::env::temp_dir().join(format!("cobrowse-e2e-redis-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        format!("[cache]\nttl = \"{TTL_SECS}s\"\n[resources]\nstrict = true\n"),
    )?;
    let mut world = World::start_with_relay_args(vec![
        "--redis".into(),
        redis.url().to_owned(),
        "--config".into(),
        config.display().to_string(),
    ])
    .await?;
    let visitor = signed_in_visitor(&world).await?;

    let first = session_uploads(&world, &visitor).await?;
    step(&format!("first session: {first} uploads"));
    ensure!(
        first >= 8,
        "the first session should upload the page's resources ({first})"
    );

    step("the relay is killed and started again on the same Redis");
    world.restart_relay()?;
    let again = session_uploads(&world, &visitor).await?;
    step(&format!("after the restart: {again} uploads"));
    ensure!(
        again == 0,
        "the restarted relay lost the cache Redis holds ({again} uploads)"
    );

    step("after cache.ttl the resources are gone and uploaded again");
    tokio::time::sleep(std::time::Duration::from_secs(TTL_SECS + 3)).await;
    let expired = session_uploads(&world, &visitor).await?;
    step(&format!("after cache.ttl: {expired} uploads"));
    ensure!(
        expired >= 8,
        "resources outlived cache.ttl ({expired} uploads)"
    );

    world.stop().await;
    drop(redis);
    let _ = std::fs::remove_file(config);
    Ok(())
}
