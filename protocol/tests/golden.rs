//! Golden tests: the exact bytes of every message. A failure here means the
//! wire format changed: bump `PROTOCOL_VERSION`, note it in its history, and
//! update the pinned bytes in the same commit.

// A test that cannot encode its own fixtures should stop right there.
#![allow(clippy::expect_used, clippy::panic)]

use protocol::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Pins `value`'s encoding to `expected` and checks that it decodes back.
#[track_caller]
fn golden<T>(value: T, expected: &str)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes = encode(&value).expect("encodes");
    assert_eq!(hex(&bytes), expected, "encoding of {value:?} changed");
    let back: T = decode(&bytes).expect("decodes");
    assert_eq!(back, value);
}

fn code() -> JoinCode {
    JoinCode::parse("042917").expect("valid")
}

fn sample_tree() -> Node {
    Node::Document {
        id: NodeId(1),
        quirks: false,
        children: vec![
            Node::Doctype {
                id: NodeId(2),
                name: "html".into(),
                public_id: String::new(),
                system_id: String::new(),
            },
            Node::Element {
                id: NodeId(3),
                tag: "input".into(),
                ns: Ns::Html,
                attrs: vec![Attr::new("type", "password")],
                state: Some(FormState {
                    masked_len: Some(4),
                    ..FormState::default()
                }),
                children: vec![],
            },
            Node::Comment {
                id: NodeId(4),
                text: "c".into(),
            },
            Node::Text {
                id: NodeId(5),
                text: "hi".into(),
            },
        ],
    }
}

#[test]
fn hello_is_version_then_body() {
    let hello = Hello::Agent(AgentHello {
        token: "t".into(),
        code: code(),
        mode: Mode::Shared,
    });
    let bytes = encode_hello(&hello).expect("encodes");
    assert_eq!(
        hex(&bytes),
        "920781a54167656e7493a174a6303432393137a6536861726564"
    );
    assert_eq!(decode_hello(&bytes).expect("decodes"), hello);

    let visitor = Hello::Visitor(VisitorHello {
        page_url: "http://a/".into(),
        resources: ResourcePolicy {
            upload: true,
            server_fetch: false,
        },
        resume: Some("r".into()),
        invitation: None,
    });
    let bytes = encode_hello(&visitor).expect("encodes");
    assert_eq!(
        hex(&bytes),
        "920781a756697369746f7294a9687474703a2f2f612f92c3c2a172c0"
    );
}

#[test]
fn hello_of_another_version_is_a_version_mismatch_not_a_decoding_error() {
    // A future version may change the body entirely; only `[version, _]` is frozen.
    let future = encode(&(PROTOCOL_VERSION + 1, ("anything", 1, [true]))).expect("encodes");
    match decode_hello(&future) {
        Err(ProtocolError::VersionMismatch { ours, theirs }) => {
            assert_eq!(ours, PROTOCOL_VERSION);
            assert_eq!(theirs, PROTOCOL_VERSION + 1);
        }
        other => panic!("expected a version mismatch, got {other:?}"),
    }
}

