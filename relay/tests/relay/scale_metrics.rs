//! `/metrics` for running several relays: what goes out, by role, and how
//! long a visitor's event took to reach an agent's socket, in process or
//! through Redis.

use protocol::{AgentMsg, ToAgent, ToVisitor, VisitorMsg};

use crate::flow::event;
use crate::support::{Relay, Setup};

on_every_backend!(fan_out_is_timed_and_what_goes_out_is_counted);

async fn fan_out_is_timed_and_what_goes_out_is_counted(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut agent, _) = relay.admitted_agent(&mut visitor, &mut code).await;
    for seq in 1..=3 {
        visitor.send(&VisitorMsg::Event(event(seq))).await;
        assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(seq)));
    }
    agent.send(&AgentMsg::Resync).await;
    assert_eq!(visitor.recv::<ToVisitor>().await, ToVisitor::SnapshotNeeded);

    // The agents' relay wrote the events; the path says whether they went
    // through Redis.
    let path = match setup {
        Setup::Memory => "local",
        Setup::Redis | Setup::TwoRelays => "redis",
    };
    let agents = relay.agents();
    agents
        .wait_for_metric(&format!(
            "fanout_latency_seconds_count{{path=\"{path}\"}} 3"
        ))
        .await;
    agents
        .wait_for_metric(&format!(
            "fanout_latency_seconds_bucket{{path=\"{path}\",le=\"+Inf\"}} 3"
        ))
        .await;
    assert!(agents.metric("frames_out_total{role=\"agent\"}").await >= 3);
    assert!(agents.metric("bytes_out_total{role=\"agent\"}").await > 0);
    assert_eq!(agents.metric("resyncs_total").await, 1);
    assert_eq!(agents.metric("peers_connected{role=\"agent\"}").await, 1);
    assert_eq!(relay.metric("peers_connected{role=\"visitor\"}").await, 1);
    assert!(relay.metric("frames_out_total{role=\"visitor\"}").await >= 2);
    assert_eq!(relay.metric("relay_draining").await, 0);
}
