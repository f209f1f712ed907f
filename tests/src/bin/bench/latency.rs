//! Live latency: one small change on the visitor's page to its appearance in
//! the console's iframe, over 1,000 changes spaced 20 ms apart (latency, not
//! throughput), both windows in the same browser through our relay.
//!
//! Owns: those runs and their rows. Measured on one clock: each side stamps
//! with `performance.timeOrigin + performance.now()` (both renderers derive
//! it from the machine's clock); the visitor just before making the change,
//! the console from a MutationObserver on the iframe's document, which runs
//! right after the console applied the change to the mirror.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{
    pages::Recorder,
    report::{percentile, Row, Runs, Section, Target, Unit},
    world::{self, World, WAIT},
};

pub const CHANGES: usize = 1_000;
const SPACING_MS: u64 = 20;
const FRAME: &str = "document.querySelector('iframe#cobrowse-frame')?.contentDocument";

/// (p50, p99, changes that never showed) for one session.
async fn once(world: &World, page: &str) -> Result<(f64, f64, usize)> {
    let visitor = world.open(page, Recorder::Ours).await?;
    let console = world.join(&visitor).await?;
    world::accept(&visitor).await?;
    console
        .wait_for(
            "the console's iframe to show the page",
            &format!("{FRAME}?.getElementById('bench-end')"),
            WAIT,
        )
        .await?;
    visitor
        .eval::<serde_json::Value>(
            "const e = document.createElement('div'); e.id = 'bench-live'; e.textContent = '0'; \
             document.body.appendChild(e); return null;",
        )
        .await?;
    console
        .wait_for(
            "the live element in the mirror",
            &format!("{FRAME}?.getElementById('bench-live')"),
            WAIT,
        )
        .await?;
    // The mirror's document may be the one the console replaces on a
    // resync; a replaced document would show up as changes never seen.
    console
        .eval::<serde_json::Value>(&format!(
            "const d = {FRAME}; window.__arrived = {{}}; \
             const see = () => {{ const e = d.getElementById('bench-live'); if (!e) return; \
               const n = Number(e.textContent); \
               if (n > 0 && !(n in __arrived)) __arrived[n] = performance.timeOrigin + performance.now(); }}; \
             window.__observer = new MutationObserver(see); \
             __observer.observe(d, {{ subtree: true, childList: true, characterData: true, attributes: true }}); \
             return null;"
        ))
        .await?;
    // The changes run in the page on its own timers; the bench only polls.
    visitor
        .eval::<serde_json::Value>(&format!(
            "window.__made = []; window.__done = false; \
             const e = document.getElementById('bench-live'); \
             (async () => {{ for (let i = 1; i <= {CHANGES}; i++) {{ \
               await new Promise(r => setTimeout(r, {SPACING_MS})); \
               __made.push(performance.timeOrigin + performance.now()); \
               e.firstChild.data = String(i); }} \
             __done = true; }})(); return null;"
        ))
        .await?;
    let deadline = Instant::now() + WAIT + Duration::from_millis(SPACING_MS * CHANGES as u64 * 3);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let done: bool = visitor.eval("return __done;").await?;
        if done {
            break;
        }
        if Instant::now() > deadline {
            bail!("the visitor page did not make its {CHANGES} changes in time");
        }
    }
    // Let the last change arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let made: Vec<f64> = visitor.eval("return __made;").await?;
    let arrived: std::collections::HashMap<String, f64> = console
        .eval("__observer.disconnect(); return __arrived;")
        .await?;
    world::close(console).await;
    world::close(visitor).await;
    let (mut lat, missing) = latencies(&made, &arrived);
    lat.sort_by(f64::total_cmp);
    if lat.is_empty() {
        bail!("no change reached the console's iframe");
    }
    Ok((percentile(&lat, 50.0), percentile(&lat, 99.0), missing))
}

/// Arrival minus making, per change `1..=made.len()`; and how many never
/// arrived.
fn latencies(made: &[f64], arrived: &std::collections::HashMap<String, f64>) -> (Vec<f64>, usize) {
    let mut out = Vec::with_capacity(made.len());
    let mut missing = 0;
    for (i, t) in made.iter().enumerate() {
        match arrived.get(&(i + 1).to_string()) {
            Some(a) => out.push(a - t),
            None => missing += 1,
        }
    }
    (out, missing)
}

pub async fn section(world: &World, page: &str, runs: usize) -> Result<Section> {
    let (mut p50, mut p99) = (Runs::default(), Runs::default());
    let mut missing = Vec::new();
    for run in 0..runs {
        eprintln!("[bench] live latency on {page}: run {}/{runs}", run + 1);
        let (a, b, m) = once(world, page)
            .await
            .with_context(|| format!("live latency on {page}"))?;
        p50.push(a);
        p99.push(b);
        missing.push(m.to_string());
    }
    let row = |what: &str, r: Runs, limit: f64| Row {
        what: what.into(),
        ours: r.show(Unit::Ms),
        rrweb: String::new(),
        judged: r,
        unit: Unit::Ms,
        target: Target::AtMost(limit),
        target_text: format!("≤ {}", Unit::Ms.fmt(limit)),
    };
    Ok(Section {
        title: format!("Live latency (ours only, on {page})"),
        rows: vec![
            row(&format!("change → console's iframe, p50 of {CHANGES}"), p50, 10.0),
            row(&format!("change → console's iframe, p99 of {CHANGES}"), p99, 30.0),
        ],
        notes: vec![
            format!("one text change every {SPACING_MS} ms to an element added after the session went live, {CHANGES} per run; each side stamps `performance.timeOrigin + performance.now()` (the visitor just before the change, the console in a MutationObserver on its iframe's document, i.e. when the mirror holds the change, before it is painted). Changes never seen, per run: {}.", missing.join(", ")),
            "the two windows are separate renderer processes of one headless Chromium on the machine's 2 cores; the relay is its release build, as for the relay section.".into(),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_pair_changes_by_number() {
        let made = [10.0, 30.0, 50.0];
        let arrived = [("1".to_string(), 12.0), ("3".to_string(), 59.0)]
            .into_iter()
            .collect();
        let (lat, missing) = latencies(&made, &arrived);
        assert_eq!(lat, vec![2.0, 9.0]);
        assert_eq!(missing, 1);
    }
}
