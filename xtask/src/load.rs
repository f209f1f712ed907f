//! `cargo xtask load`: how many sessions one, two or three relays hold, and
//! at what cost. Starts a Redis and N release relays on free loopback
//! ports, opens the sessions (`load/traffic.rs`: visitor on one relay, agent
//! on the next, so with several relays every event crosses Redis), runs
//! their traffic for a while, and prints a table: sessions held,
//! messages/s, p50/p99 visitor → agent latency, the relays' CPU (from
//! `/proc/PID/stat`) and memory per session (`VmRSS` in `/proc/PID/status`).
//!
//! Owns: the processes it starts (stopped and cleaned up however the run
//! ends) and the measurement. Does not own: the traffic's shape
//! (`traffic.rs`).
//!
//! Options: `--relays 1,2,3` (one row per count; default 1),
//! `--sessions N` (default 200), `--seconds N` of traffic (default 15).

mod traffic;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::sync::Semaphore;

use crate::util;

/// Bounds, so a typo cannot exhaust the machine.
const MAX_RELAYS: usize = 8;
const MAX_SESSIONS: usize = 20_000;
const MAX_SECONDS: u64 = 600;
/// Sessions opening at once.
const OPENING: usize = 64;

struct Options {
    relays: Vec<usize>,
    sessions: usize,
    seconds: u64,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        relays: vec![1],
        sessions: 200,
        seconds: 15,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let value = it.next().with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--relays" => {
                options.relays = value
                    .split(',')
                    .map(|n| n.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .context("--relays takes counts like 1 or 1,2,3")?;
            }
            "--sessions" => options.sessions = value.parse().context("--sessions N")?,
            "--seconds" => options.seconds = value.parse().context("--seconds N")?,
            other => {
                bail!("unknown load option {other:?} (known: --relays, --sessions, --seconds)")
            }
        }
    }
    if options.relays.iter().any(|&n| n == 0 || n > MAX_RELAYS) {
        bail!("--relays: between 1 and {MAX_RELAYS}");
    }
    if options.sessions == 0 || options.sessions > MAX_SESSIONS {
        bail!("--sessions: between 1 and {MAX_SESSIONS}");
    }
    if options.seconds == 0 || options.seconds > MAX_SECONDS {
        bail!("--seconds: between 1 and {MAX_SECONDS}");
    }
    Ok(options)
}

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let options = parse(args)?;
    if cfg!(debug_assertions) {
        // `cargo xtask` is a debug build, whose clients would be slower than
        // the relays they measure: the generator runs optimised.
        util::step("build and run the load generator optimised");
        let mut cmd = vec!["run", "--release", "--quiet", "-p", "xtask", "--", "load"];
        cmd.extend(args.iter().map(String::as_str));
        return util::cargo(&cmd);
    }
    util::step("build the release relay (what a deployment runs)");
    util::cargo(&["build", "--release", "-p", "relay"])?;
    let relay_bin = root.join("target/release/cobrowse-relay");
    let runtime = tokio::runtime::Runtime::new()?;
    let mut rows = Vec::new();
    for &relays in &options.relays {
        util::step(&format!(
            "load: {} sessions on {relays} relay(s) for {} s",
            options.sessions, options.seconds
        ));
        let row = runtime.block_on(measure(&relay_bin, relays, &options))?;
        println!("{}", row.line());
        rows.push(row);
    }
    println!("\n{}", Row::header());
    for row in &rows {
        println!("{}", row.line());
    }
    Ok(())
}

/// One line of the table.
struct Row {
    relays: usize,
    asked: usize,
    held: usize,
    messages_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// All relays' CPU over the traffic window, in % of one core.
    cpu_percent: f64,
    rss_per_session_kib: f64,
}

impl Row {
    fn header() -> String {
        "| relays | sessions held | messages/s | p50 ms | p99 ms | relay CPU (% of a core, all relays) | relay memory per session |\n|---|---|---|---|---|---|---|".to_owned()
    }

    fn line(&self) -> String {
        format!(
            "| {} | {} / {} | {:.0} | {:.2} | {:.2} | {:.0} % | {:.0} KiB |",
            self.relays,
            self.held,
            self.asked,
            self.messages_per_sec,
            self.p50_ms,
            self.p99_ms,
            self.cpu_percent,
            self.rss_per_session_kib
        )
    }
}