#[test]
fn garbage_is_malformed_never_a_panic() {
    for bytes in [
        &b""[..],
        b"\xc1",
        b"\x92\x01",
        b"\xff\xff\xff",
        b"\x92\x07\x81\xa5Agent\x90",
    ] {
        assert!(matches!(
            decode_hello(bytes),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(decode::<VisitorMsg>(bytes).is_err());
        assert!(decode::<Event>(bytes).is_err());
    }
}

#[test]
fn visitor_messages() {
    golden(
        VisitorMsg::Consent {
            agent: AgentId(3),
            accepted: true,
        },
        "81a7436f6e73656e749203c3",
    );
    golden(VisitorMsg::End, "a3456e64");
    golden(
        VisitorMsg::Event(EventFrame {
            seq: Seq(7),
            snapshot: false,
            payload: vec![1, 2],
        }),
        "81a54576656e749307c2c4020102",
    );
}

#[test]
fn relay_to_visitor_messages() {
    golden(
        ToVisitor::Welcome {
            session: SessionId("s1".into()),
            code: code(),
            upload_token: "k".into(),
            resume_token: "r".into(),
            resume_secs: 30,
            masking: MaskRules::default(),
        },
        "81a757656c636f6d6596a27331a6303432393137a16ba1721e929090",
    );
    golden(
        ToVisitor::AgentJoined {
            agent: AgentId(1),
            name: "Ann".into(),
            mode: Mode::ViewOnly,
        },
        "81ab4167656e744a6f696e65649301a3416e6ea8566965774f6e6c79",
    );
    golden(
        ToVisitor::AgentLeft { agent: AgentId(1) },
        "81a94167656e744c6566749101",
    );
    golden(ToVisitor::SnapshotNeeded, "ae536e617073686f744e6565646564");
    golden(
        ToVisitor::Ended {
            reason: EndReason::VisitorEnded,
        },
        "81a5456e64656491ac56697369746f72456e646564",
    );
    golden(
        ToVisitor::Error(ErrorFrame {
            code: ErrorCode::RateLimited,
            message: "slow".into(),
        }),
        "81a54572726f7292ab526174654c696d69746564a4736c6f77",
    );
    golden(
        ToVisitor::Want {
            hashes: vec![ResourceHash([0xab; 32])],
            more: vec!["http://a/b.png".into()],
        },
        "81a457616e749291c420abababababababababababababababababababababababababababababababab91ae687474703a2f2f612f622e706e67",
    );
}

#[test]
fn resuming_a_session() {
    golden(
        ToVisitor::Resumed {
            agents: vec![WatchingAgent {
                agent: AgentId(1),
                name: "Ann".into(),
                mode: Mode::Shared,
            }],
            masking: MaskRules {
                mask: vec![".c".into()],
                block: vec![],
            },
            last_seq: Some(Seq(300)),
        },
        "81a7526573756d656493919301a3416e6ea65368617265649291a22e6390cd012c",
    );
    golden(
        ToVisitor::Resumed {
            agents: vec![],
            masking: MaskRules::default(),
            last_seq: None,
        },
        "81a7526573756d65649390929090c0",
    );
    golden(
        ToAgent::VisitorAway { grace_secs: 30 },
        "81ab56697369746f7241776179911e",
    );
}

#[test]
fn scaling_out_rejoin_and_reconnect() {
    golden(
        Hello::AgentRejoin(AgentRejoin {
            token: "t".into(),
            rejoin: "r".into(),
            last_seq: Some(Seq(7)),
        }),
        "81ab4167656e7452656a6f696e93a174a17207",
    );
    golden(
        ToAgent::RejoinToken("r".into()),
        "81ab52656a6f696e546f6b656ea172",
    );
    golden(
        ToAgent::Reconnect { within_ms: 5000 },
        "81a95265636f6e6e65637491cd1388",
    );
    golden(
        ToVisitor::Reconnect { within_ms: 5000 },
        "81a95265636f6e6e65637491cd1388",
    );
    golden(
        ToAgent::Ended {
            reason: EndReason::InvitationCancelled,
        },
        "81a5456e64656491b3496e7669746174696f6e43616e63656c6c6564",
    );
}

#[test]
fn the_top_layer() {
    golden(
        Event::TopLayer(vec![
            TopLayerEntry {
                node: NodeId(9),
                kind: TopLayerKind::ModalDialog,
            },
            TopLayerEntry {
                node: NodeId(300),
                kind: TopLayerKind::Popover,
            },
        ]),
        "81a8546f704c61796572929209ab4d6f64616c4469616c6f6792cd012ca7506f706f766572",
    );
    golden(Event::TopLayer(vec![]), "81a8546f704c6179657290");
}

#[test]
fn every_end_reason_has_its_own_sentence() {
    let sentences: std::collections::BTreeSet<&str> =
        EndReason::ALL.iter().map(|r| r.describe()).collect();
    assert_eq!(sentences.len(), EndReason::ALL.len());
    assert!(sentences.iter().all(|s| s.ends_with('.') && s.len() > 10));
}

#[test]
fn resource_offers() {
    golden(
        VisitorMsg::Offer(vec![
            Offered {
                url: "http://a/s.css".into(),
                body: Some(OfferedBody {
                    hash: ResourceHash([1; 32]),
                    size: 300,
                    content_type: "text/css".into(),
                }),
            },
            Offered {
                url: "http://b/f.woff2".into(),
                body: None,
            },
        ]),
        "81a54f666665729292ae687474703a2f2f612f732e63737393c4200101010101010101010101010101010101010101010101010101010101010101cd012ca8746578742f63737392b0687474703a2f2f622f662e776f666632c0",
    );
}

#[test]
fn resource_hashes_read_and_write_as_hex() {
    let h = ResourceHash([0x0f; 32]);
    assert_eq!(h.to_hex(), "0f".repeat(32));
    assert_eq!(ResourceHash::from_hex(&"0F".repeat(32)), Some(h));
    assert_eq!(ResourceHash::from_hex(&"0f".repeat(31)), None);
    assert_eq!(
        ResourceHash::from_hex(&format!("{}zz", "0f".repeat(31))),
        None
    );
    assert_eq!(ResourceHash::from_hex(&"é".repeat(32)), None);
}

#[test]
fn agent_messages() {
    golden(AgentMsg::Resync, "a6526573796e63");
    golden(AgentMsg::Leave, "a54c65617665");
    golden(
        ToAgent::Joined {
            session: SessionId("s".into()),
            agent: AgentId(2),
            page_url: "u".into(),
        },
        "81a64a6f696e656493a17302a175",
    );
    golden(
        ToAgent::Admitted {
            resources: "/res/s/k/".into(),
        },
        "81a841646d697474656491a92f7265732f732f6b2f",
    );
    golden(
        ToAgent::Ended {
            reason: EndReason::VisitorDeclined,
        },
        "81a5456e64656491af56697369746f724465636c696e6564",
    );
}

#[test]
fn snapshot_event() {
    golden(
        Event::Snapshot(Snapshot {
            url: "u".into(),
            base_url: "b".into(),
            viewport: Viewport {
                width: 800,
                height: 600,
                device_pixel_ratio: 1.0,
            },
            root: sample_tree(),
            scrolls: vec![ScrollPos {
                target: NodeId(1),
                x: 0.0,
                y: 10.5,
            }],
        }),
        // The tree: [4 document, 1, quirks false, [[5 doctype …], [1 element
        // with form state, 3, "input", ns 0, ["type", "password"], state,
        // []], [3 comment …], [2 text …]]].
        "81a8536e617073686f7495a175a16293cd0320cd0258ca3f800000940401c294950502a468746d6ca0a0970103a5696e7075\
         740092a474797065a870617373776f726494c0c0c00490930304a163930205a26869919301cb0000000000000000cb402500\
         0000000000",
    );
}

#[test]
fn small_events() {
    golden(
        Event::Mutations(MutationBatch {
            removes: vec![NodeId(9)],
            adds: vec![AddedNode {
                parent: NodeId(3),
                next_sibling: None,
                node: Node::Text {
                    id: NodeId(10),
                    text: "x".into(),
                },
            }],
            attrs: vec![AttrChange {
                id: NodeId(3),
                name: "class".into(),
                value: None,
            }],
            texts: vec![TextChange {
                id: NodeId(5),
                text: "y".into(),
            }],
        }),
        "81a94d75746174696f6e73949109919303c093020aa178919303a5636c617373c0919205a179",
    );
    golden(
        Event::Input {
            id: NodeId(3),
            state: FormState {
                value: Some("ab".into()),
                checked: None,
                selected: None,
                masked_len: None,
            },
        },
        "81a5496e707574920394a26162c0c0c0",
    );
    golden(
        Event::Scroll(ScrollPos {
            target: NodeId(1),
            x: 1.0,
            y: 2.0,
        }),
        "81a65363726f6c6c9301cb3ff0000000000000cb4000000000000000",
    );
    golden(
        Event::Viewport(Viewport {
            width: 1,
            height: 2,
            device_pixel_ratio: 2.0,
        }),
        "81a856696577706f7274930102ca40000000",
    );
}

#[test]
fn event_frame_carries_its_event_opaquely() {
    let event = Event::Scroll(ScrollPos {
        target: NodeId(1),
        x: 0.0,
        y: 5.0,
    });
    let frame = EventFrame::new(Seq(42), &event).expect("encodes");
    assert!(!frame.snapshot);
    assert_eq!(frame.event().expect("decodes"), event);
    let snap = EventFrame::new(
        Seq(1),
        &Event::Snapshot(Snapshot {
            url: String::new(),
            base_url: String::new(),
            viewport: Viewport {
                width: 1,
                height: 1,
                device_pixel_ratio: 1.0,
            },
            root: sample_tree(),
            scrolls: vec![],
        }),
    )
    .expect("encodes");
    assert!(snap.snapshot);
}

#[test]
fn join_codes_are_six_digits() {
    assert_eq!(
        JoinCode::parse("123 456").expect("valid").as_str(),
        "123456"
    );
    assert_eq!(
        JoinCode::parse("123-456").expect("valid").as_str(),
        "123456"
    );
    assert_eq!(JoinCode::from_number(42).expect("valid").as_str(), "000042");
    for bad in [
        "",
        "12345",
        "1234567",
        "12345a",
        "１２３４５６",
        "000000\u{0}",
    ] {
        assert!(JoinCode::parse(bad).is_err(), "{bad:?} accepted");
    }
    assert!(JoinCode::from_number(1_000_000).is_err());
    // Codes are validated when decoded, too.
    assert!(decode::<JoinCode>(&encode("12ab56").expect("encodes")).is_err());
}

#[test]
fn node_counts_and_ids() {
    let tree = sample_tree();
    assert_eq!(tree.count(), 5);
    assert_eq!(tree.id(), NodeId(1));
    assert_eq!(Ns::from_uri(Some(Ns::SVG_URI)), Ns::Svg);
    assert_eq!(Ns::from_uri(None), Ns::Html);
    assert_eq!(Ns::Svg.uri(), Ns::SVG_URI);
}

fn pos() -> PointerPos {
    PointerPos {
        target: Some(NodeId(9)),
        fx: 0.5,
        fy: 0.25,
        x: 10.0,
        y: 20.5,
    }
}

#[test]
fn pointing_events() {
    golden(
        Event::Pointer {
            pos: pos(),
            kind: PointerKind::Click,
        },
        "81a7506f696e746572929509ca3f000000ca3e800000ca41200000ca41a40000a5436c69636b",
    );
    golden(Event::Focus { target: None }, "81a5466f63757391c0");
}

#[test]
fn two_way_messages() {
    golden(
        VisitorMsg::SetMode {
            agent: AgentId(2),
            mode: Mode::Shared,
        },
        "81a75365744d6f64659202a6536861726564",
    );
    golden(
        ToAgent::Mode(Mode::ViewOnly),
        "81a44d6f6465a8566965774f6e6c79",
    );
    golden(
        AgentMsg::RequestMode(Mode::Shared),
        "81ab526571756573744d6f6465a6536861726564",
    );
    golden(
        AgentMsg::Point(Point::Pointer {
            pos: pos(),
            kind: PointerKind::Move,
        }),
        "81a5506f696e7481a7506f696e746572929509ca3f000000ca3e800000ca41200000ca41a40000a44d6f7665",
    );
    golden(
        AgentMsg::Point(Point::Highlight { target: NodeId(4) }),
        "81a5506f696e7481a9486967686c696768749104",
    );
    golden(
        AgentMsg::Point(Point::Wiggle { target: NodeId(4) }),
        "81a5506f696e7481a6576967676c659104",
    );
    golden(
        AgentMsg::Point(Point::Scroll {
            target: NodeId(1),
            x: 0.0,
            y: 120.0,
        }),
        "81a5506f696e7481a65363726f6c6c9301cb0000000000000000cb405e000000000000",
    );
    golden(
        AgentMsg::Control(Control::Click {
            target: NodeId(7),
            fx: 0.5,
            fy: 0.5,
        }),
        "81a7436f6e74726f6c81a5436c69636b9307ca3f000000ca3f000000",
    );
    golden(
        AgentMsg::Control(Control::SetValue {
            target: NodeId(7),
            value: "Jane".into(),
        }),
        "81a7436f6e74726f6c81a853657456616c75659207a44a616e65",
    );
    golden(
        AgentMsg::Control(Control::SetChecked {
            target: NodeId(7),
            checked: true,
        }),
        "81a7436f6e74726f6c81aa536574436865636b65649207c3",
    );
    golden(
        AgentMsg::Control(Control::SelectOptions {
            target: NodeId(7),
            selected: vec![0, 2],
        }),
        "81a7436f6e74726f6c81ad53656c6563744f7074696f6e739207920002",
    );
    golden(
        AgentMsg::Control(Control::Submit { form: NodeId(3) }),
        "81a7436f6e74726f6c81a65375626d69749103",
    );
    golden(
        AgentMsg::Control(Control::Navigate(Navigation::To("http://a/b".into()))),
        "81a7436f6e74726f6c81a84e6176696761746581a2546faa687474703a2f2f612f62",
    );
    golden(
        AgentMsg::Control(Control::Navigate(Navigation::Back)),
        "81a7436f6e74726f6c81a84e61766967617465a44261636b",
    );
    golden(
        ToVisitor::FromAgent {
            agent: AgentId(2),
            msg: FromAgent::Control(Control::Navigate(Navigation::Forward)),
        },
        "81a946726f6d4167656e74920281a7436f6e74726f6c81a84e61766967617465a7466f7277617264",
    );
    golden(
        ToVisitor::FromAgent {
            agent: AgentId(2),
            msg: FromAgent::ModeRequest(Mode::Shared),
        },
        "81a946726f6d4167656e74920281ab4d6f646552657175657374a6536861726564",
    );
    golden(
        ToVisitor::FromAgent {
            agent: AgentId(2),
            msg: FromAgent::Point(Point::Wiggle { target: NodeId(4) }),
        },
        "81a946726f6d4167656e74920281a5506f696e7481a6576967676c659104",
    );
}

#[test]
fn version_5_events() {
    golden(
        Node::ShadowRoot {
            id: NodeId(7),
            children: vec![Node::Text {
                id: NodeId(8),
                text: "x".into(),
            }],
        },
        "93060791930208a178",
    );
    golden(
        Event::Sheet(SheetChange::Insert {
            sheet: SheetRef::Owner(NodeId(3)),
            path: vec![0, 2],
            rule: "a{}".into(),
        }),
        "81a5536865657481a6496e736572749381a54f776e657203920002a3617b7d",
    );
    golden(
        Event::Sheet(SheetChange::Adopted {
            root: NodeId(1),
            sheets: vec![0],
        }),
        "81a5536865657481a741646f7074656492019100",
    );
    golden(
        Event::Sheet(SheetChange::Rules {
            sheet: SheetRef::Constructed(1),
            rules: vec!["b{}".into()],
        }),
        "81a5536865657481a552756c65739281ab436f6e73747275637465640191a3627b7d",
    );
    golden(
        Event::Font(FontFaceDesc {
            family: "F".into(),
            source: "url(x)".into(),
            descriptors: vec![Attr::new("weight", "700")],
        }),
        "81a4466f6e7493a146a675726c2878299192a6776569676874a3373030",
    );
    golden(
        Event::Canvas(CanvasFrame {
            id: NodeId(5),
            width: 300,
            height: 150,
            tiles: vec![CanvasTile {
                x: 0,
                y: 64,
                width: 64,
                height: 64,
                format: ImageFormat::Webp,
                data: vec![1, 2],
            }],
        }),
        "81a643616e7661739405cd012ccc96919600404040a457656270c4020102",
    );
    golden(
        Event::CanvasUnreadable { id: NodeId(5) },
        "81b043616e766173556e7265616461626c659105",
    );
    golden(
        Event::Media(MediaState {
            id: NodeId(6),
            paused: false,
            time: 1.5,
            rate: 1.0,
            volume: 0.5,
            muted: true,
            looped: false,
        }),
        "81a54d656469619706c2cb3ff8000000000000cb3ff0000000000000ca3f000000c3c2",
    );
    golden(
        Event::Selection(Some(TextRange {
            anchor: NodeId(8),
            anchor_offset: 1,
            focus: NodeId(9),
            focus_offset: 0,
        })),
        "81a953656c656374696f6e9408010900",
    );
    golden(Event::Selection(None), "81a953656c656374696f6ec0");
    golden(
        AgentMsg::Point(Point::Selection(None)),
        "81a5506f696e7481a953656c656374696f6ec0",
    );
    golden(
        ToAgent::Invited { expires_secs: 1200 },
        "81a7496e766974656491cd04b0",
    );
    golden(
        ToAgent::Ended {
            reason: EndReason::InvitationExpired,
        },
        "81a5456e64656491b1496e7669746174696f6e45787069726564",
    );
    golden(
        VisitorMsg::Event(EventFrame::new(Seq(1), &Event::Selection(None)).expect("encodes")),
        "81a54576656e749301c2c40c81a953656c656374696f6ec0",
    );
    let hello = Hello::Visitor(VisitorHello {
        page_url: "http://a/".into(),
        resources: ResourcePolicy::default(),
        resume: None,
        invitation: Some("i".into()),
    });
    assert_eq!(
        hex(&encode_hello(&hello).expect("encodes")),
        "920781a756697369746f7294a9687474703a2f2f612f92c3c3c0a169"
    );
}

/// Version 7's compact nodes: every kind and namespace round-trips, the
/// common HTML element has its own short shape, and a malformed node is an
/// error, never a guess.
#[test]
fn compact_nodes() {
    // [0 HTML element, 3, "a", ["href", "/x"], [[2 text, 4, "go"]]]
    golden(
        Node::Element {
            id: NodeId(3),
            tag: "a".into(),
            ns: Ns::Html,
            attrs: vec![Attr::new("href", "/x")],
            state: None,
            children: vec![Node::Text {
                id: NodeId(4),
                text: "go".into(),
            }],
        },
        "950003a16192a468726566a22f7891930204a2676f",
    );
    for (ns, ns_hex) in [
        (Ns::Svg, "01"),
        (Ns::MathMl, "02"),
        (Ns::Other("urn:x".into()), "a575726e3a78"),
    ] {
        golden(
            Node::Element {
                id: NodeId(5),
                tag: "g".into(),
                ns,
                attrs: vec![],
                state: None,
                children: vec![],
            },
            &format!("970105a167{ns_hex}90c090"),
        );
    }
    // An HTML element with form state takes the long shape.
    golden(
        Node::Element {
            id: NodeId(6),
            tag: "input".into(),
            ns: Ns::Html,
            attrs: vec![],
            state: Some(FormState {
                checked: Some(true),
                ..FormState::default()
            }),
            children: vec![],
        },
        "970106a5696e707574009094c0c3c0c090",
    );

    let malformed: [(&str, &[u8]); 6] = [
        ("unknown kind", b"\x93\x07\x01\xa1x"),
        ("too short", b"\x92\x02\x01"),
        ("extra field", b"\x94\x02\x01\xa1x\xa1y"),
        ("odd attributes", b"\x95\x00\x01\xa1a\x91\xa4href\x90"),
        ("bad namespace", b"\x97\x01\x01\xa1g\x09\x90\xc0\x90"),
        ("not an array", b"\xa4Text"),
    ];
    for (what, bytes) in malformed {
        assert!(
            matches!(decode::<Node>(bytes), Err(ProtocolError::Malformed(_))),
            "{what} decoded"
        );
    }
}
