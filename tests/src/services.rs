//! The relay and the demo site as child processes, each on a port of its
//! own, stopped when dropped. `cargo xtask demo` uses the same code.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{mpsc, Arc, Mutex},
    time::Duration,
};

use anyhow::{bail, Context, Result};

/// Where the two service binaries are.
pub struct Binaries {
    relay: PathBuf,
    site: PathBuf,
}

#[derive(Default)]
pub struct RelayOptions {
    /// 0 picks a free port.
    pub port: u16,
    pub static_dir: PathBuf,
    pub dev_agent_token: Option<String>,
    pub allowed_origins: Vec<String>,
    pub extra_args: Vec<String>,
    /// Environment for the relay's process (e.g. `RUST_LOG`).
    pub env: Vec<(String, String)>,
    /// Keep the relay's stderr (its log) for [`Service::log`], besides
    /// echoing it.
    pub capture_log: bool,
}

impl Binaries {
    /// The binaries in a cargo output folder such as `target/debug`.
    pub fn in_target(dir: &Path) -> Result<Self> {
        let bins = Binaries {
            relay: dir.join("cobrowse-relay"),
            site: dir.join("demo-site"),
        };
        for bin in [&bins.relay, &bins.site] {
            if !bin.is_file() {
                bail!(
                    "{} is missing: build it with `cargo build -p relay -p demo-site` (cargo xtask test does)",
                    bin.display()
                );
            }
        }
        Ok(bins)
    }

    /// The binaries next to the running test executable (`target/debug`),
    /// or next to a binary of this crate (`cargo xtask fidelity`'s driver).
    pub fn next_to_test() -> Result<Self> {
        let exe = std::env::current_exe()?;
        // target/debug/deps/<test> → target/debug; target/debug/<bin> → target/debug
        let mut dir = exe
            .parent()
            .context("test executable has no target folder")?;
        if dir.file_name().is_some_and(|n| n == "deps") {
            dir = dir
                .parent()
                .context("test executable has no target folder")?;
        }
        Binaries::in_target(dir)
    }

    pub fn start_relay(&self, opts: &RelayOptions) -> Result<Service> {
        let mut cmd = Command::new(&self.relay);
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{}", opts.port))
            .arg("--static")
            .arg(&opts.static_dir);
        if let Some(token) = &opts.dev_agent_token {
            cmd.arg("--dev-agent-token").arg(token);
        }
        for origin in &opts.allowed_origins {
            cmd.arg("--allowed-origin").arg(origin);
        }
        cmd.args(&opts.extra_args);
        cmd.envs(opts.env.iter().map(|(k, v)| (k, v)));
        Service::spawn(
            "relay",
            cmd,
            "cobrowse-relay listening on ",
            opts.capture_log,
        )
    }

    pub fn start_site(&self, port: u16, root: &Path, relay_url: &str) -> Result<Service> {
        self.start_pages(port, root, relay_url, false)
    }

    /// Serves any folder of pages; with `inject_sdk`, each HTML page gets the
    /// SDK's script tag (for pages not written for this project).
    pub fn start_pages(
        &self,
        port: u16,
        root: &Path,
        relay_url: &str,
        inject_sdk: bool,
    ) -> Result<Service> {
        let mut cmd = Command::new(&self.site);
        if inject_sdk {
            cmd.arg("--inject-sdk");
        }
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--root")
            .arg(root)
            .arg("--relay")
            .arg(relay_url);
        Service::spawn("demo-site", cmd, "demo-site listening on ", false)
    }
}

/// A `redis-server` of Debian's on a free port, persisting nothing (the
/// relay's `--redis` in tests), stopped on drop. Its URL is `redis://…`.
pub fn start_redis() -> Result<Service> {
    let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .context("redis-server is missing: `cargo xtask test` installs Debian's redis-server")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(binary)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no", "--protected-mode", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting redis-server")?;
    let service = Service {
        name: "redis",
        child,
        url: format!("redis://127.0.0.1:{port}"),
        log: None,
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(service);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("redis-server did not listen on port {port} within 5 s")
}

/// A running child process that announced its URL on stdout.
pub struct Service {
    name: &'static str,
    child: Child,
    url: String,
    /// Everything the process wrote to stderr, when captured.
    log: Option<Arc<Mutex<Vec<u8>>>>,
}

impl Service {
    fn spawn(
        name: &'static str,
        mut cmd: Command,
        announce: &str,
        capture_log: bool,
    ) -> Result<Service> {
        let stderr = if capture_log {
            Stdio::piped()
        } else {
            Stdio::inherit()
        };
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {name}: {cmd:?}"))?;
        let log = match child.stderr.take() {
            Some(stderr) => {
                let log = Arc::new(Mutex::new(Vec::new()));
                let keep = log.clone();
                // Bytes, not lines of text: a log line that is not UTF-8
                // must still be searchable as it was written.
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stderr);
                    let mut line = Vec::new();
                    while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                        eprint!("[{name}] {}", String::from_utf8_lossy(&line));
                        if let Ok(mut log) = keep.lock() {
                            log.extend_from_slice(&line);
                        }
                        line.clear();
                    }
                });
                Some(log)
            }
            None => None,
        };
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        let announce = announce.to_owned();
        // Keep draining stdout for the child's whole life so it never blocks.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix(&announce) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.trim().to_owned());
                    }
                }
                println!("[{name}] {line}");
            }
        });
        let mut service = Service {
            name,
            child,
            url: String::new(),
            log,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => service.url = url,
            Err(_) => {
                let status = service.child.try_wait().ok().flatten();
                bail!("{name} did not announce its address within 30 s (exit status: {status:?})");
            }
        }
        Ok(service)
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Everything the process wrote to stderr so far (empty unless it was
    /// started with `capture_log`).
    pub fn log(&self) -> Vec<u8> {
        self.log
            .as_ref()
            .and_then(|l| l.lock().ok().map(|l| l.clone()))
            .unwrap_or_default()
    }

    /// `host:port` of the base URL.
    pub fn host(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Blocks until one of `services` exits (or Ctrl-C ends us all).
    pub fn wait_until_one_exits(services: &mut [&mut Service]) -> Result<()> {
        loop {
            for service in services.iter_mut() {
                if let Some(status) = service.child.try_wait()? {
                    bail!("{} exited: {status}", service.name);
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Stops the process now (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}