async fn measure(relay_bin: &Path, relays: usize, options: &Options) -> Result<Row> {
    let dir = std::env::temp_dir().join(format!("cobrowse-load-{}-{relays}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut procs = Processes {
        children: Vec::new(),
        dir: dir.clone(),
    };
    let redis_port = free_port()?;
    procs.children.push(start_redis(&dir, redis_port)?);
    let config = dir.join("relay.toml");
    // The generator opens its sessions as fast as it can: not a storm.
    std::fs::write(
        &config,
        "[admission]\nnew_sessions_per_second = 100000\nnew_sessions_burst = 100000\n[drain]\ngrace_secs = 2\n",
    )?;
    let mut addrs = Vec::new();
    let mut pids = Vec::new();
    for i in 0..relays {
        let (child, addr) = start_relay(relay_bin, &dir, i, redis_port, &config)?;
        pids.push(child.id());
        procs.children.push(child);
        addrs.push(addr);
    }
    let idle_rss: u64 = pids.iter().map(|&p| rss_kib(p)).sum();

    // Open every session, a few dozen at a time.
    let gate = Arc::new(Semaphore::new(OPENING));
    let mut opening = tokio::task::JoinSet::new();
    for i in 0..options.sessions {
        let (visitor_at, agent_at) = (addrs[i % relays], addrs[(i + 1) % relays]);
        let gate = Arc::clone(&gate);
        opening.spawn(async move {
            let _turn = gate.acquire_owned().await?;
            traffic::establish(visitor_at, agent_at).await
        });
    }
    let mut sessions = Vec::new();
    let mut failed = 0;
    while let Some(opened) = opening.join_next().await {
        match opened? {
            Ok(session) => sessions.push(session),
            Err(err) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("a session did not open: {err:#}");
                }
            }
        }
    }

    // The traffic window.
    let base = tokio::time::Instant::now();
    let until = base + Duration::from_secs(options.seconds);
    let cpu_before: u64 = pids.iter().map(|&p| cpu_ticks(p)).sum();
    let mut running = tokio::task::JoinSet::new();
    for session in sessions {
        running.spawn(traffic::run(session, base, until));
    }
    // Memory while every session is open and busy, just before the end.
    let sample_at = until
        .checked_sub(Duration::from_millis(500))
        .unwrap_or(until);
    tokio::time::sleep_until(sample_at).await;
    let rss_loaded: u64 = pids.iter().map(|&p| rss_kib(p)).sum();
    let mut held = 0;
    let mut messages = 0;
    let mut latencies = Vec::new();
    while let Some(report) = running.join_next().await {
        let report = report?;
        held += usize::from(report.held);
        messages += report.messages;
        latencies.extend(report.latencies_us);
    }
    let window = base.elapsed().as_secs_f64();
    let cpu_after: u64 = pids.iter().map(|&p| cpu_ticks(p)).sum();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |&us| f64::from(us) / 1000.0)
    };
    let ticks = clock_ticks_per_second();
    let row = Row {
        relays,
        asked: options.sessions,
        held,
        messages_per_sec: messages as f64 / window,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        cpu_percent: (cpu_after.saturating_sub(cpu_before)) as f64 / ticks / window * 100.0,
        rss_per_session_kib: rss_loaded.saturating_sub(idle_rss) as f64
            / options.sessions.max(1) as f64,
    };
    drop(procs);
    Ok(row)
}

/// What a run started; stopped (relays with SIGTERM, then for good) and
/// cleaned up when dropped, however the run ends.
struct Processes {
    children: Vec<Child>,
    dir: PathBuf,
}

impl Drop for Processes {
    fn drop(&mut self) {
        // Relays first (they were started last), then Redis.
        for child in self.children.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn start_redis(dir: &Path, port: u16) -> Result<Child> {
    let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .context("redis-server not found: run `cargo xtask setup`")?;
    let child = Command::new(binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting redis-server")?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            bail!("redis-server did not listen on {port}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child)
}

fn start_relay(
    binary: &Path,
    dir: &Path,
    i: usize,
    redis_port: u16,
    config: &Path,
) -> Result<(Child, SocketAddr)> {
    let log = std::fs::File::create(dir.join(format!("relay-{i}.log")))?;
    let mut child = Command::new(binary)
        .args(["--listen", "127.0.0.1:0", "--static", "/nonexistent"])
        .args(["--dev-agent-token", traffic::TOKEN])
        .args(["--redis", &format!("redis://127.0.0.1:{redis_port}")])
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .context("starting cobrowse-relay")?;
    let stdout = child.stdout.take().context("relay stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("cobrowse-relay listening on http://")
        .with_context(|| format!("relay {i} did not start: {line:?}"))?
        .parse()?;
    Ok((child, addr))
}

/// utime + stime of `pid`, in clock ticks (fields 14 and 15 of
/// `/proc/PID/stat`, counted after the command name's closing parenthesis).
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state).
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}

/// Resident memory of `pid` in KiB (`VmRSS` in `/proc/PID/status`).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn clock_ticks_per_second() -> f64 {
    util::output("getconf", &["CLK_TCK"])
        .and_then(|t| t.parse().ok())
        .unwrap_or(100.0)
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn options_are_bounded_and_relays_take_a_list() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let options = parse(&args(&["--relays", "1,2,3", "--sessions", "50"])).expect("valid");
        assert_eq!(options.relays, vec![1, 2, 3]);
        assert_eq!(options.sessions, 50);
        assert!(parse(&args(&["--relays", "0"])).is_err());
        assert!(parse(&args(&["--sessions", "1000000"])).is_err());
        assert!(parse(&args(&["--seconds"])).is_err());
    }

    #[test]
    fn reads_its_own_cpu_and_memory_from_proc() {
        let me = std::process::id();
        assert!(rss_kib(me) > 0);
        // Burn a little CPU so the counter has something to show.
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_ticks(me) > 0);
    }
}
