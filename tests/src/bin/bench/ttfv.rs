//! Time to first view: from the visitor's accept click to the console's
//! iframe showing the page's last element, both windows through our relay on
//! loopback, for pages whose serialized DOM is about 0.5, 2 and 8 MB.
//!
//! Owns: those runs and their rows. Measured from the bench process (one
//! clock for both windows), polling the console every 10 ms.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{
    pages::Recorder,
    report::{Row, Runs, Section, Target, Unit},
    world::{self, World, WAIT},
};

fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Returns (accept → shown ms, of which accept → snapshot sent ms, page size).
async fn once(world: &World, page: &str) -> Result<(f64, f64, f64)> {
    let visitor = world.open(page, Recorder::Ours).await?;
    let html: f64 = visitor
        .eval("return document.documentElement.outerHTML.length;")
        .await?;
    let console = world.join(&visitor).await?;
    let shown = "document.querySelector('iframe#cobrowse-frame')?.contentDocument?.getElementById('bench-end') ? 1 : 0";
    let started = Instant::now();
    let clicked_at = epoch_ms();
    world::accept(&visitor).await?;
    loop {
        let done: f64 = console.eval(&format!("return {shown};")).await?;
        if done > 0.0 {
            break;
        }
        if started.elapsed() > WAIT {
            bail!("the console did not show {page} within {WAIT:?} of accepting");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    // The snapshot is the largest frame the page sent; both windows and the
    // bench share the machine's clock.
    let sent_at: f64 = visitor
        .eval("const s = __bench.sent.reduce((a, b) => b[2] > a[2] ? b : a, [0, 0, 0]); return performance.timeOrigin + s[1];")
        .await?;
    world::close(console).await;
    world::close(visitor).await;
    Ok((ms, sent_at - clicked_at, html))
}

/// `pages`: (page name, target serialized size in MB).
pub async fn section(world: &World, pages: &[(String, f64)], runs: usize) -> Result<Section> {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (page, mb) in pages {
        let mut times = Runs::default();
        let mut visitor_part = Runs::default();
        let mut html = 0.0;
        for run in 0..runs {
            eprintln!("[bench] time to first view {page}: run {}/{runs}", run + 1);
            let (ms, sent, size) = once(world, page)
                .await
                .with_context(|| format!("time to first view on {page}"))?;
            times.push(ms);
            visitor_part.push(sent);
            html = size;
        }
        let limit = match *mb {
            m if m <= 0.5 => None,
            m if m <= 2.0 => Some(1000.0),
            _ => Some(3000.0),
        };
        notes.push(format!(
            "{}: of that, accept → the snapshot frame handed to the visitor's socket: {}; the rest is the relay, the console's decoding and building the mirror.",
            Unit::Bytes.fmt(html),
            visitor_part.show(Unit::Ms)
        ));
        rows.push(Row {
            what: format!("accept → console shows page, {}", Unit::Bytes.fmt(html)),
            ours: times.show(Unit::Ms),
            rrweb: String::new(),
            judged: times,
            unit: Unit::Ms,
            target: limit.map_or(Target::None, Target::AtMost),
            target_text: limit.map_or(String::new(), |l| format!("< {}", Unit::Ms.fmt(l))),
        });
    }
    Ok(Section {
        title: "Time to first view (ours only)".into(),
        rows,
        notes: [notes, vec![
            "size is the visitor page's `documentElement.outerHTML` length. Timed on the bench's clock from the accept click's CDP call to the first poll (every 10 ms, each a CDP round trip) that finds the page's last element in the console's iframe; the relay is the debug build `cargo xtask bench` builds.".into(),
        ]].concat(),
    })
}
