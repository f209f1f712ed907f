//! Fidelity, measured in pixels: one page loaded directly in the visitor's
//! tab and through the whole path (SDK → relay → console) into the
//! console's iframe at the same size, and the two screens compared pixel by
//! pixel; the two DOMs are compared too. The end-to-end test
//! (`tests/tests/e2e/fidelity.rs`, the project's own fixtures) and
//! `cargo xtask fidelity` (any folder of pages, e.g. rrweb's corpus) both
//! call [`compare_page`]: one comparison, two callers.
//!
//! Owns: bringing one page live, waiting for both sides to settle, running
//! the page's scripted changes, screenshots and their comparison. Does not
//! own: which pages, thresholds' meaning for a suite, or the report.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use crate::browser::Tab;
use crate::pixels::{compare, Diff, Image};
use crate::scenario::{
    first_difference, join_and_accept, mirror_dom, start_via_api, visitor_dom, World, WAIT,
};

/// The visitor's window: the console (AGENT_SIZE) shows it unscaled.
pub const VISITOR: (u32, u32) = (1000, 700);
/// Channel difference a pixel may have (antialiasing).
pub const TOLERANCE: u8 = 16;
/// Share of pixels that may differ beyond [`TOLERANCE`] for a page to pass.
pub const MAX_DIFFERING: f64 = 0.002;

const FRAME: &str = "document.querySelector('iframe#cobrowse-frame')";

/// How one page is compared.
pub struct Options {
    /// A page whose own images are broken compares equal to a mirror with
    /// broken images: with this set that is an error (a broken fixture);
    /// without it, a note (third-party pages that name absent files).
    pub require_own_images: bool,
    /// Also compare the two DOMs (normalised as `scenario` does).
    pub compare_dom: bool,
    /// Where the screenshots go, and the prefix of their names.
    pub screenshots: PathBuf,
    pub prefix: String,
}

/// What comparing one page found.
pub struct PageReport {
    /// `page`, and `page+changes` after its scripted changes if it has any.
    pub diffs: Vec<(String, Diff)>,
    /// `None` when not compared; `Some(None)` equal; `Some(Some(where))`
    /// names the first difference.
    pub dom: Option<Option<String>>,
    /// Things worth saying that are not failures (broken own images).
    pub notes: Vec<String>,
}

/// Brings `page` of the world's site live in a console and compares what
/// the visitor's window and the console's iframe show: once as loaded, and
/// once more after its scripted changes (`window.fidelityChanges()` or
/// `window.e2eChange()`) if it defines them. An error means the page could
/// not be brought live or compared (the message says where it stopped).
pub async fn compare_page(world: &World, page: &str, opts: &Options) -> Result<PageReport> {
    let (w, h) = VISITOR;
    let visitor = world
        .browser
        .open(&format!("{}/{page}", world.site.url()), w, h)
        .await?;
    let live = async {
        visitor
            .wait_for(
                "the SDK to load",
                "window.Cobrowse && document.readyState === 'complete'",
                WAIT,
            )
            .await?;
        let code = start_via_api(&visitor).await?;
        join_and_accept(world, &visitor, &code, "view").await
    }
    .await;
    let result = match &live {
        Ok(console) => compare_live(&visitor, console, page, opts).await,
        Err(e) => Err(anyhow::anyhow!("did not go live: {e:#}")),
    };
    let _ = visitor
        .eval::<Value>("window.e2eSession?.end(); return null;")
        .await;
    let _ = visitor.page.clone().close().await;
    if let Ok(console) = live {
        let _ = console.page.clone().close().await;
    }
    result
}

