//! One peer's trouble stays its own: a misbehaving session or a slow agent
//! never holds up or ends anyone else.

use std::time::Duration;

use protocol::{AgentMsg, EndReason, ErrorCode, EventFrame, Seq, ToAgent, ToVisitor, VisitorMsg};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

use crate::flow::event;
use crate::support::{Peer, Relay, Setup, WAIT};

on_every_backend!(a_misbehaving_session_does_not_disturb_another);

async fn a_misbehaving_session_does_not_disturb_another(setup: Setup) {
    let relay = Relay::on_with(setup, |c| c.limits.max_frame_bytes = 64 * 1024).await;
    let (mut calm_visitor, _, mut calm_code) = relay.start_session().await;
    let (mut calm_agent, _) = relay
        .admitted_agent(&mut calm_visitor, &mut calm_code)
        .await;
    let (mut rowdy_visitor, _, mut rowdy_code) = relay.start_session().await;
    let (mut rowdy_agent, _) = relay
        .admitted_agent(&mut rowdy_visitor, &mut rowdy_code)
        .await;

    calm_visitor.send(&VisitorMsg::Event(event(1))).await;

    // The rowdy agent sends garbage, a second agent of that session sends an
    // oversized frame, and the rowdy visitor a text frame.
    rowdy_agent.send_bytes(vec![0xc1]).await;
    assert_eq!(
        rowdy_agent.expect_agent_error().await.code,
        ErrorCode::BadFrame
    );
    assert!(matches!(
        rowdy_visitor.recv::<ToVisitor>().await,
        ToVisitor::AgentLeft { .. }
    ));
    let (mut big, _) = relay
        .admitted_agent(&mut rowdy_visitor, &mut rowdy_code)
        .await;
    big.send_bytes(vec![7; 100 * 1024]).await;
    assert_eq!(
        big.expect_agent_error().await.code,
        ErrorCode::FrameTooLarge
    );
    futures_util::SinkExt::send(&mut rowdy_visitor.ws, Message::Text("hi".into()))
        .await
        .expect("send");

    calm_visitor.send(&VisitorMsg::Event(event(2))).await;
    assert_eq!(calm_agent.recv::<ToAgent>().await, ToAgent::Event(event(1)));
    assert_eq!(calm_agent.recv::<ToAgent>().await, ToAgent::Event(event(2)));

    // The calm session is still fully alive both ways.
    calm_agent.send(&AgentMsg::Resync).await;
    assert_eq!(
        calm_visitor.recv::<ToVisitor>().await,
        ToVisitor::SnapshotNeeded
    );
    calm_visitor.send(&VisitorMsg::End).await;
    assert_eq!(
        calm_agent.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::VisitorEnded
        }
    );
}

fn big_event(seq: u64) -> EventFrame {
    EventFrame {
        seq: Seq(seq),
        snapshot: false,
        payload: vec![(seq % 251) as u8; 64 * 1024],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_agent_is_dropped_without_holding_up_the_others() {
    // Room for bursts, so only an agent that stops reading overflows.
    let relay = Relay::with(|c| c.limits.agent_queue_frames = 64).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (fast, _) = relay.admitted_agent(&mut visitor, &mut code).await;

    // A tiny receive buffer so the relay's socket to it fills quickly.
    let tcp = TcpSocket::new_v4().expect("socket");
    tcp.set_recv_buffer_size(4096).expect("rcvbuf");
    let tcp = tcp.connect(relay.addr).await.expect("connect");
    let url = format!("ws://{}/ws/agent", relay.addr);
    let slow = relay.socket_over(url, tcp).await.expect("upgrade");
    let (slow, slow_id) = relay.join_as(&mut visitor, &mut code, slow).await;
    let (mut slow, _) = crate::support::admit(&mut visitor, slow, slow_id).await;

    // The fast agent reads everything as it comes.
    let (count_tx, mut count_rx) = tokio::sync::watch::channel(0u64);
    let reader = tokio::spawn(async move {
        let mut fast: Peer = fast;
        let mut next = 1;
        loop {
            match fast.recv::<ToAgent>().await {
                ToAgent::Event(frame) => {
                    assert_eq!(frame, big_event(next), "fast agent got events out of order");
                    let _ = count_tx.send(next);
                    next += 1;
                }
                ToAgent::Ended { .. } => return fast,
                other => panic!("fast agent got {other:?}"),
            }
        }
    });

    // Stream until the relay gives up on the slow agent. Each event waits
    // until the fast agent has it (a debug-build test reader on a shared
    // machine is slower than a real console, and must not overflow itself),
    // so the fast agent is never behind while the slow one falls ever
    // further behind. The relay must keep both the visitor and the fast
    // agent moving meanwhile.
    let mut sent = 0;
    let sending = async {
        loop {
            sent += 1;
            visitor.send(&VisitorMsg::Event(big_event(sent))).await;
            count_rx
                .wait_for(|n| *n == sent)
                .await
                .expect("fast reader alive");
            if sent % 16 == 0
                && relay
                    .metrics()
                    .await
                    .lines()
                    .any(|l| l == "rejected_total{reason=\"too_slow\"} 1")
            {
                return;
            }
            assert!(sent < 4000, "the slow agent was never dropped");
        }
    };
    tokio::time::timeout(Duration::from_secs(60), sending)
        .await
        .expect("the visitor was never blocked");

    // The slow agent reads what reached it, then the reason and the close.
    let error = loop {
        match slow.next_message().await {
            Some(Message::Binary(bytes)) => match protocol::decode::<ToAgent>(&bytes) {
                Ok(ToAgent::Event(_)) => continue,
                Ok(ToAgent::Error(frame)) => break frame,
                other => panic!("slow agent got {other:?}"),
            },
            other => panic!("slow agent got {other:?} before its error"),
        }
    };
    assert_eq!(error.code, ErrorCode::RateLimited);
    assert_eq!(slow.expect_close().await.0, 4007);
    assert_eq!(
        visitor.recv::<ToVisitor>().await,
        ToVisitor::AgentLeft { agent: slow_id }
    );

    // The fast agent got every event, and keeps getting them.
    for _ in 0..3 {
        sent += 1;
        visitor.send(&VisitorMsg::Event(big_event(sent))).await;
    }
    tokio::time::timeout(WAIT, count_rx.wait_for(|n| *n == sent))
        .await
        .expect("fast agent caught up")
        .expect("reader alive");
    visitor.send(&VisitorMsg::End).await;
    tokio::time::timeout(WAIT, reader)
        .await
        .expect("reader ends")
        .expect("reader did not panic");
}
