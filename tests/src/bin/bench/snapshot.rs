//! Full snapshot: rrweb's `record()` against ours through the real path
//! (cobrowse.js from the relay, a console joins, the visitor accepts), each
//! alone in a fresh page, back to back, on pages of about 10k, 50k and 100k
//! nodes.
//!
//! Owns: those runs and their rows. Measured from outside both recorders:
//! main-thread busy time (Performance.getMetrics' TaskDuration, the same
//! measure for both), wire bytes, and the longest task (PerformanceObserver
//! 'longtask').

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{
    pages::Recorder,
    report::{Row, Runs, Section, Target, Unit},
    world::{self, World, WAIT},
};

#[derive(Default)]
struct Figures {
    busy: Runs,
    bytes: Runs,
    longest: Runs,
    /// Ours only: from the SnapshotNeeded frame's arrival to the snapshot
    /// frame handed to the socket; rrweb: the `record()` call.
    task: Runs,
    /// Ours only: accept click to the console's iframe showing the page.
    first_view: Runs,
    nodes: f64,
}

/// rrweb's `record()` in a task of its own; the full snapshot is taken
/// inside it, synchronously, on a loaded page.
async fn rrweb_once(world: &World, page: &str, f: &mut Figures) -> Result<()> {
    let tab = world.open(page, Recorder::Rrweb).await?;
    f.nodes = tab
        .eval("const w = document.createTreeWalker(document, 5); let n = 0; while (w.nextNode()) n++; return n;")
        .await?;
    let before = world::busy_ms(&tab).await?;
    let (t0, t1): (f64, f64) = tab
        .eval(
            "return await new Promise(res => setTimeout(() => { window.__ev = []; \
               const t0 = performance.now(); \
               window.__stop = rrweb.record({ emit: (e) => __ev.push(e) }); \
               res([t0, performance.now()]); }, 0));",
        )
        .await?;
    let after = world::busy_ms(&tab).await?;
    let bytes: f64 = tab
        .eval("const e = __ev.find(e => e.type === 2); return e ? new TextEncoder().encode(JSON.stringify(e)).length : 0;")
        .await?;
    if bytes == 0.0 {
        bail!("rrweb emitted no full snapshot event on {page}");
    }
    f.longest.push(world::longest_task(&tab, t0).await?);
    f.busy.push(after - before);
    f.task.push(t1 - t0);
    f.bytes.push(bytes);
    world::close(tab).await;
    Ok(())
}

/// Ours: from the accept click until the snapshot frame is on the wire.
async fn ours_once(world: &World, page: &str, f: &mut Figures) -> Result<()> {
    let visitor = world.open(page, Recorder::Ours).await?;
    let console = world.join(&visitor).await?;
    let from = visitor.frames().len();
    let before = world::busy_ms(&visitor).await?;
    let started = Instant::now();
    let clicked = world::accept(&visitor).await?;
    let deadline = started + WAIT;
    let snapshot = loop {
        if let Some(s) = world::sent_events(&visitor, from)
            .into_iter()
            .find(|e| e.snapshot)
        {
            break s;
        }
        if Instant::now() > deadline {
            bail!("no snapshot frame left the visitor's page within {WAIT:?} of accepting");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let after = world::busy_ms(&visitor).await?;
    // The probe's view of the same frame: the message that asked for it
    // (the last one received before it was sent) to the send returning.
    let task: f64 = visitor
        .eval(&format!(
            "const s = __bench.sent.filter(([t, , n]) => t >= {clicked} && n === {bytes}).pop(); \
             if (!s) return -1; \
             const r = __bench.recv.filter(([t]) => t <= s[0]).pop(); \
             return r ? s[1] - r[0] : -1;",
            bytes = snapshot.bytes
        ))
        .await?;
    f.longest
        .push(world::longest_task(&visitor, clicked).await?);
    f.busy.push(after - before);
    f.bytes.push(snapshot.bytes as f64);
    if task >= 0.0 {
        f.task.push(task);
    }
    console
        .wait_for(
            "the console's iframe to show the end of the page",
            "document.querySelector('iframe#cobrowse-frame')?.contentDocument?.getElementById('bench-end')",
            WAIT,
        )
        .await
        .context("the console never showed the page")?;
    f.first_view.push(started.elapsed().as_secs_f64() * 1000.0);
    world::close(console).await;
    world::close(visitor).await;
    Ok(())
}

pub async fn section(world: &World, pages: &[(String, usize)], runs: usize) -> Result<Section> {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    // One discarded run of each first: the browser's first page of a kind
    // pays for caches (compiled code, fonts) the later ones find warm.
    if let Some((page, _)) = pages.first() {
        eprintln!("[bench] full snapshot: warm-up on {page}");
        rrweb_once(world, page, &mut Figures::default()).await?;
        ours_once(world, page, &mut Figures::default()).await?;
    }
    for (page, _) in pages {
        let (mut ours, mut theirs) = (Figures::default(), Figures::default());
        for run in 0..runs {
            eprintln!("[bench] full snapshot {page}: run {}/{runs}", run + 1);
            rrweb_once(world, page, &mut theirs)
                .await
                .with_context(|| format!("rrweb full snapshot on {page}"))?;
            ours_once(world, page, &mut ours)
                .await
                .with_context(|| format!("our full snapshot on {page}"))?;
        }
        let nodes = format!("{page} ({:.0} nodes)", theirs.nodes);
        let is_largest = Some(page) == pages.last().map(|p| &p.0);
        rows.push(Row::ratio_at_most(
            format!("main-thread time, {nodes}"),
            &ours.busy,
            &theirs.busy,
            Unit::Ms,
            1.0,
        ));
        rows.push(Row::ratio_at_most(
            format!("wire bytes, {page}"),
            &ours.bytes,
            &theirs.bytes,
            Unit::Bytes,
            0.4,
        ));
        rows.push(Row {
            what: format!("longest task, {page}"),
            ours: ours.longest.show(Unit::Ms),
            rrweb: theirs.longest.show(Unit::Ms),
            judged: ours.longest.clone(),
            unit: Unit::Ms,
            target: if is_largest {
                Target::AtMost(50.0)
            } else {
                Target::None
            },
            target_text: if is_largest {
                "ours ≤ 50 ms".into()
            } else {
                String::new()
            },
        });
        notes.push(format!(
            "{page}: the snapshot's own task — ours from the SnapshotNeeded frame's arrival to the snapshot frame handed to the socket: {}; rrweb's `record()` call: {}. Ours, accept click to the console's iframe showing the page's last element: {}.",
            ours.task.show(Unit::Ms),
            theirs.task.show(Unit::Ms),
            ours.first_view.show(Unit::Ms)
        ));
    }
    notes.push("main-thread time is the visitor page's `TaskDuration` (Performance.getMetrics) over the measured span: for rrweb the `record()` task; for ours from just before the accept click until the snapshot frame was seen on the wire (the click, the consent round trip's handling, the walk, the encoding and the send). Ratios are ours ÷ rrweb per run, the two measured back to back in fresh windows of the same browser.".into());
    notes.push("wire bytes: ours is the WebSocket message carrying the snapshot event as the browser sent it; rrweb's is `JSON.stringify` of its full-snapshot event in UTF-8 (no transport framing for either).".into());
    notes.push("ours runs with the real console joined in a second window of the same browser; rrweb has no receiver.".into());
    Ok(Section {
        title: "Full snapshot".into(),
        rows,
        notes,
    })
}