async fn compare_live(
    visitor: &Tab,
    console: &Tab,
    page: &str,
    opts: &Options,
) -> Result<PageReport> {
    settled(console, &format!("{FRAME}.contentDocument")).await?;
    settled(visitor, "document").await?;
    let mut notes = Vec::new();
    let broken: Vec<String> = visitor
        .eval("return [...document.images].filter(i => i.src && !i.naturalWidth).map(i => i.src);")
        .await?;
    if !broken.is_empty() {
        ensure!(
            !opts.require_own_images,
            "{page}: the fixture's own images did not load: {broken:?}"
        );
        notes.push(format!("the page's own images are broken: {broken:?}"));
    }

    // The visitor's UI (the session frame, the panel) is not part of the page.
    // Over a page's modal the panel is in a modal dialog of its own, which
    // the browser keeps visible whatever the host says: hidden too.
    visitor
        .eval::<Value>(
            "const ui = document.querySelector('cobrowse-ui'); \
             if (ui) ui.style.visibility = 'hidden'; \
             ui?.shadowRoot?.querySelectorAll('dialog').forEach(d => d.style.visibility = 'hidden'); \
             return null;",
        )
        .await?;
    let name = page.trim_end_matches(".html").replace('/', "-");
    let mut diffs = vec![(
        page.to_owned(),
        compare_now(visitor, console, &name, opts).await?,
    )];
    let dom = if opts.compare_dom {
        Some(dom_difference(visitor, console).await?)
    } else {
        None
    };
    let scripted: bool = visitor
        .eval(
            "return typeof window.fidelityChanges === 'function' \
             || typeof window.e2eChange === 'function';",
        )
        .await?;
    if scripted {
        visitor
            .eval::<Value>(
                "if (window.fidelityChanges) await window.fidelityChanges(); \
                 else window.e2eChange(); return null;",
            )
            .await?;
        // The changes reach the console within a frame or two (a frame
        // document's may take a load event more); then both sides load
        // what the changes brought.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        settled(console, &format!("{FRAME}.contentDocument")).await?;
        settled(visitor, "document").await?;
        let after = compare_now(visitor, console, &format!("{name}-changed"), opts).await?;
        diffs.push((format!("{page}+changes"), after));
    }
    Ok(PageReport { diffs, dom, notes })
}

/// Waits until `doc` has every image and font it will get, and every
/// video or audio element shows a frame where it is (or gave up: an error,
/// or the browser stopped loading it, as with `preload="none"`).
async fn settled(tab: &Tab, doc: &str) -> Result<()> {
    tab.wait_for(
        "images, fonts and media to load",
        &format!(
            "(() => {{ const d = {doc}; return d && d.readyState === 'complete' && \
               [...d.images].every(i => i.complete) && d.fonts.status === 'loaded' && \
               [...d.querySelectorAll('video, audio')].every(m => m.error || \
                 ((m.readyState >= 2 || m.networkState !== 2) && !m.seeking)); }})()"
        ),
        Duration::from_secs(30),
    )
    .await?;
    // Background images and SVG sprites have no load event to wait on.
    tokio::time::sleep(Duration::from_millis(800)).await;
    Ok(())
}

/// The first difference between the two normalised DOMs, given a few
/// seconds to converge (`None`: equal).
async fn dom_difference(visitor: &Tab, console: &Tab) -> Result<Option<String>> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (want, got) = (visitor_dom(visitor).await?, mirror_dom(console).await?);
        if want == got {
            return Ok(None);
        }
        if Instant::now() > deadline {
            return Ok(Some(first_difference(&want, &got, "document")));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Screenshots the visitor's window and the console's iframe as they are
/// now and compares them (saving both, and a zoom where they differ).
async fn compare_now(visitor: &Tab, console: &Tab, name: &str, opts: &Options) -> Result<Diff> {
    let (w, h) = VISITOR;
    let seen = Image::decode(
        &visitor
            .screenshot_region(0.0, 0.0, f64::from(w), f64::from(h))
            .await?,
    )?;
    let at: Option<[f64; 3]> = console
        .eval(&format!(
            "const f = {FRAME}; const r = f.getBoundingClientRect(); \
             if (Math.abs(r.width / f.offsetWidth - 1) > 1e-6) return null; \
             return [Math.round(r.left + f.clientLeft), Math.round(r.top + f.clientTop), f.clientWidth];"
        ))
        .await?;
    let [x, y, width] =
        at.context("the console shows the page scaled; pixels cannot compare one to one")?;
    ensure!(
        width == f64::from(w),
        "the console's iframe is {width} px wide, the visitor's window {w}"
    );
    let shown = Image::decode(
        &console
            .screenshot_region(x, y, f64::from(w), f64::from(h))
            .await?,
    )?;
    let path = |what: &str| {
        opts.screenshots
            .join(format!("{}-{name}-{what}.png", opts.prefix))
    };
    std::fs::create_dir_all(&opts.screenshots)?;
    visitor.screenshot(&path("visitor")).await?;
    console.screenshot(&path("console")).await?;
    let diff = compare(&seen, &shown, TOLERANCE)?;
    if diff.differing_share() > MAX_DIFFERING {
        // Where they differ, zoomed, next to the full screenshots.
        if let Some([l, t, r, b]) = diff.bounds {
            let area = [l, t, (r - l + 1).min(300), (b - t + 1).min(200)];
            seen.write_region(&path("diff-visitor"), area, 3)?;
            shown.write_region(&path("diff-console"), area, 3)?;
        }
    }
    Ok(diff)
}
