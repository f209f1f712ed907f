//! Every byte of the hand encoder against `protocol::encode`, on samples
//! that cross each MessagePack size boundary.

use super::*;
use protocol::{
    CanvasTile, EventFrame, Hello, NodeId, OfferedBody, PointerPos, ResourceHash, VisitorHello,
    VisitorMsg,
};

const LENGTHS: [usize; 7] = [0, 31, 32, 255, 256, 65_535, 65_536];
const IDS: [u32; 8] = [0, 127, 128, 255, 256, 65_535, 65_536, u32::MAX];

fn text(len: usize) -> String {
    "é".repeat(len / 2) + &"x".repeat(len % 2)
}

fn states() -> Vec<Option<FormState>> {
    vec![
        None,
        Some(FormState::default()),
        Some(FormState {
            value: Some(text(40)),
            checked: Some(true),
            selected: Some(false),
            masked_len: Some(70_000),
        }),
        Some(FormState {
            masked_len: Some(3),
            ..FormState::default()
        }),
    ]
}

fn tree() -> Node {
    let mut children = Vec::new();
    for (i, len) in LENGTHS.iter().enumerate() {
        children.push(Node::Text {
            id: NodeId(IDS[i]),
            text: text(*len),
        });
        children.push(Node::Comment {
            id: NodeId(IDS[i + 1]),
            text: text(*len),
        });
    }
    let many: Vec<Node> = (0..70_000)
        .map(|i| Node::Text {
            id: NodeId(i),
            text: String::new(),
        })
        .collect();
    for (i, (ns, state)) in [Ns::Html, Ns::Svg, Ns::MathMl, Ns::Other("urn:x".into())]
        .into_iter()
        .zip(states())
        .enumerate()
    {
        let attrs = (0..[0, 15, 16, 300][i])
            .map(|k| Attr::new(text(k), text(k * 7)))
            .collect();
        children.push(Node::Element {
            id: NodeId(IDS[i]),
            tag: "div".into(),
            ns,
            attrs,
            state,
            children: if i == 3 { many.clone() } else { Vec::new() },
        });
    }
    Node::Document {
        id: NodeId(1),
        quirks: true,
        children: vec![
            Node::Doctype {
                id: NodeId(2),
                name: "html".into(),
                public_id: text(33),
                system_id: String::new(),
            },
            Node::Element {
                id: NodeId(3),
                tag: "html".into(),
                ns: Ns::Html,
                attrs: vec![Attr::new("lang", "en")],
                state: None,
                children,
            },
        ],
    }
}

fn events() -> Vec<Event> {
    let viewport = Viewport {
        width: 1280,
        height: 70_000,
        device_pixel_ratio: 1.25,
    };
    let scroll = |id, x, y| ScrollPos {
        target: NodeId(id),
        x,
        y,
    };
    let mut events = vec![
        Event::Snapshot(Snapshot {
            url: text(300),
            base_url: "https://example.com/".into(),
            viewport,
            root: tree(),
            scrolls: vec![scroll(1, 0.0, 1e9), scroll(70_000, -3.5, f64::NAN)],
        }),
        Event::Mutations(MutationBatch::default()),
        Event::Mutations(MutationBatch {
            removes: IDS.iter().map(|i| NodeId(*i)).collect(),
            adds: vec![
                AddedNode {
                    parent: NodeId(5),
                    next_sibling: None,
                    node: Node::Text {
                        id: NodeId(9),
                        text: "t".into(),
                    },
                },
                AddedNode {
                    parent: NodeId(300),
                    next_sibling: Some(NodeId(70_000)),
                    node: tree(),
                },
            ],
            attrs: vec![
                AttrChange {
                    id: NodeId(1),
                    name: "class".into(),
                    value: None,
                },
                AttrChange {
                    id: NodeId(u32::MAX),
                    name: "href".into(),
                    value: Some(text(256)),
                },
            ],
            texts: (0..20)
                .map(|i| TextChange {
                    id: NodeId(i * 1000),
                    text: text(i as usize * 20),
                })
                .collect(),
        }),
        Event::Scroll(scroll(128, 12.75, 0.0)),
        Event::Viewport(viewport),
    ];
    for state in states().into_iter().flatten() {
        events.push(Event::Input {
            id: NodeId(65_536),
            state,
        });
    }
    for (i, id) in IDS.into_iter().enumerate() {
        for kind in [PointerKind::Move, PointerKind::Click, PointerKind::Leave] {
            for target in [None, Some(NodeId(id))] {
                events.push(Event::Pointer {
                    pos: PointerPos {
                        target,
                        fx: [0.0, 1.0, 0.5, -0.25, 1e-7, f32::MAX, f32::NAN, 0.1][i],
                        fy: 0.999,
                        x: 1920.0,
                        y: -12.5,
                    },
                    kind,
                });
            }
        }
        events.push(Event::Focus {
            target: Some(NodeId(id)),
        });
    }
    events.push(Event::Focus { target: None });
    events.extend(version_5_events());
    events
}

