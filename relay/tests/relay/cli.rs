//! The `cobrowse-relay` binary as scripts and the end-to-end harness use it.

use std::process::Stdio;

use tokio::process::Command;

use crate::processes::{listening, signal, BIN};
use crate::redis_server::RedisServer;
use crate::support::{http_request, WAIT};

#[tokio::test]
async fn prints_one_listening_line_then_serves_until_sigterm() {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--static", "/nonexistent"])
        .args(["--dev-agent-token", "t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let (addr, mut rest) = listening(&mut child).await;
    let addr = addr.expect("a listening line");
    assert_ne!(addr.port(), 0);

    let health = http_request(addr, "GET", "/healthz", &[], &[]).await;
    assert_eq!(health.status, 200);

    signal(&child, "-TERM").await;
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("exits after SIGTERM")
        .expect("output");
    assert!(output.status.success(), "{output:?}");
    // Nothing else on stdout; the dev-token warning is loud on stderr.
    assert_eq!(rest.next_line().await.expect("read stdout"), None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DEVELOPMENT ONLY"), "{stderr}");
    assert!(stderr.contains("static directory missing"), "{stderr}");
}

#[tokio::test]
async fn unreachable_redis_is_a_clear_error_before_listening() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}");
    let output = tokio::time::timeout(
        WAIT,
        Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--redis", &url])
            .output(),
    )
    .await
    .expect("gives up in time")
    .expect("run");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "did not start listening");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot reach Redis at redis://***@127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "password leaked: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn malformed_redis_url_is_refused() {
    let output = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--redis", "127.0.0.1:6379"])
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("expected a URL like redis://"), "{stderr}");
}

#[tokio::test]
async fn serves_with_a_reachable_redis() {
    let redis = RedisServer::start().await;
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--static", "/nonexistent"])
        .args(["--redis", &redis.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    assert!(listening(&mut child).await.0.is_some(), "it listens");
    signal(&child, "-TERM").await;
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("exits after SIGTERM")
        .expect("output");
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("Redis at {}", redis.url())),
        "{stderr}"
    );
}

#[tokio::test]
async fn unknown_config_keys_are_refused_by_name() {
    let path = std::env::temp_dir().join(format!("cobrowse-relay-{}.toml", std::process::id()));
    std::fs::write(&path, "max_frame_bytes = 65536\nmax_agent = 2\n").expect("write");
    let output = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .output()
        .await
        .expect("run");
    let _ = std::fs::remove_file(&path);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max_agent"), "{stderr}");
}

/// A file in the temp dir named for this test, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("cobrowse-relay-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("write");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const SECRET: &str = "0123456789abcdef0123456789abcdef-cli";

#[tokio::test]
async fn token_subcommand_mints_a_token_the_secret_verifies() {
    let secret = TempFile::new("secret", &format!("{SECRET}\n"));
    let output = Command::new(BIN)
        .args(["token", "--secret-file"])
        .arg(&secret.0)
        .args(["--sub", "agent-42", "--name", "Ann Smith", "--ttl", "60"])
        .output()
        .await
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let token = stdout.trim_end();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let key = relay::AgentSecret::new(SECRET).expect("valid");
    let now = relay::token::unix_now();
    let claims = relay::token::verify(&key, token, now).expect("valid token");
    assert_eq!(claims.sub, "agent-42");
    assert_eq!(claims.name, "Ann Smith");
    assert!((now + 59..=now + 61).contains(&claims.exp), "{claims:?}");
    assert!(relay::token::verify(&key, token, now + 61).is_err());
}

#[tokio::test]
async fn the_secret_is_given_once_and_never_echoed() {
    let secret = TempFile::new("secret2", SECRET);
    let config = TempFile::new("both.toml", &format!("agent_secret = \"{SECRET}\"\n"));
    let output = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(&config.0)
        .arg("--agent-secret-file")
        .arg(&secret.0)
        .output()
        .await
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("given twice"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");

    let short = TempFile::new("short", "hunter2");
    let output = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--agent-secret-file"])
        .arg(&short.0)
        .output()
        .await
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test]
async fn resource_tables_are_read_and_a_bad_ttl_is_refused_by_name() {
    let good = TempFile::new(
        "resources.toml",
        "[cache]\nttl = \"30m\"\nlocal_max_bytes = 1048576\n\
         [resources]\nallowedExternalDomains = [\"cdn.example.com\", \"*.example.net\"]\n\
         strict = true\nmax_resource_bytes = 1000\nsession_budget_bytes = 5000\n",
    );
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(&good.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    assert!(listening(&mut child).await.0.is_some(), "it listens");
    let _ = child.kill().await;

    let bad = TempFile::new("bad-ttl.toml", "[cache]\nttl = \"1w\"\n");
    let output = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(&bad.0)
        .output()
        .await
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cache.ttl"), "{stderr}");
}
