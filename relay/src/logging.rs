//! The relay's log filter: `RUST_LOG` (default `info`), with the targets
//! that would print WebSocket payloads held at `debug`.
//!
//! Owns: the filter's directives. Does not own: installing the subscriber
//! (the binary does).
//!
//! Why: tungstenite logs every message it reads and every frame it writes
//! at `trace`, payload included (as text or hex). Those payloads are the
//! visitor's page, and the relay never keeps a page — not in Redis, not in
//! memory after the session, not in a log (SECURITY.md, "no recording").
//! So even `RUST_LOG=trace` leaves those two targets at `debug`, unless
//! `RUST_LOG` names them itself (an operator debugging the WebSocket layer
//! on purpose). Tested end to end by `tests/tests/e2e/privacy.rs`, which
//! runs the relay at `trace` and searches its log for the page's text.

use tracing_subscriber::filter::{EnvFilter, LevelFilter};

/// Targets that log payloads at `trace`.
const PAYLOAD_TARGETS: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

/// The filter directives for `rust_log` (the `RUST_LOG` variable, if set).
/// A value that does not parse falls back to `info`, as before.
pub fn log_directives(rust_log: Option<&str>) -> String {
    let asked = rust_log.map(str::trim).filter(|s| !s.is_empty());
    let base = match asked {
        Some(s) if EnvFilter::try_new(s).is_ok() => s.to_owned(),
        _ => "info".to_owned(),
    };
    let traces = EnvFilter::try_new(&base)
        .ok()
        .and_then(|f| f.max_level_hint())
        .is_some_and(|l| l == LevelFilter::TRACE);
    let mut directives = base.clone();
    if traces {
        for target in PAYLOAD_TARGETS {
            let named = base.split(',').any(|d| {
                let t = d.split(['=', '[']).next().unwrap_or("").trim();
                t == target || t.starts_with(&format!("{target}::"))
            });
            if !named {
                directives.push_str(&format!(",{target}=debug"));
            }
        }
    }
    directives
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn trace_holds_the_websocket_payload_targets_at_debug() {
        assert_eq!(
            log_directives(Some("trace")),
            "trace,tungstenite=debug,tokio_tungstenite=debug"
        );
        assert_eq!(
            log_directives(Some("relay=trace")),
            "relay=trace,tungstenite=debug,tokio_tungstenite=debug"
        );
    }

    #[test]
    fn other_levels_and_named_targets_are_left_alone() {
        assert_eq!(log_directives(None), "info");
        assert_eq!(log_directives(Some("  ")), "info");
        assert_eq!(log_directives(Some("debug")), "debug");
        assert_eq!(
            log_directives(Some("trace,tungstenite::protocol=trace")),
            "trace,tungstenite::protocol=trace,tokio_tungstenite=debug"
        );
        assert_eq!(log_directives(Some("relay=loudest")), "info");
        // The result always parses.
        for asked in [None, Some("trace"), Some("warn,relay=trace")] {
            assert!(EnvFilter::try_new(log_directives(asked)).is_ok());
        }
    }
}
