//! Canvas capture: what a 1080p frame costs the visitor's main thread
//! (read, hash, diff, and handing the changed area to the browser's
//! encoder) and its bytes, and what a typical chart update costs on the
//! wire. Ours only: rrweb's canvas recording is off by default and not
//! compared.
//!
//! Owns: its two pages (written next to the other bench pages) and its
//! rows. Does not own: the session plumbing (`world.rs`).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::{
    pages::Recorder,
    report::{Row, Runs, Section, Target, Unit},
    world::{self, World},
};

/// Full-canvas redraws per run on the 1080p page.
const REDRAWS: usize = 8;
/// Chart updates per run.
const UPDATES: u32 = 8;

/// A 1920×1080 canvas whose every redraw changes every tile (a gradient and
/// 400 random rectangles: photo-like, the worst case for the diff and the
/// encoder). The byte budget is lifted so each redraw is captured once and
/// the figure is the cost of a frame, not of the budget's waiting.
const HD_BODY: &str = r#"<body style="margin:0"><canvas id="hd" width="1920" height="1080" style="width:1000px;height:563px"></canvas>
<script>
  const c = document.getElementById('hd').getContext('2d');
  let seed = 1;
  const r = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296;
  window.redraw = (n) => {
    const g = c.createLinearGradient(0, 0, 1920, 1080);
    g.addColorStop(0, `hsl(${n * 37 % 360}, 60%, 55%)`); g.addColorStop(1, `hsl(${n * 91 % 360}, 60%, 35%)`);
    c.fillStyle = g; c.fillRect(0, 0, 1920, 1080);
    for (let i = 0; i < 400; i++) { c.fillStyle = `hsla(${r() * 360}, 70%, 50%, 0.6)`; c.fillRect(r() * 1900, r() * 1060, 20 + r() * 200, 20 + r() * 120); }
  };
  redraw(0);
  if (window.Cobrowse) { const start = Cobrowse.start; Cobrowse.start = (o) => start(Object.assign({ canvas: { bytesPerSecond: 100000000, fps: 10 } }, o)); }
</script></body>"#;

/// The e2e fixture's chart (bars, axes, a label) with the default limits.
const CHART_BODY: &str = r#"<body style="margin:0"><canvas id="chart" width="600" height="300" style="width:600px;height:300px"></canvas>
<script>
  function rand(seed) { let s = seed >>> 0; return () => (s = (s * 1664525 + 1013904223) >>> 0) / 4294967296; }
  const c = document.getElementById('chart').getContext('2d');
  window.drawChart = (step) => {
    const r = rand(step + 1);
    c.fillStyle = '#fff'; c.fillRect(0, 0, 600, 300);
    c.strokeStyle = '#888'; c.beginPath(); c.moveTo(40, 10); c.lineTo(40, 270); c.lineTo(590, 270); c.stroke();
    const colors = ['#2563eb', '#16a34a', '#dc2626', '#d97706', '#7c3aed', '#0891b2'];
    for (let i = 0; i < 8; i++) { const h = 20 + Math.floor(r() * 230); c.fillStyle = colors[i % 6]; c.fillRect(60 + i * 65, 270 - h, 40, h); }
    c.fillStyle = '#111'; c.font = '14px sans-serif'; c.fillText('step ' + step, 480, 24);
  };
  drawChart(0);
</script></body>"#;

/// Writes `canvas-hd-{none,ours}.html` and `canvas-chart-ours.html`.
pub fn write_pages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, body) in [("canvas-hd", HD_BODY), ("canvas-chart", CHART_BODY)] {
        for recorder in [Recorder::None, Recorder::Ours] {
            let script = match recorder {
                Recorder::Ours => {
                    "<script src=\"{{RELAY}}/sdk/cobrowse.js\" data-relay=\"{{RELAY}}\"></script>"
                }
                _ => "",
            };
            let html = format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Canvas bench</title>\
                 <script src=\"probe.js\"></script>{script}</head>{body}</html>"
            );
            let file = dir.join(format!("{name}-{}.html", recorder.suffix()));
            std::fs::write(&file, html).with_context(|| format!("writing {}", file.display()))?;
        }
    }
    Ok(())
}