/// Shadow roots, CSSOM changes, fonts, canvas frames, media and selections,
/// across the same size boundaries.
fn version_5_events() -> Vec<Event> {
    let mut events = vec![Event::Mutations(MutationBatch {
        adds: vec![AddedNode {
            parent: NodeId(3),
            next_sibling: None,
            node: Node::ShadowRoot {
                id: NodeId(70_000),
                children: vec![Node::Text {
                    id: NodeId(70_001),
                    text: text(40),
                }],
            },
        }],
        ..MutationBatch::default()
    })];
    for (i, id) in IDS.into_iter().enumerate() {
        let n = id.min(300);
        let sheets = [SheetRef::Owner(NodeId(id)), SheetRef::Constructed(id)];
        let sheet = sheets[i % 2];
        let path: Vec<u32> = (0..i as u32).map(|k| k * 200).collect();
        events.push(Event::Sheet(SheetChange::Rules {
            sheet,
            rules: (0..n).map(|k| text(k as usize)).collect(),
        }));
        events.push(Event::Sheet(SheetChange::Insert {
            sheet,
            path: path.clone(),
            rule: text(LENGTHS[i % LENGTHS.len()]),
        }));
        events.push(Event::Sheet(SheetChange::Delete { sheet, path }));
        events.push(Event::Sheet(SheetChange::Adopted {
            root: NodeId(id),
            sheets: (0..n).collect(),
        }));
        events.push(Event::Font(FontFaceDesc {
            family: text(i * 9),
            source: text(LENGTHS[i % LENGTHS.len()]),
            descriptors: (0..i * 3)
                .map(|k| Attr::new(text(k), text(k * 11)))
                .collect(),
        }));
        events.push(Event::Canvas(CanvasFrame {
            id: NodeId(id),
            width: id,
            height: 150,
            tiles: (0..i as u32)
                .map(|k| CanvasTile {
                    x: k * 64,
                    y: id,
                    width: 64,
                    height: 70_000,
                    format: [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Webp]
                        [k as usize % 3],
                    data: vec![k as u8; LENGTHS[k as usize % LENGTHS.len()]],
                })
                .collect(),
        }));
        events.push(Event::CanvasUnreadable { id: NodeId(id) });
        events.push(Event::Media(MediaState {
            id: NodeId(id),
            paused: i % 2 == 0,
            time: f64::from(id) / 3.0,
            rate: 1.5,
            volume: 0.25,
            muted: i % 3 == 0,
            looped: i % 4 == 0,
        }));
        events.push(Event::Selection(Some(TextRange {
            anchor: NodeId(id),
            anchor_offset: id,
            focus: NodeId(IDS[(i + 1) % IDS.len()]),
            focus_offset: 0,
        })));
    }
    events.push(Event::Selection(None));
    events.push(Event::TopLayer(vec![]));
    let kinds = [
        TopLayerKind::ModalDialog,
        TopLayerKind::Popover,
        TopLayerKind::Fullscreen,
    ];
    events.push(Event::TopLayer(
        IDS.iter()
            .enumerate()
            .map(|(i, id)| TopLayerEntry {
                node: NodeId(*id),
                kind: kinds[i % kinds.len()],
            })
            .collect(),
    ));
    events
}

