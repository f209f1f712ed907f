//! The console's way back after its connection to the relay broke (a
//! dropped network, its relay going away or draining): when to try again,
//! when to give up, and what the rejoin says. Plain Rust; `app` owns the
//! socket and the timers, `console` the state.
//!
//! Owns: the retry schedule (full jitter), the give-up deadline and the
//! sentences. Does not own: the rejoin token (the relay's) or the frames
//! the relay replays (the sequencer takes them in order as always).

use protocol::{AgentRejoin, Hello, Seq};

/// After this long without a connection, the console stops trying.
pub const GIVE_UP_MS: f64 = 60_000.0;
const BASE_MS: f64 = 250.0;
const CAP_MS: f64 = 8_000.0;

pub const COULD_NOT_REJOIN: &str =
    "The connection to the relay was lost and could not be made again within a minute.";
pub const REJOIN_REFUSED: &str =
    "The session could not be rejoined: it has ended, or this console's place in it expired.";

/// A console between a broken connection and being back in its session.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconnect {
    since_ms: f64,
    attempt: u32,
}

impl Reconnect {
    pub fn new(now_ms: f64) -> Reconnect {
        Reconnect {
            since_ms: now_ms,
            attempt: 0,
        }
    }

    /// The wait before the next attempt: uniform in [0, min(cap, base·2ⁿ)]
    /// (`jitter` uniform in [0, 1)), so the consoles a dying relay drops
    /// together do not come back in step; `None` once it is time to give up.
    pub fn next_wait(&mut self, now_ms: f64, jitter: f64) -> Option<u32> {
        let left = self.since_ms + GIVE_UP_MS - now_ms;
        if left <= 0.0 {
            return None;
        }
        let ceiling = (BASE_MS * 2f64.powi(self.attempt.min(16) as i32)).min(CAP_MS);
        self.attempt = self.attempt.saturating_add(1);
        Some((ceiling * jitter.clamp(0.0, 1.0)).min(left) as u32)
    }
}

/// The hello that continues the agent's place, from the newest frame the
/// console applied.
pub fn hello(token: &str, rejoin: &str, last_applied: Option<Seq>) -> Hello {
    Hello::AgentRejoin(AgentRejoin {
        token: token.to_owned(),
        rejoin: rejoin.to_owned(),
        last_seq: last_applied,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_a_ceiling_with_full_jitter_then_give_up() {
        let mut r = Reconnect::new(1_000.0);
        let ceilings: Vec<u32> = (0..7)
            .map(|_| r.next_wait(1_000.0, 0.999_999).unwrap_or(0))
            .collect();
        assert_eq!(ceilings, [249, 499, 999, 1999, 3999, 7999, 7999]);
        let mut r = Reconnect::new(0.0);
        assert_eq!(r.next_wait(0.0, 0.0), Some(0), "may retry at once");
        assert_eq!(
            r.next_wait(59_900.0, 0.999_999),
            Some(100),
            "never past the deadline"
        );
        assert_eq!(r.next_wait(GIVE_UP_MS, 0.5), None);
    }

    use crate::console::{Console, ConsoleState, RECONNECTING};
    use crate::mirror::fake::FakeDom;
    use protocol::{AgentId, ErrorCode, ErrorFrame, SessionId, ToAgent};

    fn snapshot(seq: u64) -> ToAgent {
        crate::console::tests::snapshot(seq, "https://shop.example/")
    }

    fn admitted() -> ToAgent {
        ToAgent::Admitted {
            resources: "/res/s/k/".into(),
        }
    }

    /// Admitted, given its rejoin token, showing the page (seq 4).
    fn watching() -> Console<FakeDom> {
        let mut c = Console::new(FakeDom::default());
        c.on_message(
            ToAgent::Joined {
                session: SessionId("s".into()),
                agent: AgentId(1),
                page_url: "https://shop.example/".into(),
            },
            0.0,
        );
        c.on_message(admitted(), 0.0);
        c.on_message(ToAgent::RejoinToken("secret".into()), 0.0);
        c.on_message(snapshot(4), 0.0);
        c
    }

    #[test]
    fn a_broken_connection_keeps_the_page_and_rejoins_after_the_last_frame() {
        let mut c = watching();
        c.on_closed(1006, "", 10.0);
        assert_eq!(c.state(), ConsoleState::Live, "the page stays");
        assert_eq!(c.status(), RECONNECTING);
        assert!(c.is_reconnecting());
        assert!(c.next_retry(10.0, 0.5).is_some());
        let Some(Hello::AgentRejoin(r)) = c.rejoin_hello("token") else {
            panic!("a rejoin hello");
        };
        assert_eq!((r.rejoin.as_str(), r.last_seq), ("secret", Some(Seq(4))));
        c.on_message(admitted(), 20.0);
        assert!(!c.is_reconnecting());
        assert_eq!(c.status(), "Live — https://shop.example/");
        assert_eq!(c.snapshots_applied(), 1, "no new snapshot needed");
    }

    #[test]
    fn a_refused_rejoin_or_a_minute_of_failures_ends_with_a_sentence() {
        let mut c = watching();
        c.on_closed(1006, "", 0.0);
        c.on_message(
            ToAgent::Error(ErrorFrame {
                code: ErrorCode::NotAllowed,
                message: "The session to resume has ended.".into(),
            }),
            1.0,
        );
        assert_eq!(c.status(), format!("Ended: {REJOIN_REFUSED}"));
        let mut c = watching();
        c.on_closed(1006, "", 0.0);
        assert_eq!(c.next_retry(GIVE_UP_MS + 1.0, 0.5), None);
        assert_eq!(c.status(), format!("Ended: {COULD_NOT_REJOIN}"));
    }

    #[test]
    fn a_draining_relay_window_is_taken_once_and_the_page_stays() {
        let mut c = watching();
        c.on_message(ToAgent::Reconnect { within_ms: 200 }, 5.0);
        assert_eq!(c.status(), RECONNECTING);
        assert_eq!(c.take_drain(), Some(200));
        assert_eq!(c.take_drain(), None);
        c.begin_reconnect(6.0);
        assert!(c.rejoin_hello("token").is_some());
        assert_eq!(c.state(), ConsoleState::Live);
    }

    #[test]
    fn a_console_never_admitted_just_loses_its_connection() {
        let mut c = Console::new(FakeDom::default());
        c.on_closed(1006, "", 0.0);
        assert_eq!(c.state(), ConsoleState::Ended);
        assert!(c.rejoin_hello("token").is_none());
    }

    #[test]
    fn the_rejoin_carries_the_newest_applied_frame() {
        let Hello::AgentRejoin(r) = hello("t", "secret", Some(Seq(9))) else {
            panic!("a rejoin");
        };
        assert_eq!(
            (r.token.as_str(), r.rejoin.as_str(), r.last_seq),
            ("t", "secret", Some(Seq(9)))
        );
    }
}
