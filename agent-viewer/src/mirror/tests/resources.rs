//! Resource URLs in the mirror: once the agent is admitted, every resource
//! attribute points at the relay's copy for this session; links, frames and
//! everything else keep the visitor's URLs.

use protocol::{AttrChange, MutationBatch, Node, NodeId, Ns};

use super::*;
use crate::mirror::fake::FakeDom;
use crate::mirror::Mirror;
use crate::resources::base64url;

const BASE: &str = "http://relay:8080/res/s/KEY/";

fn relay(url: &str) -> String {
    let mut out = BASE.to_owned();
    base64url(url.as_bytes(), &mut out);
    out
}

fn admitted_mirror(children: Vec<Node>) -> Mirror<FakeDom> {
    let mut mirror = Mirror::new(FakeDom::default());
    mirror.set_resources(Some(BASE.into()));
    mirror.apply(&page_with(children)).expect("snapshot");
    mirror
}

#[test]
fn resource_attributes_point_at_the_relay_after_admission() {
    let mirror = admitted_mirror(vec![
        el(
            10,
            "img",
            &[("src", "https://shop.example/a.png"), ("alt", "A")],
            vec![],
        ),
        el(
            11,
            "link",
            &[("rel", "stylesheet"), ("href", "/site.css")],
            vec![],
        ),
        el_ns(
            12,
            "use",
            Ns::Svg,
            &[("href", "https://shop.example/sprite.svg#cart")],
            vec![],
        ),
        el(13, "a", &[("href", "https://shop.example/next")], vec![]),
        el(
            14,
            "img",
            &[("srcset", "s.png 1x, https://cdn.example/l.png 2x")],
            vec![],
        ),
        el(
            15,
            "img",
            &[("src", "data:image/gif;base64,R0lGODlh")],
            vec![],
        ),
    ]);
    let dom = mirror.backend();
    assert_eq!(
        dom.attr(node(&mirror, 10), "src"),
        Some(relay("https://shop.example/a.png").as_str())
    );
    assert_eq!(dom.attr(node(&mirror, 10), "alt"), Some("A"));
    // Relative URLs are resolved against the visitor document's base first.
    assert_eq!(
        dom.attr(node(&mirror, 11), "href"),
        Some(relay("https://shop.example/site.css").as_str())
    );
    assert_eq!(
        dom.attr(node(&mirror, 12), "href"),
        Some(format!("{}#cart", relay("https://shop.example/sprite.svg")).as_str())
    );
    // Navigation is not a resource.
    assert_eq!(
        dom.attr(node(&mirror, 13), "href"),
        Some("https://shop.example/next")
    );
    assert_eq!(
        dom.attr(node(&mirror, 14), "srcset"),
        Some(
            format!(
                "{} 1x, {} 2x",
                relay("https://shop.example/s.png"),
                relay("https://cdn.example/l.png")
            )
            .as_str()
        )
    );
    // Inline data stays inline.
    assert_eq!(
        dom.attr(node(&mirror, 15), "src"),
        Some("data:image/gif;base64,R0lGODlh")
    );
}

#[test]
fn changed_and_added_resources_point_at_the_relay_too() {
    let mut mirror = admitted_mirror(vec![el(
        10,
        "img",
        &[("src", "https://shop.example/a.png")],
        vec![],
    )]);
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![add(
                5,
                None,
                el(11, "img", &[("src", "https://shop.example/b.png")], vec![]),
            )],
            attrs: vec![AttrChange {
                id: NodeId(10),
                name: "src".into(),
                value: Some("https://shop.example/c.png".into()),
            }],
            ..Default::default()
        }))
        .expect("batch");
    let dom = mirror.backend();
    assert_eq!(
        dom.attr(node(&mirror, 10), "src"),
        Some(relay("https://shop.example/c.png").as_str())
    );
    assert_eq!(
        dom.attr(node(&mirror, 11), "src"),
        Some(relay("https://shop.example/b.png").as_str())
    );
}

#[test]
fn before_admission_urls_are_the_visitors() {
    let mut mirror = Mirror::new(FakeDom::default());
    mirror
        .apply(&page_with(vec![el(
            10,
            "img",
            &[("src", "https://shop.example/a.png")],
            vec![],
        )]))
        .expect("snapshot");
    assert_eq!(
        mirror.backend().attr(node(&mirror, 10), "src"),
        Some("https://shop.example/a.png")
    );
}

#[test]
fn script_urls_are_neutralised_before_anything_is_relayed() {
    let mirror = admitted_mirror(vec![el(
        10,
        "img",
        &[("src", "javascript:alert(1)")],
        vec![],
    )]);
    assert_eq!(
        mirror.backend().attr(node(&mirror, 10), "src"),
        Some("about:blank")
    );
}
