//! Headless Chromium (Debian's), driven over the DevTools protocol.
//!
//! Owns: launching a throw-away browser profile, tabs with their own viewport
//! size, evaluating JavaScript, waiting on conditions, screenshots, a log
//! of every WebSocket frame a tab sent or received (to prove what did and did
//! not leave the page), and a log of every HTTP request it made (to prove
//! whom it talked to). A tab may get a browser context of its own: cookies
//! and cache as in another person's browser.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use chromiumoxide::{
    cdp::browser_protocol::{
        emulation::SetDeviceMetricsOverrideParams,
        network::{
            EnableParams, EventRequestWillBeSent, EventWebSocketFrameReceived,
            EventWebSocketFrameSent,
        },
        page::{CaptureScreenshotFormat, Viewport},
        target::{CreateBrowserContextParams, CreateTargetParams},
    },
    page::ScreenshotParams,
    BrowserConfig, Page,
};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

pub const CHROMIUM: &str = "/usr/bin/chromium";
const EVAL_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Browser {
    inner: chromiumoxide::Browser,
    handler: tokio::task::JoinHandle<()>,
    profile: PathBuf,
}

impl Browser {
    pub async fn launch() -> Result<Browser> {
        let executable = std::env::var("COBROWSE_CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
        if !Path::new(&executable).exists() {
            bail!("{executable} is missing: `cargo xtask test` installs Debian's chromium");
        }
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let profile = std::env::temp_dir().join(format!(
            "cobrowse-e2e-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let config = BrowserConfig::builder()
            .chrome_executable(&executable)
            .new_headless_mode()
            .no_sandbox()
            .user_data_dir(&profile)
            .window_size(1400, 1000)
            .viewport(None)
            .args([
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-features=Translate,MediaRouter,OptimizationHints",
            ])
            .launch_timeout(Duration::from_secs(60))
            .request_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| anyhow!("browser config: {e}"))?;
        let (inner, mut events) = chromiumoxide::Browser::launch(config)
            .await
            .context("launching Chromium")?;
        let handler = tokio::spawn(async move { while events.next().await.is_some() {} });
        Ok(Browser {
            inner,
            handler,
            profile,
        })
    }

    /// A new tab of `width`×`height` CSS pixels showing `url`.
    pub async fn open(&self, url: &str, width: u32, height: u32) -> Result<Tab> {
        self.open_in(url, width, height, false).await
    }

    /// A new tab in a browser context of its own: no cookies, storage or
    /// cache shared with other tabs — another person's browser.
    pub async fn open_private(&self, url: &str, width: u32, height: u32) -> Result<Tab> {
        self.open_in(url, width, height, true).await
    }

    async fn open_in(&self, url: &str, width: u32, height: u32, private: bool) -> Result<Tab> {
        // A window per tab: a background tab gets no frames, so input sent to
        // it is never acknowledged (and the visitor and the agent are on
        // different screens anyway).
        let mut target = CreateTargetParams::builder()
            .url("about:blank")
            .new_window(true)
            .build()
            .map_err(|e| anyhow!(e))?;
        if private {
            let context = self
                .inner
                .create_browser_context(CreateBrowserContextParams::default())
                .await
                .context("creating a browser context")?;
            target.browser_context_id = Some(context);
        }
        let page = self.inner.new_page(target).await?;
        page.execute(
            SetDeviceMetricsOverrideParams::builder()
                .width(width)
                .height(height)
                .device_scale_factor(1.0)
                .mobile(false)
                .build()
                .map_err(|e| anyhow!(e))?,
        )
        .await?;
        let tab = Tab {
            page,
            frames: Arc::default(),
            requests: Arc::default(),
        };
        tab.record_websocket_frames().await?;
        tab.record_requests().await?;
        tab.page
            .goto(url)
            .await
            .with_context(|| format!("opening {url}"))?;
        Ok(tab)
    }

    pub async fn close(mut self) {
        let _ = self.inner.close().await;
        let _ = self.inner.wait().await;
        self.handler.abort();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A WebSocket frame as the browser saw it.
#[derive(Debug, Clone)]
pub struct Frame {
    pub sent: bool,
    pub bytes: Vec<u8>,
}

/// An HTTP request as the browser started it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
}

pub struct Tab {
    pub page: Page,
    frames: Arc<Mutex<Vec<Frame>>>,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Tab {
    async fn record_requests(&self) -> Result<()> {
        let mut sent = self.page.event_listener::<EventRequestWillBeSent>().await?;
        let log = self.requests.clone();
        tokio::spawn(async move {
            while let Some(e) = sent.next().await {
                if let Ok(mut log) = log.lock() {
                    log.push(Request {
                        method: e.request.method.clone(),
                        url: e.request.url.clone(),
                    });
                }
            }
        });
        Ok(())
    }

    /// Every HTTP request this tab (and its frames) started so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    async fn record_websocket_frames(&self) -> Result<()> {
        self.page.execute(EnableParams::default()).await?;
        let mut sent = self
            .page
            .event_listener::<EventWebSocketFrameSent>()
            .await?;
        let mut received = self
            .page
            .event_listener::<EventWebSocketFrameReceived>()
            .await?;
        let log = self.frames.clone();
        tokio::spawn(async move {
            loop {
                let (is_sent, frame) = tokio::select! {
                    Some(e) = sent.next() => (true, e.response.clone()),
                    Some(e) = received.next() => (false, e.response.clone()),
                    else => break,
                };
                // Opcode 1 is text (UTF-8 as is); others are base64 binary.
                let bytes = if frame.opcode as u32 == 1 {
                    frame.payload_data.into_bytes()
                } else {
                    base64::engine::general_purpose::STANDARD
                        .decode(frame.payload_data.as_bytes())
                        .unwrap_or_else(|_| frame.payload_data.into_bytes())
                };
                if let Ok(mut log) = log.lock() {
                    log.push(Frame {
                        sent: is_sent,
                        bytes,
                    });
                }
            }
        });
        Ok(())
    }

    /// Every WebSocket frame this tab sent or received so far.
    pub fn frames(&self) -> Vec<Frame> {
        self.frames.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Runs `body` as the body of an async function in the page and returns
    /// its JSON result.
    pub async fn eval<T: DeserializeOwned>(&self, body: &str) -> Result<T> {
        // The result crosses as JSON text: null and undefined come back as
        // `null` instead of "no value".
        let function =
            format!("async () => JSON.stringify((await (async () => {{ {body} }})()) ?? null)");
        // A page stuck in a long task never answers: fail, don't hang.
        let result = tokio::time::timeout(EVAL_TIMEOUT, self.page.evaluate_function(function))
            .await
            .map_err(|_| anyhow!("the page did not answer within {EVAL_TIMEOUT:?}: {body}"))?
            .with_context(|| format!("evaluating: {body}"))?;
        let json: String = result
            .into_value()
            .with_context(|| format!("result of: {body}"))?;
        serde_json::from_str(&json).with_context(|| format!("result of: {body}: {json}"))
    }

    /// Polls `expr` (a JavaScript expression) until it is truthy, and returns
    /// its value; fails after `timeout` naming `what`.
    pub async fn wait_for(
        &self,
        what: &str,
        expr: &str,
        timeout: Duration,
    ) -> Result<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            match self
                .eval::<serde_json::Value>(&format!(
                    "try {{ return ({expr}); }} catch (e) {{ return null; }}"
                ))
                .await
            {
                Ok(v) if truthy(&v) => return Ok(v),
                Ok(v) => last = v,
                Err(e) => last = serde_json::Value::String(e.to_string()),
            }
            if Instant::now() > deadline {
                bail!("timed out after {timeout:?} waiting for {what} (last value: {last})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let png = self
            .page
            .screenshot(
                ScreenshotParams::builder()
                    .format(CaptureScreenshotFormat::Png)
                    .build(),
            )
            .await?;
        std::fs::write(path, png)?;
        Ok(())
    }

    /// A PNG of the region `x, y, width, height` (CSS px of the page's
    /// viewport), one image pixel per CSS pixel.
    pub async fn screenshot_region(
        &self,
        x: f64,
        y: f64,
        width: f64,
        height: f64,
    ) -> Result<Vec<u8>> {
        // The protocol's clip is in document coordinates: add the scroll.
        let [sx, sy]: [f64; 2] = self
            .eval("return [window.visualViewport.pageLeft, window.visualViewport.pageTop];")
            .await?;
        let clip = Viewport {
            x: x + sx,
            y: y + sy,
            width,
            height,
            scale: 1.0,
        };
        let png = self
            .page
            .screenshot(
                ScreenshotParams::builder()
                    .format(CaptureScreenshotFormat::Png)
                    .clip(clip)
                    .build(),
            )
            .await?;
        Ok(png)
    }

    /// Clicks the element and types `text` with real key events.
    pub async fn type_into(&self, selector: &str, text: &str) -> Result<()> {
        let typing = async {
            self.page.bring_to_front().await?;
            let element = self
                .page
                .find_element(selector)
                .await
                .with_context(|| format!("finding {selector}"))?;
            element.click().await?;
            element.type_str(text).await?;
            anyhow::Ok(())
        };
        tokio::time::timeout(EVAL_TIMEOUT, typing)
            .await
            .map_err(|_| anyhow!("typing into {selector} did not finish within {EVAL_TIMEOUT:?}"))?
    }
}

fn truthy(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
        serde_json::Value::String(s) => !s.is_empty(),
        _ => true,
    }
}
