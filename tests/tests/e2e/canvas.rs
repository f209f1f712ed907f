//! Canvases and media, through the whole path: the pages of
//! `tests/fixtures/canvas/` in the visitor's tab, their canvases compared
//! with the console's mirrored ones pixel by pixel (averaged over small
//! cells, so encoder rounding does not count), and the visitor's WebSocket
//! frames counted and weighed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use e2e::browser::Tab;
use e2e::scenario::*;
use protocol::{decode, Event, VisitorMsg};
use serde_json::Value;

const FRAME: &str = "document.querySelector('iframe#cobrowse-frame')";
/// Cells of this many pixels square are averaged before comparing.
const CELL: u32 = 10;
/// Mean channel difference a cell may have (WebP and scaling rounding).
const CELL_TOLERANCE: f64 = 12.0;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/canvas")
}

/// Opens `page`, starts a session with `options` (a JS object literal)
/// and has an agent join and be accepted.
async fn live(world: &World, page: &str, options: &str) -> Result<(Tab, Tab)> {
    let visitor = world
        .browser
        .open(&format!("{}/{page}", world.site.url()), 1000, 700)
        .await?;
    visitor
        .wait_for(
            "the SDK to load",
            "window.Cobrowse && document.readyState === 'complete'",
            WAIT,
        )
        .await?;
    let code: String = visitor
        .eval(&format!(
            "const s = await window.Cobrowse.start({options}); window.e2eSession = s; return s.code;"
        ))
        .await
        .context("Cobrowse.start()")?;
    let console = join_and_accept(world, &visitor, &code, "view").await?;
    Ok((visitor, console))
}

/// A picture averaged over CELL×CELL cells, as [r, g, b, a] per cell.
/// `source` is JS that resolves to `[drawable, width, height]` or null.
async fn cells_of(tab: &Tab, source: &str) -> Result<Option<Vec<[f64; 4]>>> {
    tab.eval(&format!(
        "const src = await (async () => {{ {source} }})(); if (!src) return null;
         const [c, w, h] = src;
         const t = document.createElement('canvas'); t.width = w; t.height = h;
         const x = t.getContext('2d'); x.drawImage(c, 0, 0);
         const d = x.getImageData(0, 0, w, h).data; const out = [];
         for (let y = 0; y + {CELL} <= h; y += {CELL}) for (let X = 0; X + {CELL} <= w; X += {CELL}) {{
           const s = [0, 0, 0, 0];
           for (let j = 0; j < {CELL}; j++) for (let i = 0; i < {CELL}; i++) {{
             const k = ((y + j) * w + X + i) * 4; for (let q = 0; q < 4; q++) s[q] += d[k + q]; }}
           out.push(s.map(v => v / ({CELL} * {CELL})));
         }}
         return out;"
    ))
    .await
}

/// The visitor's canvas, read in an animation frame (after the page drew
/// in it: a WebGL canvas reads blank otherwise).
async fn cells(tab: &Tab, selector: &str) -> Result<Vec<[f64; 4]>> {
    cells_of(
        tab,
        &format!(
            "const c = document.querySelector({selector:?}); if (!c) return null;
             await new Promise(r => requestAnimationFrame(r)); return [c, c.width, c.height];"
        ),
    )
    .await?
    .with_context(|| format!("no {selector} on the page"))
}

/// What the console shows for the canvas: the picture its `content` names
/// (a `<canvas>` in the script-less mirror shows no bitmap of its own).
async fn shown(console: &Tab, selector: &str) -> Result<Option<Vec<[f64; 4]>>> {
    cells_of(
        console,
        &format!(
            "const c = {FRAME}.contentDocument.querySelector({selector:?}); if (!c) return null;
             const m = /url\\(\"?([^\")]*)\"?\\)/.exec(c.ownerDocument.defaultView.getComputedStyle(c).content);
             if (!m) return null;
             const img = new Image(); img.src = m[1]; await img.decode();
             return [img, img.naturalWidth, img.naturalHeight];"
        ),
    )
    .await
}

/// Share of cells that differ by more than the tolerance.
fn differing(a: &[[f64; 4]], b: &[[f64; 4]]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 1.0;
    }
    let bad = a
        .iter()
        .zip(b)
        .filter(|(x, y)| {
            x.iter()
                .zip(y.iter())
                .any(|(p, q)| (p - q).abs() > CELL_TOLERANCE)
        })
        .count();
    bad as f64 / a.len() as f64
}

