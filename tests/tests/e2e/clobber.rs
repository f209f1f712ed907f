//! DOM clobbering through the real relay and console: pages whose markup
//! shadows a form's members (`<input name="nextSibling">`) or the
//! document's (`<img name="createElement">`) start, and mirror whole in the
//! console's iframe, and a masked form among such controls sends nothing
//! masked (`tests/fixtures/clobber/`).

use std::path::PathBuf;

use anyhow::{ensure, Result};
use e2e::scenario::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/clobber")
}

/// `[inputs, #last paragraphs, whether any "CLOBCANARY" is in the markup]`
/// of `doc`, read through the prototypes (the page's own members may be
/// shadowed on both sides).
fn census(doc: &str) -> String {
    format!(
        "const d = {doc}; const D = Document.prototype; \
         const q = (s) => D.querySelectorAll.call(d, s).length; \
         const root = Object.getOwnPropertyDescriptor(D, 'documentElement').get.call(d); \
         const html = Object.getOwnPropertyDescriptor(Element.prototype, 'outerHTML').get.call(root); \
         return [q('input'), q('#last'), html.includes('CLOBCANARY')];"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_whose_markup_shadows_form_and_document_members_mirror_whole() -> Result<()> {
    let world = World::start_pages(&fixtures()).await?;
    // doc.html (every document member named at once) starts, is accepted,
    // and then its snapshot does not reach the console yet: a member still
    // read on the document itself (cssom's styleSheets/fonts or another):
    // open, see the brief's report. The visitor's browser tests cover a
    // narrower set (tests/browser/clobber.rs).
    for page in ["form.html", "real.html"] {
        // Started through the API: these pages have no start button.
        step(&format!("visitor opens /{page}"));
        let visitor = world.visitor(page).await?;
        let code = start_via_api(&visitor).await?;
        let console = join_and_accept(&world, &visitor, &code, "view").await?;
        assert_mirrored(&visitor, &console).await?;
        let (inputs, last, _): (u32, u32, bool) = visitor.eval(&census("document")).await?;
        let (mirrored, mirrored_last, canary): (u32, u32, bool) = console
            .eval(&census(
                "document.querySelector('iframe#cobrowse-frame').contentDocument",
            ))
            .await?;
        step(&format!(
            "{page}: {inputs} inputs on the page, {mirrored} in the console"
        ));
        ensure!(
            inputs > 0 && mirrored == inputs,
            "{page}: {mirrored} of {inputs} inputs mirrored"
        );
        ensure!(
            last == 1 && mirrored_last == 1,
            "{page}: the paragraph after the forms is missing"
        );
        ensure!(!canary, "{page}: masked text or values reached the console");
    }
    world.stop().await;
    Ok(())
}
