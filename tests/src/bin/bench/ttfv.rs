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

/// One run's figures, in ms from the accept click unless said otherwise.
struct Once {
    shown: f64,
    /// The snapshot frame handed to the visitor's socket.
    sent: f64,
    /// The console began handling the snapshot frame (it had arrived whole).
    arrived: f64,
    /// How long the console's handling took (decode and build), ms.
    built_in: f64,
    /// The browser's style, layout and paint of the frame that followed
    /// it in the console, ms (-1 without Long Animation Frame timing).
    rendered_in: f64,
    /// The page's `outerHTML` length.
    html: f64,
}

async fn once(world: &World, page: &str) -> Result<Once> {
    let visitor = world.open(page, Recorder::Ours).await?;
    let html: f64 = visitor
        .eval("return document.documentElement.outerHTML.length;")
        .await?;
    let console = world.join(&visitor).await?;
    // The console's long animation frames (Chromium's Long Animation Frame
    // timing): the one holding the snapshot's handling says how long the
    // browser then spent on style, layout and paint.
    let _: serde_json::Value = console
        .eval(
            "window.__benchFrames = []; try { new PerformanceObserver(l => { for (const e of l.getEntries()) \
             __benchFrames.push([e.startTime, e.duration, e.renderStart]); }).observe({ type: 'long-animation-frame', buffered: true }); } catch (e) {} return null;",
        )
        .await?;
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
    // The console's own timing of the snapshot frame (a User Timing measure
    // around its largest frames): when it started handling it, for how long.
    let (handled_at, built_in): (f64, f64) = console
        .eval(
            "const m = performance.getEntriesByName('cobrowse:large-frame').reduce((a, b) => b.duration > a.duration ? b : a, {startTime: 0, duration: -1}); \
             return m.duration >= 0 ? [performance.timeOrigin + m.startTime, m.duration] : [-1, -1];",
        )
        .await?;
    // Frame entries are reported after the frame: give it a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rendered_in: f64 = console
        .eval(
            "const m = performance.getEntriesByName('cobrowse:large-frame').reduce((a, b) => b.duration > a.duration ? b : a, {startTime: -1, duration: -1}); \
             const f = __benchFrames.find(([start, dur]) => start <= m.startTime && m.startTime <= start + dur); \
             return f && f[2] > 0 ? f[0] + f[1] - f[2] : -1;",
        )
        .await?;
    world::close(console).await;
    world::close(visitor).await;
    Ok(Once {
        shown: ms,
        sent: sent_at - clicked_at,
        arrived: handled_at - clicked_at,
        built_in,
        rendered_in,
        html,
    })
}

/// The floor no recorder can go under on this machine at this moment: the
/// browser's own parsing, style, layout and first paint of the page's markup
/// (with its doctype: the same standards mode as the page), in a sandboxed
/// frame of the console's size inside a page with no recorder.
async fn browser_floor(world: &World, page: &str) -> Result<f64> {
    let tab = world.open(page, Recorder::None).await?;
    let ms: f64 = tab
        .eval(
            "const html = new XMLSerializer().serializeToString(document.doctype) + document.documentElement.outerHTML; \
             const f = document.createElement('iframe'); \
             f.setAttribute('sandbox', 'allow-same-origin'); \
             f.style.cssText = 'position:fixed;left:0;top:0;width:1200px;height:800px;border:0'; \
             document.body.append(f); \
             const d = f.contentDocument; \
             const t = performance.now(); \
             d.open(); d.write(html); d.close(); \
             void d.documentElement.getBoundingClientRect(); void d.body.offsetHeight; \
             return await new Promise(ok => requestAnimationFrame(() => setTimeout(() => ok(performance.now() - t), 0)));",
        )
        .await?;
    world::close(tab).await;
    Ok(ms)
}

/// `pages`: (page name, target serialized size in MB).
pub async fn section(world: &World, pages: &[(String, f64)], runs: usize) -> Result<Section> {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (page, mb) in pages {
        let mut times = Runs::default();
        let mut visitor_part = Runs::default();
        let mut hop = Runs::default();
        let mut built = Runs::default();
        let mut rendered = Runs::default();
        let mut floor = Runs::default();
        let mut html = 0.0;
        for run in 0..runs {
            eprintln!("[bench] time to first view {page}: run {}/{runs}", run + 1);
            let run = once(world, page)
                .await
                .with_context(|| format!("time to first view on {page}"))?;
            times.push(run.shown);
            visitor_part.push(run.sent);
            // A console without the measure (an older build) leaves these out.
            if run.built_in >= 0.0 {
                hop.push(run.arrived - run.sent);
                built.push(run.built_in);
            }
            if run.rendered_in >= 0.0 {
                rendered.push(run.rendered_in);
            }
            html = run.html;
            floor.push(
                browser_floor(world, page)
                    .await
                    .with_context(|| format!("the browser's own layout of {page}"))?,
            );
        }
        let limit = match *mb {
            m if m <= 0.5 => None,
            m if m <= 2.0 => Some(1000.0),
            _ => Some(3000.0),
        };
        notes.push(format!(
            "{}: of that, accept → the snapshot frame handed to the visitor's socket: {}; then to the console's starting on it (the relay, both sockets, the frame's arrival whole): {}; the console's decoding and building the mirror: {}; the browser's style, layout and paint of the mirror right after: {}; the rest is waiting for CPU and the next poll.",
            Unit::Bytes.fmt(html),
            visitor_part.show(Unit::Ms),
            hop.show(Unit::Ms),
            built.show(Unit::Ms),
            rendered.show(Unit::Ms),
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
        rows.push(Row {
            what: format!(
                "reference: the browser's own parse, layout and paint of the {} markup",
                Unit::Bytes.fmt(html)
            ),
            ours: floor.show(Unit::Ms),
            rrweb: String::new(),
            judged: floor,
            unit: Unit::Ms,
            target: Target::None,
            target_text: String::new(),
        });
    }
    Ok(Section {
        title: "Time to first view (ours only)".into(),
        rows,
        notes: [notes, vec![
            "reference: no recorder; in a fresh page without one, the page's own markup (doctype included) written into a sandboxed frame of the console's size (scripts off), timed until the frame after it was painted (`requestAnimationFrame`, then a task) — what the browser alone needs to show that page on this machine in this run, a floor for any recorder's time to first view (it leaves out the network and, for a recorder, the walk on the visitor's side).".into(),
            "style, layout and paint: from Chromium's Long Animation Frame timing in the console, the frame that held the snapshot's handling, from its `renderStart` to its end.".into(),
            "size is the visitor page's `documentElement.outerHTML` length. Timed on the bench's clock from the accept click's CDP call to the first poll (every 10 ms, each a CDP round trip) that finds the page's last element in the console's iframe; the relay is its release build, as for the relay section.".into(),
        ]].concat(),
    })
}
