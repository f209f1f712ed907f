//! The bench's services and browser: the real relay (serving `target/dist`),
//! the demo-site binary serving the generated pages, headless Chromium; and
//! the steps every measurement shares (open a page variant, read the main
//! thread's busy time, bring a console into a session and accept).
//!
//! Owns: those steps. Does not own: what is measured (the section modules).

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use chromiumoxide::cdp::browser_protocol::performance::EnableParams;
use e2e::{
    browser::{Browser, Tab},
    scenario::{ui, TOKEN},
    services::{Binaries, RelayOptions, Service},
};
use protocol::VisitorMsg;

use crate::pages::Recorder;

pub const WAIT: Duration = Duration::from_secs(60);

pub struct World {
    pub relay: Service,
    pub site: Service,
    pub browser: Browser,
}

impl World {
    pub async fn start(bins: &Binaries, dist: &Path, pages: &Path) -> Result<World> {
        let relay = bins.start_relay(&RelayOptions {
            static_dir: dist.to_path_buf(),
            dev_agent_token: Some(TOKEN.into()),
            ..Default::default()
        })?;
        let site = bins.start_site(0, pages, relay.url())?;
        let browser = Browser::launch().await?;
        Ok(World {
            relay,
            site,
            browser,
        })
    }

    /// Opens `<page>-<recorder>.html` in a fresh window and waits until it
    /// has loaded and its recorder's script is there.
    pub async fn open(&self, page: &str, recorder: Recorder) -> Result<Tab> {
        let url = format!("{}/{page}-{}.html", self.site.url(), recorder.suffix());
        let tab = self.browser.open(&url, 1200, 800).await?;
        tab.page
            .execute(EnableParams::default())
            .await
            .context("Performance.enable")?;
        let ready = match recorder {
            Recorder::None => "document.readyState === 'complete'",
            Recorder::Rrweb => "document.readyState === 'complete' && window.rrweb",
            Recorder::Ours => "document.readyState === 'complete' && window.Cobrowse",
        };
        tab.wait_for(&format!("{url} to load"), ready, WAIT).await?;
        // Let the load's own work (layout, image decoding) finish first.
        settle(&tab).await?;
        Ok(tab)
    }

    /// Starts a session on `visitor`, opens the console on its code and
    /// waits until the visitor is asked to accept. Returns the console.
    pub async fn join(&self, visitor: &Tab) -> Result<Tab> {
        let code: String = visitor
            .eval("const s = await Cobrowse.start(); window.__session = s; return s.code;")
            .await
            .context("Cobrowse.start()")?;
        // The console is opened as `localhost`, the page as 127.0.0.1: two
        // sites, so Chromium gives them separate renderer processes and the
        // console's work never lands on the visitor's main thread.
        let url = format!(
            "{}/agent/#token={TOKEN}&code={code}&mode=view",
            self.relay.url().replace("127.0.0.1", "localhost")
        );
        let console = self.browser.open(&url, 1440, 900).await?;
        console
            .wait_for(
                "the console to wait for the visitor",
                "document.documentElement.getAttribute('data-cobrowse-state') === 'waiting'",
                WAIT,
            )
            .await?;
        visitor
            .wait_for(
                "the visitor's accept button",
                &ui("[data-cobrowse-accept]"),
                WAIT,
            )
            .await?;
        settle(visitor).await?;
        Ok(console)
    }

    pub async fn stop(self) {
        self.browser.close().await;
    }
}

/// Clicks accept; returns the page's `performance.now()` at the click.
pub async fn accept(visitor: &Tab) -> Result<f64> {
    visitor
        .eval(&format!(
            "const b = {}; const t = performance.now(); b.click(); return t;",
            ui("[data-cobrowse-accept]")
        ))
        .await
}

/// The page's main-thread busy time so far (Performance.getMetrics'
/// `TaskDuration`), in milliseconds.
pub async fn busy_ms(tab: &Tab) -> Result<f64> {
    let metrics = tab.page.metrics().await.context("Performance.getMetrics")?;
    metrics
        .iter()
        .find(|m| m.name == "TaskDuration")
        .map(|m| m.value * 1000.0)
        .context("no TaskDuration metric")
}

/// Waits for two animation frames and a quiet moment, so rendering work
/// caused by what came before is done.
pub async fn settle(tab: &Tab) -> Result<()> {
    tab.eval::<serde_json::Value>(
        "await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); \
         await new Promise(r => setTimeout(r, 150)); return null;",
    )
    .await
    .map(drop)
}

/// Waits until `expr` (a number) stops changing for `quiet`.
pub async fn until_quiet(tab: &Tab, expr: &str, quiet: Duration) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    let mut last: f64 = tab.eval(&format!("return {expr};")).await?;
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now: f64 = tab.eval(&format!("return {expr};")).await?;
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{expr} kept changing for {WAIT:?}");
        }
    }
}

/// An event frame the visitor sent, as the browser put it on the wire.
pub struct SentEvent {
    pub snapshot: bool,
    pub bytes: usize,
}

/// The event frames `tab` sent from its `from`-th frame on (all frames
/// counted, sent and received).
pub fn sent_events(tab: &Tab, from: usize) -> Vec<SentEvent> {
    tab.frames()
        .into_iter()
        .skip(from)
        .filter(|f| f.sent)
        .filter_map(|f| match protocol::decode::<VisitorMsg>(&f.bytes) {
            Ok(VisitorMsg::Event(e)) => Some(SentEvent {
                snapshot: e.snapshot,
                bytes: f.bytes.len(),
            }),
            _ => None,
        })
        .collect()
}

/// The longest long task (ms) that started at or after `since` (page time).
pub async fn longest_task(tab: &Tab, since: f64) -> Result<f64> {
    // Long-task entries are delivered after the task: give them a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    tab.eval(&format!(
        "return __bench.longtasks.filter(([s]) => s >= {since} - 1).reduce((m, [, d]) => Math.max(m, d), 0);"
    ))
    .await
}

pub async fn close(tab: Tab) {
    let _ = tab.page.close().await;
}
