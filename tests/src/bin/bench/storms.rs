//! Mutation storms: the same burst of DOM work on a fresh page with no
//! recorder, with rrweb recording, and with ours in a live session; the
//! recorder's cost is the page's main-thread busy time until its output has
//! gone quiet, minus the busy time of the same work with no recorder.
//!
//! Owns: the storms and their rows. Does not own: the pages (`pages.rs`).

use std::time::Duration;

use anyhow::{Context, Result};

use crate::{
    pages::Recorder,
    report::{Row, Runs, Section, Unit},
    world::{self, World},
};

/// Each storm is one synchronous burst; it returns how many things it did.
const STORMS: [(&str, &str); 3] = [
    (
        "append 50k nodes",
        // 5,000 rows of 10 nodes, each row built detached then added live.
        "const host = document.createElement('section'); document.body.appendChild(host); \
         for (let i = 0; i < 5000; i++) { const d = document.createElement('div'); d.className = 'row'; \
           for (let j = 0; j < 4; j++) { const s = document.createElement('span'); s.textContent = 'cell ' + i + '.' + j; d.appendChild(s); } \
           d.appendChild(document.createTextNode(' end')); host.appendChild(d); } \
         return 50000;",
    ),
    (
        "toggle a class on every cell",
        "const cells = document.querySelectorAll('td'); for (const td of cells) td.classList.toggle('on'); return cells.length;",
    ),
    (
        "rewrite 10k text nodes",
        "const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT); let n = 0; \
         while (n < 10000 && w.nextNode()) { w.currentNode.nodeValue = 'changed ' + n; n++; } return n;",
    ),
];

#[derive(Default)]
struct Figures {
    busy: Runs,
    bytes: Runs,
}

/// One storm on a fresh page; returns (busy ms, bytes, things done).
async fn once(
    world: &World,
    page: &str,
    recorder: Recorder,
    storm: &str,
) -> Result<(f64, f64, f64)> {
    let tab = world.open(page, recorder).await?;
    let mut console = None;
    match recorder {
        Recorder::None => {}
        Recorder::Rrweb => {
            tab.eval::<serde_json::Value>(
                "window.__ev = []; window.__stop = rrweb.record({ emit: (e) => __ev.push(e) }); return null;",
            )
            .await?;
        }
        Recorder::Ours => {
            let c = world.join(&tab).await?;
            world::accept(&tab).await?;
            c.wait_for(
                "the console to show the page",
                "document.querySelector('iframe#cobrowse-frame')?.contentDocument?.getElementById('bench-end')",
                world::WAIT,
            )
            .await?;
            console = Some(c);
        }
    }
    // Start from quiet: the snapshot and anything it set off are done.
    world::until_quiet(&tab, "__bench.sent.length", Duration::from_millis(300)).await?;
    world::settle(&tab).await?;
    let frames_before = tab.frames().len();
    let events_before: f64 = tab.eval("return window.__ev ? __ev.length : 0;").await?;
    let before = world::busy_ms(&tab).await?;
    let done: f64 = tab.eval(storm).await?;
    world::settle(&tab).await?;
    let probe = match recorder {
        Recorder::None => "0",
        Recorder::Rrweb => "__ev.length",
        Recorder::Ours => "__bench.sent.length",
    };
    world::until_quiet(&tab, probe, Duration::from_millis(400)).await?;
    let after = world::busy_ms(&tab).await?;
    let bytes = match recorder {
        Recorder::None => 0.0,
        Recorder::Rrweb => {
            tab.eval(&format!(
                "const enc = new TextEncoder(); return __ev.slice({events_before}).reduce((n, e) => n + enc.encode(JSON.stringify(e)).length, 0);"
            ))
            .await?
        }
        Recorder::Ours => world::sent_events(&tab, frames_before)
            .iter()
            .map(|e| e.bytes as f64)
            .sum(),
    };
    if let Some(c) = console {
        world::close(c).await;
    }
    world::close(tab).await;
    Ok((after - before, bytes, done))
}

pub async fn section(world: &World, page: &str, runs: usize) -> Result<Section> {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (name, storm) in STORMS {
        let (mut bare, mut ours, mut theirs) =
            (Runs::default(), Figures::default(), Figures::default());
        let mut done = 0.0;
        for run in 0..runs {
            eprintln!("[bench] storm \"{name}\": run {}/{runs}", run + 1);
            let (b, _, n) = once(world, page, Recorder::None, storm)
                .await
                .with_context(|| format!("storm {name:?} with no recorder"))?;
            let (r, rb, _) = once(world, page, Recorder::Rrweb, storm)
                .await
                .with_context(|| format!("storm {name:?} with rrweb"))?;
            let (o, ob, _) = once(world, page, Recorder::Ours, storm)
                .await
                .with_context(|| format!("storm {name:?} with ours"))?;
            done = n;
            bare.push(b);
            theirs.busy.push(r - b);
            theirs.bytes.push(rb);
            ours.busy.push(o - b);
            ours.bytes.push(ob);
        }
        rows.push(Row::ratio_at_most(
            format!("{name}: recorder overhead"),
            &ours.busy,
            &theirs.busy,
            Unit::Ms,
            1.0,
        ));
        rows.push(Row::ratio_at_most(
            format!("{name}: wire bytes"),
            &ours.bytes,
            &theirs.bytes,
            Unit::Bytes,
            0.5,
        ));
        notes.push(format!(
            "{name}: {done:.0} changes on {page}; the same work with no recorder kept the main thread busy {}.",
            bare.show(Unit::Ms)
        ));
    }
    notes.push("overhead: the visitor page's `TaskDuration` (Performance.getMetrics) from just before the burst until the recorder's output had been quiet for 400 ms (two animation frames included, so rendering counts in every case), minus the same for the same burst on the same page with no recorder, run back to back. Bytes: ours, every event frame the page sent after the burst; rrweb, `JSON.stringify` of every event it emitted after the burst, in UTF-8.".into());
    notes.push("ours runs in a live session with the real console mirroring the page in a second window of the same browser (on 2 cores the console competes for CPU); rrweb has no receiver.".into());
    Ok(Section {
        title: format!("Mutation storms (on {page})"),
        rows,
        notes,
    })
}