#[test]
fn events_encode_exactly_as_protocol_does() {
    for (i, event) in events().iter().enumerate() {
        for seq in [1, 127, 128, 70_000, 1 << 40] {
            let frame = EventFrame::new(Seq(seq), event).unwrap();
            let expected = protocol::encode(&VisitorMsg::Event(frame)).unwrap();
            let got = encode_event(Seq(seq), event);
            assert!(got == expected, "event #{i} at seq {seq} differs");
        }
    }
}

#[test]
fn a_snapshot_encoded_in_slices_is_the_same_frame_as_in_one_go() {
    let Some(Event::Snapshot(snap)) = events().into_iter().next() else {
        panic!("the first sample is a snapshot");
    };
    let whole = encode_event(Seq(70_000), &Event::Snapshot(snap.clone()));
    for every in [1u32, 7, 1000] {
        let mut encoder = crate::wire::SnapshotEncoder::new(snap.clone());
        let mut slices = 0;
        loop {
            let mut n = 0;
            slices += 1;
            if encoder.step(&mut || {
                n += 1;
                n < every
            }) {
                break;
            }
        }
        assert!(slices > 1, "stopped every {every} nodes");
        let got = event_frame(Seq(70_000), true, &encoder.finish());
        assert!(
            got == whole,
            "stopping every {every} nodes changed the bytes"
        );
    }
}

#[test]
fn offers_encode_exactly_as_protocol_does() {
    for n in [0usize, 1, 15, 16, 70_000] {
        let offers: Vec<Offered> = (0..n)
            .map(|i| Offered {
                url: text(if n > 100 {
                    9
                } else {
                    LENGTHS[i % LENGTHS.len()]
                }),
                body: (i % 3 != 0).then(|| OfferedBody {
                    hash: ResourceHash([i as u8; 32]),
                    size: [0, 127, 128, 65_536, 1 << 33][i % 5],
                    content_type: "text/css; charset=Shift_JIS".into(),
                }),
            })
            .collect();
        assert!(
            encode_offer(&offers) == protocol::encode(&VisitorMsg::Offer(offers.clone())).unwrap(),
            "{n} offers differ"
        );
    }
}

#[test]
fn hello_consent_end_and_set_mode_encode_exactly_as_protocol_does() {
    for (i, len) in LENGTHS.into_iter().enumerate() {
        let url = text(len);
        let resources = ResourcePolicy {
            upload: i % 2 == 0,
            server_fetch: i % 3 == 0,
        };
        let resume = (i % 2 == 1).then(|| text(len.min(300)));
        let invitation = (i % 3 == 1).then(|| text(43));
        let hello = Hello::Visitor(VisitorHello {
            page_url: url.clone(),
            resources,
            resume: resume.clone(),
            invitation: invitation.clone(),
        });
        assert_eq!(
            encode_hello(&url, resources, resume.as_deref(), invitation.as_deref()),
            protocol::encode_hello(&hello).unwrap()
        );
    }
    for id in IDS {
        for accepted in [true, false] {
            let msg = VisitorMsg::Consent {
                agent: AgentId(id),
                accepted,
            };
            assert_eq!(
                encode_consent(AgentId(id), accepted),
                protocol::encode(&msg).unwrap()
            );
        }
    }
    assert_eq!(encode_end(), protocol::encode(&VisitorMsg::End).unwrap());
    for id in IDS {
        for mode in [Mode::ViewOnly, Mode::Shared] {
            let msg = VisitorMsg::SetMode {
                agent: AgentId(id),
                mode,
            };
            assert_eq!(
                encode_set_mode(AgentId(id), mode),
                protocol::encode(&msg).unwrap()
            );
        }
    }
}

#[test]
fn encoded_events_decode_back_with_protocol() {
    for event in events() {
        let bytes = encode_event(Seq(7), &event);
        let VisitorMsg::Event(frame) = protocol::decode(&bytes).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(frame.seq, Seq(7));
        let back = frame.event().unwrap();
        // NaN never equals itself: compare the encodings instead.
        assert_eq!(
            protocol::encode(&back).unwrap(),
            protocol::encode(&event).unwrap()
        );
    }
}
