//! Masking rules from the relay's config reach the visitor's script with
//! the Welcome (for the page that starts the session) and with Resumed (for
//! each next page, by its own URL), on every backend.

use protocol::{Hello, MaskRules, ToVisitor, VisitorHello};

use crate::support::{Peer, Relay, Setup, Welcome};

on_every_backend!(rules_follow_the_page_url_through_welcome_and_resume);

const CHECKOUT: &str = "https://shop.example/checkout/pay?step=2#card";

fn configured(config: &mut relay::config::Config) {
    config.masking = relay::masking::Masking::from_tables(&[relay::masking::MaskingTable {
        url: "https://shop.example/checkout/*".into(),
        mask: vec![".card-number".into(), "input[name=cvc]".into()],
        block: vec!["#signature".into()],
    }])
    .expect("valid tables");
    config.limits.resume_grace = std::time::Duration::from_secs(5);
}

fn checkout_rules() -> MaskRules {
    MaskRules {
        mask: vec![".card-number".into(), "input[name=cvc]".into()],
        block: vec!["#signature".into()],
    }
}

async fn hello(relay: &Relay, page_url: &str, resume: Option<String>) -> Peer {
    let mut visitor = relay.socket("/ws/visitor").await;
    visitor
        .hello(Hello::Visitor(VisitorHello {
            page_url: page_url.into(),
            resources: protocol::ResourcePolicy::default(),
            resume,
            invitation: None,
        }))
        .await;
    visitor
}

async fn rules_follow_the_page_url_through_welcome_and_resume(setup: Setup) {
    let relay = Relay::on_with(setup, configured).await;

    // A page the tables do not name: no rules.
    let mut cart = hello(&relay, crate::support::PAGE, None).await;
    let welcome = Welcome::expect(&mut cart).await;
    assert_eq!(welcome.masking, MaskRules::default());

    // A checkout page: its rules, whatever its query and fragment.
    let mut checkout = hello(&relay, CHECKOUT, None).await;
    assert_eq!(
        Welcome::expect(&mut checkout).await.masking,
        checkout_rules()
    );

    // The cart page's visitor moves on to checkout: the next page gets the
    // checkout rules with its Resumed (and its Welcome).
    drop(cart);
    let mut next = hello(&relay, CHECKOUT, Some(welcome.resume_token.clone())).await;
    let again = Welcome::expect(&mut next).await;
    assert_eq!(again.session, welcome.session);
    match next.recv::<ToVisitor>().await {
        ToVisitor::Resumed { masking, .. } => assert_eq!(masking, checkout_rules()),
        other => panic!("expected Resumed, got {other:?}"),
    }
}