/// Waits until the console's copy of `selector` matches the visitor's.
async fn wait_match(visitor: &Tab, console: &Tab, selector: &str, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = cells(visitor, selector).await?;
        let on_console = shown(console, selector).await.ok().flatten();
        let share = differing(&seen, &on_console.unwrap_or_default());
        if share <= 0.01 {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{what}: {:.1}% of {selector}'s cells still differ in the console",
            share * 100.0
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The canvas events the visitor sent so far, with each WebSocket frame's
/// size.
fn sent_canvas_events(visitor: &Tab) -> Vec<(Event, usize)> {
    visitor
        .frames()
        .iter()
        .filter(|f| f.sent)
        .filter_map(|f| match decode::<VisitorMsg>(&f.bytes) {
            Ok(VisitorMsg::Event(frame)) => match frame.event().ok()? {
                e @ (Event::Canvas(_) | Event::CanvasUnreadable { .. } | Event::Media(_)) => {
                    Some((e, f.bytes.len()))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn frames_for_size(
    events: &[(Event, usize)],
    w: u32,
    h: u32,
) -> Vec<(protocol::CanvasFrame, usize)> {
    events
        .iter()
        .filter_map(|(e, n)| match e {
            Event::Canvas(f) if f.width == w && f.height == h => Some((f.clone(), *n)),
            _ => None,
        })
        .collect()
}

/// A screenshot of the console with its tab in front: a background tab's
/// canvases are not composited into the picture.
async fn shoot(world: &World, console: &Tab, name: &str) -> Result<()> {
    console.page.bring_to_front().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    console.screenshot(&world.screenshot_path(name)).await
}

async fn end(visitor: Tab, console: Tab) {
    let _ = visitor
        .eval::<Value>("window.e2eSession?.end(); return null;")
        .await;
    let _ = visitor.page.clone().close().await;
    let _ = console.page.clone().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrawn_chart_matches_in_the_console_and_an_unchanged_canvas_sends_nothing() -> Result<()>
{
    let world = World::start_pages(&fixtures()).await?;
    let (visitor, console) = live(&world, "chart.html", "{}").await?;
    wait_match(&visitor, &console, "#chart", "the first chart").await?;
    wait_match(&visitor, &console, "#still", "the still canvas").await?;
    visitor
        .eval::<Value>("window.stopChart(); return null;")
        .await?;
    for n in [11, 12, 13] {
        step(&format!("the chart draws step {n}"));
        visitor
            .eval::<Value>(&format!("window.drawChart({n}); return null;"))
            .await?;
        wait_match(&visitor, &console, "#chart", &format!("chart step {n}")).await?;
    }
    // The still canvas (200×100) was sent once, in full, and never again
    // while the chart beside it changed four times.
    let events = sent_canvas_events(&visitor);
    let still = frames_for_size(&events, 200, 100);
    ensure!(
        still.len() == 1,
        "the unchanged canvas was sent {} times",
        still.len()
    );
    let chart = frames_for_size(&events, 600, 300);
    let sizes: Vec<usize> = chart.iter().map(|(_, n)| *n).collect();
    eprintln!("[canvas] chart frames: {} ({sizes:?} bytes)", chart.len());
    ensure!(chart.len() >= 4, "chart frames: {}", chart.len());
    shoot(&world, &console, "canvas-chart-console").await?;
    end(visitor, console).await;
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_60fps_animation_stays_within_the_byte_budget_and_still_moves() -> Result<()> {
    const BUDGET: usize = 40_000;
    let world = World::start_pages(&fixtures()).await?;
    let (visitor, console) = live(
        &world,
        "anim.html",
        &format!("{{ canvas: {{ bytesPerSecond: {BUDGET} }} }}"),
    )
    .await?;
    // Settled: the first frames are in.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before: usize = sent_canvas_events(&visitor).iter().map(|(_, n)| n).sum();
    let a = shown(&console, "#anim").await?.context("no picture")?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let b = shown(&console, "#anim").await?.context("no picture")?;
    let after: usize = sent_canvas_events(&visitor).iter().map(|(_, n)| n).sum();
    let secs = t0.elapsed().as_secs_f64();
    let rate = (after - before) as f64 / secs;
    let drawn: u64 = visitor.eval("return window.frames60;").await?;
    eprintln!("[canvas] 60 fps page: {rate:.0} bytes/s on the wire (budget {BUDGET}), page drew {drawn} frames");
    // The bucket holds half a second: over 6 s that is ~8% on top.
    ensure!(
        rate <= BUDGET as f64 * 1.12,
        "{rate:.0} bytes/s over a {BUDGET} bytes/s budget"
    );
    ensure!(
        differing(&a, &b) > 0.05,
        "the console's animation did not move in {secs:.1} s"
    );
    let frames = sent_canvas_events(&visitor).len();
    ensure!(frames >= 6, "only {frames} canvas frames in 8 s");
    end(visitor, console).await;
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_canvas_sends_small_changes_as_full_size_tiles() -> Result<()> {
    let world = World::start_pages(&fixtures()).await?;
    let (visitor, console) = live(&world, "big.html", "{}").await?;
    wait_match(&visitor, &console, "#big", "the big canvas").await?;
    let before = frames_for_size(&sent_canvas_events(&visitor), 1600, 1000).len();
    for (x, y, color) in [(1205, 633, "#000"), (17, 951, "#f00")] {
        visitor
            .eval::<Value>(&format!("window.paint({x}, {y}, '{color}'); return null;"))
            .await?;
        wait_match(&visitor, &console, "#big", "a small change").await?;
    }
    let frames = frames_for_size(&sent_canvas_events(&visitor), 1600, 1000);
    let changed = &frames[before..];
    ensure!(!changed.is_empty(), "no frames for the changes");
    for (f, _) in changed {
        for t in &f.tiles {
            ensure!(
                t.width <= 256 && t.height <= 256,
                "a small change sent a {}×{} tile",
                t.width,
                t.height
            );
        }
    }
    end(visitor, console).await;
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webgl_scene_without_preserved_buffer_is_captured() -> Result<()> {
    let world = World::start_pages(&fixtures()).await?;
    let (visitor, console) = live(&world, "webgl.html", "{}").await?;
    let ready: bool = visitor.eval("return window.glReady;").await?;
    ensure!(ready, "this Chromium has no WebGL");
    wait_match(&visitor, &console, "#gl", "the WebGL scene").await?;
    visitor
        .eval::<Value>("window.glColor(0.8, 0.1, 0.5); return null;")
        .await?;
    wait_match(&visitor, &console, "#gl", "the recoloured WebGL scene").await?;
    shoot(&world, &console, "canvas-webgl-console").await?;
    end(visitor, console).await;
    world.stop().await;
    Ok(())
}

/// Waits until the console shows `selector` as one solid `rgb` colour.
async fn wait_solid(console: &Tab, selector: &str, rgb: [f64; 3], what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cells = shown(console, selector).await.ok().flatten();
        let solid = cells.as_ref().is_some_and(|cells| {
            !cells.is_empty()
                && cells.iter().all(|c| {
                    c.iter()
                        .zip(rgb.iter().chain([255.0].iter()))
                        .all(|(got, want)| (got - want).abs() <= CELL_TOLERANCE)
                })
        });
        if solid {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{what}: the console does not show {selector} as rgb{rgb:?} (first cell: {:?})",
            cells.and_then(|c| c.first().copied())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webgl_canvas_drawn_once_before_the_session_reaches_the_console() -> Result<()> {
    let world = World::start_pages(&fixtures()).await?;
    let (visitor, console) = live(&world, "webgl-once.html", "{}").await?;
    let ready: bool = visitor.eval("return window.glReady === true;").await?;
    ensure!(ready, "this Chromium has no WebGL");
    let early_preserved: bool = visitor.eval("return window.earlyPreserved;").await?;
    ensure!(
        !early_preserved,
        "#early was meant to keep a cleared buffer (made past the loader)"
    );
    // The session started after the page drew and showed these canvases:
    // only the loader's measures kept their pictures.
    wait_solid(&console, "#asked", [0.0, 153.0, 51.0], "defaults").await?;
    wait_solid(
        &console,
        "#refused",
        [229.5, 127.5, 0.0],
        "preserveDrawingBuffer: false",
    )
    .await?;
    wait_solid(
        &console,
        "#early",
        [25.5, 51.0, 229.5],
        "a context made before the loader: its copy",
    )
    .await?;
    shoot(&world, &console, "canvas-webgl-once-console").await?;
    end(visitor, console).await;
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tainted_canvas_is_a_labelled_placeholder_and_a_masked_one_is_never_read() -> Result<()> {
    let world = World::start_pages(&fixtures()).await?;
    let (visitor, console) = live(&world, "tainted.html", "{}").await?;
    visitor
        .wait_for(
            "the cross-origin image",
            "window.taintedDrawn === true",
            WAIT,
        )
        .await?;
    wait_match(&visitor, &console, "#clean", "the clean canvas").await?;
    let deadline = Instant::now() + WAIT;
    while !sent_canvas_events(&visitor)
        .iter()
        .any(|(e, _)| matches!(e, Event::CanvasUnreadable { .. }))
    {
        ensure!(Instant::now() < deadline, "no CanvasUnreadable was sent");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The placeholder: a grey picture of the canvas's size.
    let deadline = Instant::now() + WAIT;
    loop {
        let grey = shown(&console, "#tainted")
            .await
            .ok()
            .flatten()
            .is_some_and(|c| {
                c.len() == 30 * 15
                    && c.iter().filter(|p| p[3] > 200.0 && p[0] > 150.0).count() > 300
            });
        if grey {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "no placeholder on the tainted canvas"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let errors: Vec<String> = visitor.eval("return window.pageErrors;").await?;
    ensure!(errors.is_empty(), "the page saw errors: {errors:?}");
    shoot(&world, &console, "canvas-tainted-console").await?;
    end(visitor, console).await;

    let (visitor, console) = live(&world, "masked.html", "{}").await?;
    wait_match(&visitor, &console, "#open", "the open canvas").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let events = sent_canvas_events(&visitor);
    let frames: Vec<_> = events
        .iter()
        .filter(|(e, _)| matches!(e, Event::Canvas(_)))
        .collect();
    ensure!(
        frames.len() == 1,
        "only the open canvas may be sent, got {} frames",
        frames.len()
    );
    end(visitor, console).await;
    world.stop().await;
    Ok(())
}

/// Records a 3 s WebM (a canvas counting seconds) with MediaRecorder in
/// `tab`: the media test's video, made at run time instead of kept as a
/// binary fixture.
async fn record_clip(tab: &Tab) -> Result<Vec<u8>> {
    use base64::Engine;
    let b64: String = tab
        .eval(
            "const c = document.createElement('canvas'); c.width = 320; c.height = 180;
             const x = c.getContext('2d'); const t0 = performance.now();
             const paint = () => { const t = performance.now() - t0;
               x.fillStyle = `hsl(${t / 10 % 360}, 70%, 45%)`; x.fillRect(0, 0, 320, 180);
               x.fillStyle = '#fff'; x.font = '48px sans-serif'; x.fillText((t / 1000).toFixed(1), 100, 110); };
             paint(); const timer = setInterval(paint, 33);
             const r = new MediaRecorder(c.captureStream(30), { mimeType: 'video/webm' }); const parts = [];
             r.ondataavailable = e => parts.push(e.data); r.start();
             await new Promise(res => setTimeout(res, 3000));
             await new Promise(res => { r.onstop = res; r.stop(); }); clearInterval(timer);
             const buf = new Uint8Array(await new Blob(parts).arrayBuffer()); let bin = '';
             for (let i = 0; i < buf.length; i += 8192) bin += String.fromCharCode(...buf.subarray(i, i + 8192));
             return btoa(bin);",
        )
        .await?;
    Ok(base64::engine::general_purpose::STANDARD.decode(b64)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_from_the_visitors_upload_plays_muted_and_follows_pause_seek_and_rate() -> Result<()>
{
    let dir = std::env::temp_dir().join(format!("cobrowse-e2e-media-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for f in ["video.html", "poster.svg"] {
        std::fs::copy(fixtures().join(f), dir.join(f))?;
    }
    // A strict relay: the console's copy has no way to the clip but the
    // visitor's upload (no redirect to the site), and it seeks in it
    // through the relay's byte ranges.
    let config = dir.join("strict.toml");
    std::fs::write(&config, "[resources]\nstrict = true\n")?;
    let world = World::start_pages_with_relay_args(
        &dir,
        vec!["--config".into(), config.display().to_string()],
    )
    .await?;
    let maker = world
        .browser
        .open(&format!("{}/video.html", world.site.url()), 400, 300)
        .await?;
    let clip = record_clip(&maker).await?;
    ensure!(
        clip.len() > 1000,
        "the recorded clip is {} bytes",
        clip.len()
    );
    std::fs::write(dir.join("clip.webm"), &clip)?;
    let _ = maker.page.clone().close().await;

    let (visitor, console) = live(&world, "video.html", "{}").await?;
    let v = format!("{FRAME}.contentDocument.querySelector('#v')");
    step("the visitor plays the video, with sound");
    visitor
        .eval::<Value>("const v = document.querySelector('#v'); v.muted = false; await v.play().catch(() => { v.muted = true; return v.play(); }); return null;")
        .await?;
    console
        .wait_for(
            "the console's copy to play, muted",
            &format!("(() => {{ const v = {v}; return v && !v.paused && v.muted && v.currentTime > 0.2; }})()"),
            WAIT,
        )
        .await?;
    step("the visitor pauses at 1.5 s");
    let at: f64 = visitor
        .eval("const v = document.querySelector('#v'); v.pause(); v.currentTime = 1.5; await new Promise(r => v.addEventListener('seeked', r, { once: true })); return v.currentTime;")
        .await?;
    console
        .wait_for(
            "the console's copy to pause where the visitor did",
            &format!("(() => {{ const v = {v}; return v.paused && Math.abs(v.currentTime - {at}) < 0.3; }})()"),
            WAIT,
        )
        .await?;
    step("the visitor plays at 1.5×");
    visitor
        .eval::<Value>("const v = document.querySelector('#v'); v.playbackRate = 1.5; await v.play(); return null;")
        .await?;
    console
        .wait_for(
            "the console's copy to play at 1.5×",
            &format!("(() => {{ const v = {v}; return !v.paused && v.playbackRate === 1.5 && v.muted; }})()"),
            WAIT,
        )
        .await?;
    let source: String = console.eval(&format!("return {v}.currentSrc;")).await?;
    ensure!(
        source.contains("/res/s/"),
        "the console's copy plays {source}, not the relay's cached upload"
    );
    // The video the console cannot load shows its poster.
    let gone: Value = console
        .eval(&format!(
            "const g = {FRAME}.contentDocument.querySelector('#gone'); return [g.getAttribute('poster'), g.readyState];"
        ))
        .await?;
    ensure!(
        gone[0].as_str().is_some_and(|p| !p.is_empty()) && gone[1] == 0,
        "the unloadable video: {gone}"
    );
    let sent = sent_canvas_events(&visitor)
        .iter()
        .filter(|(e, _)| matches!(e, Event::Media(_)))
        .count();
    eprintln!("[canvas] media state events sent: {sent}");
    shoot(&world, &console, "media-console").await?;
    end(visitor, console).await;
    world.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
