//! Fidelity, measured in pixels (`e2e::fidelity`, which `cargo xtask
//! fidelity` runs over any folder): each page of `tests/fixtures/fidelity/`
//! (one per feature: layout, images, form state, scroll positions, quirks
//! mode, the top layer, WebGL canvases drawn once, and the gaps still open) is loaded directly in the visitor's tab
//! and through the whole path into the console's iframe at the same size,
//! and the two screens are compared pixel by pixel.
//!
//! A page that defines `window.fidelityChanges()` (an async function) or
//! `window.e2eChange()` is compared again after the test has run it in the
//! visitor's tab: the same comparison after a scripted sequence of changes
//! (mutations, CSSOM edits, fonts, changes inside shadow roots and frames,
//! roots attached during the session), not only the first snapshot.
//!
//! `FIDELITY_PAGES=a.html,b.html` limits a run to those pages.
//!
//! Pages listed in `KNOWN_GAPS` are features the mirror does not carry yet
//! (the fidelity issue's work): they must still differ, so that the day one
//! starts matching, this test says to move it to the passing side.

use std::path::PathBuf;

use anyhow::{bail, Result};
use e2e::fidelity::{compare_page, Options, MAX_DIFFERING};
use e2e::scenario::*;

const PAGES: &[&str] = &[
    "layout.html",
    "images.html",
    "forms.html",
    "scroll.html",
    "quirks.html",
    "cssom.html",
    "cssom-styled.html",
    "cssom-fonts.html",
    "blob.html",
    "shadow.html",
    "components.html",
    "frames.html",
    "dialog-modal.html",
    "webgl.html",
];
/// Pages still expected to differ (none: each one fixed moves to PAGES).
const KNOWN_GAPS: &[&str] = &[];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/fidelity")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_look_the_same_in_the_console_pixel_for_pixel() -> Result<()> {
    let world = World::start_pages(&fixtures()).await?;
    let opts = Options {
        require_own_images: true,
        compare_dom: false,
        screenshots: world
            .screenshot_path("x")
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default(),
        prefix: "fidelity".into(),
    };
    let mut failures = Vec::new();
    let only = std::env::var("FIDELITY_PAGES").unwrap_or_default();
    let chosen = |page: &&&str| only.is_empty() || only.split(',').any(|p| p.trim() == **page);
    for page in PAGES.iter().chain(KNOWN_GAPS).filter(chosen) {
        let gap = KNOWN_GAPS.contains(page);
        let report = match compare_page(&world, page, &opts).await {
            Ok(report) => report,
            Err(e) => {
                failures.push(format!("{page}: {e:#}"));
                continue;
            }
        };
        for (label, diff) in report.diffs {
            let share = diff.differing_share();
            eprintln!(
                "[fidelity] {label}: {:.3}% of pixels differ{}",
                share * 100.0,
                if gap { " (known gap)" } else { "" }
            );
            if gap && share <= MAX_DIFFERING {
                failures.push(format!(
                    "{label} now matches: move it from KNOWN_GAPS to PAGES"
                ));
            } else if !gap && share > MAX_DIFFERING {
                failures.push(format!(
                    "{label}: {:.2}% of pixels differ, within {:?} (screenshots in target/e2e-screenshots)",
                    share * 100.0,
                    diff.bounds
                ));
            }
        }
    }
    world.stop().await;
    if !failures.is_empty() {
        bail!("fidelity: {}", failures.join("; "));
    }
    Ok(())
}