/// Main-thread ms for REDRAWS redraws, with or without a watched session,
/// and (ours) the bytes sent per frame and the longest task.
async fn hd_once(world: &World, recorder: Recorder) -> Result<(f64, f64, f64)> {
    let tab = world.open("canvas-hd", recorder).await?;
    let console = match recorder {
        Recorder::Ours => {
            let c = world.join(&tab).await?;
            world::accept(&tab).await?;
            Some(c)
        }
        _ => None,
    };
    world::until_quiet(&tab, "__bench.sent.length", Duration::from_millis(800)).await?;
    world::settle(&tab).await?;
    let frames_before = tab.frames().len();
    let since: f64 = tab.eval("return performance.now();").await?;
    let before = world::busy_ms(&tab).await?;
    for n in 1..=REDRAWS {
        tab.eval::<serde_json::Value>(&format!("redraw({n}); return null;"))
            .await?;
        // Longer than the 10 fps interval: every redraw is read once.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    world::until_quiet(&tab, "__bench.sent.length", Duration::from_millis(800)).await?;
    let after = world::busy_ms(&tab).await?;
    let longest = world::longest_task(&tab, since).await?;
    let bytes: f64 = world::sent_events(&tab, frames_before)
        .iter()
        .map(|e| e.bytes as f64)
        .sum();
    if let Some(c) = console {
        world::close(c).await;
    }
    world::close(tab).await;
    Ok((after - before, bytes / REDRAWS as f64, longest))
}

/// Bytes on the wire for each chart update (default limits).
async fn chart_once(world: &World) -> Result<Vec<f64>> {
    let tab = world.open("canvas-chart", Recorder::Ours).await?;
    let console = world.join(&tab).await?;
    world::accept(&tab).await?;
    world::until_quiet(&tab, "__bench.sent.length", Duration::from_millis(800)).await?;
    let mut out = Vec::new();
    for n in 1..=UPDATES {
        let from = tab.frames().len();
        tab.eval::<serde_json::Value>(&format!("drawChart({n}); return null;"))
            .await?;
        world::until_quiet(&tab, "__bench.sent.length", Duration::from_millis(600)).await?;
        let bytes: usize = world::sent_events(&tab, from).iter().map(|e| e.bytes).sum();
        out.push(bytes as f64);
    }
    world::close(console).await;
    world::close(tab).await;
    Ok(out)
}

fn info(what: &str, runs: &Runs, unit: Unit) -> Row {
    Row {
        what: what.into(),
        ours: runs.show(unit),
        rrweb: "—".into(),
        judged: runs.clone(),
        unit,
        target: Target::None,
        target_text: "—".into(),
    }
}

pub async fn section(world: &World, runs: usize) -> Result<Section> {
    let (mut cost, mut bytes, mut longest, mut chart) = (
        Runs::default(),
        Runs::default(),
        Runs::default(),
        Runs::default(),
    );
    for run in 0..runs {
        eprintln!("[bench] canvas: run {}/{runs}", run + 1);
        let (bare, _, _) = hd_once(world, Recorder::None)
            .await
            .context("1080p page, no recorder")?;
        let (ours, b, l) = hd_once(world, Recorder::Ours)
            .await
            .context("1080p page, ours")?;
        cost.push((ours - bare) / REDRAWS as f64);
        bytes.push(b);
        longest.push(l);
        for b in chart_once(world).await.context("chart page")? {
            chart.push(b);
        }
    }
    // The capture must never be a long task (50 ms) on the page; its total
    // cost per frame is shown (the budget decides how many frames a second
    // a page pays it for).
    let mut longest_row = info("1080p: longest task while capturing", &longest, Unit::Ms);
    longest_row.target = Target::AtMost(50.0);
    longest_row.target_text = "≤ 50 ms".into();
    Ok(Section {
        title: "Canvas capture".into(),
        rows: vec![
            info(
                "1080p full change: visitor main thread per frame",
                &cost,
                Unit::Ms,
            ),
            info("1080p full change: bytes per frame", &bytes, Unit::Bytes),
            longest_row,
            info("chart update (600×300): bytes on the wire", &chart, Unit::Bytes),
        ],
        notes: vec![
            format!("1080p: {REDRAWS} redraws of a 1920×1080 canvas (gradient + 400 translucent rectangles, every tile changes), 400 ms apart, in a watched session with the byte budget lifted; per-frame cost = (`TaskDuration` with the session − without) ÷ {REDRAWS}. It covers reading the pixels (a half-size drawImage and getImageData above 1.5 MP), hashing the tiles in wasm, the diff, the full-size copy handed to `convertToBlob` (WebP, encoded off the main thread) and sending; with the default 48 KB/s budget a page pays it about once a second for such content. Longest task: the longest task (PerformanceObserver `longtask`, ≥ 50 ms; 0 = none) from the first redraw until the output was quiet."),
            format!("chart: {UPDATES} updates of the e2e fixture's bar chart, one at a time with default limits; each figure is every event frame the page sent for one update (tiles of the changed bars and label)."),
        ],
    })
}
