//! Third-party pages (rrweb's own snapshot fixtures, in ../shared/corpus),
//! served with the SDK's tag added as a site owner would add it: each must
//! go live in the console and mirror with the same DOM, open shadow roots
//! included. A frame's document is not compared here (a cross-origin one is
//! a placeholder in the console); `fidelity.rs` compares frames in pixels.

use std::path::PathBuf;

use anyhow::Result;
use e2e::scenario::*;
use serde_json::Value;

/// `../shared/corpus` beside the project (as CI lays it out), or the folder
/// named by `COBROWSE_CORPUS`.
fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("COBROWSE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/corpus/rrweb/snapshot/html")
        });
    dir.is_dir().then_some(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rrweb_snapshot_pages_go_live_and_mirror() -> Result<()> {
    let Some(dir) = corpus() else {
        anyhow::bail!(
            "../shared/corpus/rrweb/snapshot/html is missing next to the project \
             (or set COBROWSE_CORPUS to a folder of pages)"
        );
    };
    let world = World::start_pages(&dir).await?;
    let mut pages: Vec<String> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".html"))
        .collect();
    pages.sort();
    let mut table = Vec::new();
    for page in &pages {
        let outcome = mirror_page(&world, page).await;
        eprintln!(
            "[corpus] {page}: {}",
            outcome
                .as_ref()
                .map_or_else(|e| format!("{e:#}"), |()| "ok".into())
        );
        table.push((page.clone(), outcome.is_ok()));
    }
    let failed: Vec<_> = table
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(p, _)| p.as_str())
        .collect();
    world.stop().await;
    anyhow::ensure!(failed.is_empty(), "pages that did not mirror: {failed:?}");
    Ok(())
}

async fn mirror_page(world: &World, page: &str) -> Result<()> {
    let visitor = world.visitor(page).await?;
    let code = start_via_api(&visitor).await?;
    let console = join_and_accept(world, &visitor, &code, "view").await?;
    let result = assert_mirrored(&visitor, &console).await;
    let _ = visitor
        .eval::<Value>("window.e2eSession?.end(); return null;")
        .await;
    let _ = visitor.page.clone().close().await;
    let _ = console.page.clone().close().await;
    result
}
