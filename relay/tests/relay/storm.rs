//! A reconnect storm: a relay holding 2,000 sessions dies, and all of its
//! visitors land on the survivor at once, together with a crowd of
//! brand-new pages. Every ongoing session must be back within seconds,
//! while the new ones beyond the survivor's bucket are told to wait.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::{ErrorCode, ToVisitor};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::processes::{self, metric, RelayProcess};
use crate::redis_server::RedisServer;

const ONGOING: usize = 2_000;
const NEWCOMERS: usize = 500;
const PER_SECOND: u64 = 20;
const BURST: u64 = 50;
/// "Within a few seconds" on a quiet machine (a debug build takes 2-4 s
/// for all of them), with room for a two-core machine that builds other
/// crates meanwhile (measured: p50 6 s, max 9.5 s at a load of 12).
const BACK_WITHIN: Duration = Duration::from_secs(15);

enum Outcome {
    Resumed(Duration),
    Opened,
    Limited,
}

#[tokio::test]
async fn two_thousand_resumes_come_back_while_new_sessions_are_limited() {
    let redis = RedisServer::start().await;
    let roomy = "resume_grace_secs = 120\n[admission]\nnew_sessions_per_second = 100000\nnew_sessions_burst = 100000\n";
    let strict = format!(
        "resume_grace_secs = 120\n[admission]\nnew_sessions_per_second = {PER_SECOND}\nnew_sessions_burst = {BURST}\n"
    );
    let doomed = RelayProcess::start(&redis, "doomed", roomy).await;
    let survivor = RelayProcess::start(&redis, "survivor", &strict).await;

    // The doomed relay's sessions, opened a few hundred at a time.
    let gate = Arc::new(Semaphore::new(200));
    let mut opening = JoinSet::new();
    for _ in 0..ONGOING {
        let gate = Arc::clone(&gate);
        let addr = doomed.addr;
        opening.spawn(async move {
            let _turn = gate.acquire_owned().await.expect("gate");
            let (peer, _code, resume) = processes::session(addr).await;
            (peer, resume)
        });
    }
    let mut peers = Vec::with_capacity(ONGOING);
    let mut tokens = Vec::with_capacity(ONGOING);
    while let Some(opened) = opening.join_next().await {
        let (peer, token) = opened.expect("opened");
        peers.push(peer);
        tokens.push(token);
    }

    // The relay dies; every client reconnects to the survivor at once.
    doomed.signal("-KILL").await;
    drop(peers);
    let storm = Instant::now();
    let mut reconnecting = JoinSet::new();
    for token in tokens {
        let addr = survivor.addr;
        reconnecting.spawn(async move {
            let started = Instant::now();
            let mut peer = processes::visitor(addr, Some(token)).await;
            assert!(matches!(
                peer.recv::<ToVisitor>().await,
                ToVisitor::Welcome { .. }
            ));
            assert!(matches!(
                peer.recv::<ToVisitor>().await,
                ToVisitor::Resumed { .. }
            ));
            (Outcome::Resumed(started.elapsed()), Some(peer))
        });
    }
    for _ in 0..NEWCOMERS {
        let addr = survivor.addr;
        reconnecting.spawn(async move {
            let mut peer = processes::visitor(addr, None).await;
            match peer.recv::<ToVisitor>().await {
                ToVisitor::Welcome { .. } => (Outcome::Opened, Some(peer)),
                ToVisitor::Error(frame) => {
                    assert_eq!(frame.code, ErrorCode::RateLimited, "{frame:?}");
                    assert!(frame.message.contains("try again in"), "{frame:?}");
                    (Outcome::Limited, None)
                }
                other => panic!("expected Welcome or RateLimited, got {other:?}"),
            }
        });
    }
    let (mut back, mut opened, mut limited) = (Vec::new(), 0u64, 0u64);
    let mut held = Vec::new();
    while let Some(done) = reconnecting.join_next().await {
        let (outcome, peer) = done.expect("a client task");
        match outcome {
            Outcome::Resumed(took) => back.push(took),
            Outcome::Opened => opened += 1,
            Outcome::Limited => limited += 1,
        }
        held.extend(peer);
    }
    let storm_took = storm.elapsed();
    back.sort();
    let slowest = back.last().copied().unwrap_or_default();
    eprintln!(
        "storm: {} resumed (p50 {:?}, max {slowest:?}), {opened} new opened, {limited} limited, all in {storm_took:?}",
        back.len(),
        back[back.len() / 2],
    );
    assert_eq!(back.len(), ONGOING, "every ongoing session is back");
    assert!(slowest < BACK_WITHIN, "slowest resume took {slowest:?}");
    // New sessions got the burst and the rate, never more.
    let allowed = BURST + PER_SECOND * (storm_took.as_secs() + 1);
    assert!(opened <= allowed, "{opened} opened, at most {allowed}");
    assert!(limited > 0, "the bucket limited nobody");
    assert_eq!(opened + limited, NEWCOMERS as u64);
    assert_eq!(
        metric(survivor.addr, "rate_limited_total{kind=\"new_session\"}").await,
        limited
    );
    assert_eq!(
        metric(survivor.addr, "sessions_resumed_total").await,
        ONGOING as u64
    );
    // The log says so once, not once per refusal.
    let lines = survivor
        .log()
        .lines()
        .filter(|l| l.contains("new sessions rate-limited"))
        .count();
    assert!((1..=3).contains(&lines), "{lines} log lines");
    drop(held);
}
