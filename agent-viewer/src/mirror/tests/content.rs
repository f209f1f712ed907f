//! What the mirror puts into nodes, not where: sanitised attributes, inert
//! scripts, placeholders for refused names, form state and masking, scroll
//! and viewport.

use protocol::{AttrChange, Event, FormState, MutationBatch, Node, NodeId, ScrollPos, Viewport};

use super::*;
use crate::mirror::fake::FakeDom;
use crate::mirror::{Applied, Mirror};

#[test]
fn scripts_are_built_empty_and_inert() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![
                add(
                    4,
                    None,
                    el(
                        8,
                        "script",
                        &[("src", "https://evil/x.js")],
                        vec![text(9, "alert(1)")],
                    ),
                ),
                add(8, None, text(10, "alert(2)")),
            ],
            attrs: vec![
                AttrChange {
                    id: NodeId(8),
                    name: "type".into(),
                    value: None,
                },
                AttrChange {
                    id: NodeId(8),
                    name: "src".into(),
                    value: Some("https://evil/y.js".into()),
                },
            ],
            ..Default::default()
        }))
        .expect("batch");
    assert_eq!(
        mirror.backend().markup(node(&mirror, 8)),
        "<script type=\"application/x-cobrowse-inert\"></script>"
    );
}

#[test]
fn planted_handlers_and_script_urls_are_neutralised() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![
                add(
                    5,
                    None,
                    el(
                        8,
                        "a",
                        &[
                            ("href", " JaVaScRiPt:alert(1)"),
                            ("onclick", "x()"),
                            ("class", "l"),
                        ],
                        vec![],
                    ),
                ),
                add(
                    5,
                    None,
                    el(9, "iframe", &[("srcdoc", "<script>1</script>")], vec![]),
                ),
                add(
                    4,
                    None,
                    el(
                        10,
                        "meta",
                        &[("http-equiv", "refresh"), ("content", "0")],
                        vec![],
                    ),
                ),
            ],
            ..Default::default()
        }))
        .expect("batch");
    let dom = mirror.backend();
    assert_eq!(
        dom.markup(node(&mirror, 8)),
        "<a href=\"about:blank\" class=\"l\"></a>"
    );
    // No srcdoc; the frame is sandboxed and, with no document sent, shows
    // the "not shared" placeholder.
    assert_eq!(
        dom.markup(node(&mirror, 9)),
        "<iframe sandbox=\"allow-same-origin\">#placeholder</iframe>"
    );
    assert_eq!(dom.markup(node(&mirror, 10)), "<meta content=\"0\"></meta>");
}

#[test]
fn invalid_names_become_placeholders_or_are_skipped_never_a_failure() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![add(
                5,
                None,
                el(
                    8,
                    "bad tag",
                    &[("ok", "1"), ("bad name", "2")],
                    vec![text(9, "kept")],
                ),
            )],
            ..Default::default()
        }))
        .expect("batch");
    assert_eq!(
        mirror.backend().markup(node(&mirror, 8)),
        "<cobrowse-placeholder ok=\"1\">kept</cobrowse-placeholder>"
    );
}

#[test]
fn input_values_checks_and_selection_are_shown_and_masked_values_never_are() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![
                add(5, None, el(8, "input", &[("type", "text")], vec![])),
                add(5, None, el(9, "input", &[("type", "password")], vec![])),
            ],
            ..Default::default()
        }))
        .expect("batch");
    let input = |id: u32, state: FormState| Event::Input {
        id: NodeId(id),
        state,
    };
    mirror
        .apply(&input(
            8,
            FormState {
                value: Some("hello".into()),
                checked: Some(true),
                ..Default::default()
            },
        ))
        .expect("input");
    mirror
        .apply(&input(
            9,
            FormState {
                masked_len: Some(6),
                ..Default::default()
            },
        ))
        .expect("input");
    mirror
        .apply(&input(404, FormState::default()))
        .expect("unknown ids are ignored");
    let dom = mirror.backend();
    assert_eq!(
        dom.get(node(&mirror, 8)).form.value.as_deref(),
        Some("hello")
    );
    assert_eq!(dom.get(node(&mirror, 8)).form.checked, Some(true));
    assert_eq!(
        dom.get(node(&mirror, 9)).form.value.as_deref(),
        Some("••••••")
    );
}

#[test]
fn snapshot_form_state_is_applied() {
    let mut mirror = Mirror::new(FakeDom::default());
    let mut input = el(4, "input", &[], vec![]);
    if let Node::Element { state, .. } = &mut input {
        *state = Some(FormState {
            value: Some("typed".into()),
            ..Default::default()
        });
    }
    mirror
        .apply(&snapshot_of(false, vec![el(3, "html", &[], vec![input])]))
        .expect("snapshot");
    assert_eq!(
        mirror.backend().get(node(&mirror, 4)).form.value.as_deref(),
        Some("typed")
    );
}

#[test]
fn scroll_and_viewport_events_reach_the_backend() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&Event::Scroll(ScrollPos {
            target: NodeId(1),
            x: 1.0,
            y: 2.0,
        }))
        .expect("scroll");
    mirror
        .apply(&Event::Scroll(ScrollPos {
            target: NodeId(5),
            x: 3.0,
            y: 4.0,
        }))
        .expect("scroll");
    let small = Viewport {
        width: 390,
        height: 844,
        device_pixel_ratio: 3.0,
    };
    assert_eq!(
        mirror.apply(&Event::Viewport(small)).expect("viewport"),
        Applied::Viewport
    );
    assert_eq!(mirror.backend().window_scroll, Some((1.0, 2.0)));
    assert_eq!(
        mirror.backend().get(node(&mirror, 5)).scroll,
        Some((3.0, 4.0))
    );
    assert_eq!(mirror.viewport(), Some(small));
    assert_eq!(mirror.backend().viewport, Some(small));
}
