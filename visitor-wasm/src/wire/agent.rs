//! Decoding what an agent sends the visitor's page through the relay
//! ([`FromAgent`]: pointing, control, mode requests), by hand like the rest
//! of `decode.rs`. Tests decode what `protocol::encode` produces for every
//! variant, and cut and corrupt it.

use protocol::{Control, FromAgent, Navigation, Point, PointerKind, PointerPos, TextRange};

use super::decode::{malformed, Reader};
use crate::error::VisitorError;

/// More options than any `<select>` a person scrolls through; a longer list
/// is refused rather than allocated.
const MAX_SELECTED: usize = 100_000;

pub(super) fn from_agent(r: &mut Reader<'_>) -> Result<FromAgent, VisitorError> {
    let (name, unit) = r.variant()?;
    if unit {
        return Err(malformed("unknown agent message"));
    }
    Ok(match name {
        "Point" => FromAgent::Point(point(r)?),
        "Control" => FromAgent::Control(control(r)?),
        "ModeRequest" => FromAgent::ModeRequest(r.mode()?),
        _ => return Err(malformed("unknown agent message")),
    })
}

fn point(r: &mut Reader<'_>) -> Result<Point, VisitorError> {
    let (name, unit) = r.variant()?;
    if unit {
        return Err(malformed("unknown point"));
    }
    Ok(match name {
        "Pointer" => {
            r.exact(2)?;
            let pos = pointer_pos(r)?;
            let kind = match r.str()? {
                "Move" => PointerKind::Move,
                "Click" => PointerKind::Click,
                "Leave" => PointerKind::Leave,
                _ => return Err(malformed("unknown pointer kind")),
            };
            Point::Pointer { pos, kind }
        }
        "Highlight" => {
            r.exact(1)?;
            Point::Highlight { target: r.id()? }
        }
        "Wiggle" => {
            r.exact(1)?;
            Point::Wiggle { target: r.id()? }
        }
        "Scroll" => {
            r.exact(3)?;
            Point::Scroll {
                target: r.id()?,
                x: r.f64()?,
                y: r.f64()?,
            }
        }
        "Selection" => {
            if r.peek() == Some(0xc0) {
                r.byte()?;
                Point::Selection(None)
            } else {
                r.exact(4)?;
                Point::Selection(Some(TextRange {
                    anchor: r.id()?,
                    anchor_offset: r.u32()?,
                    focus: r.id()?,
                    focus_offset: r.u32()?,
                }))
            }
        }
        _ => return Err(malformed("unknown point")),
    })
}

fn pointer_pos(r: &mut Reader<'_>) -> Result<PointerPos, VisitorError> {
    r.exact(5)?;
    Ok(PointerPos {
        target: r.opt_id()?,
        fx: r.f32()?,
        fy: r.f32()?,
        x: r.f32()?,
        y: r.f32()?,
    })
}

fn control(r: &mut Reader<'_>) -> Result<Control, VisitorError> {
    let (name, unit) = r.variant()?;
    if unit {
        return Err(malformed("unknown control"));
    }
    Ok(match name {
        "Click" => {
            r.exact(3)?;
            Control::Click {
                target: r.id()?,
                fx: r.f32()?,
                fy: r.f32()?,
            }
        }
        "SetValue" => {
            r.exact(2)?;
            Control::SetValue {
                target: r.id()?,
                value: r.str()?.to_owned(),
            }
        }
        "SetChecked" => {
            r.exact(2)?;
            Control::SetChecked {
                target: r.id()?,
                checked: r.bool()?,
            }
        }
        "SelectOptions" => {
            r.exact(2)?;
            let target = r.id()?;
            let n = r.array()?;
            if n > MAX_SELECTED {
                return Err(malformed("too many options"));
            }
            let mut selected = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                selected.push(r.u32()?);
            }
            Control::SelectOptions { target, selected }
        }
        "Submit" => {
            r.exact(1)?;
            Control::Submit { form: r.id()? }
        }
        "Navigate" => Control::Navigate(match r.variant()? {
            ("Back", true) => Navigation::Back,
            ("Forward", true) => Navigation::Forward,
            ("To", false) => Navigation::To(r.str()?.to_owned()),
            _ => return Err(malformed("unknown navigation")),
        }),
        _ => return Err(malformed("unknown control")),
    })
}

#[cfg(test)]
// Tests fail by panicking; that is their job.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use protocol::{AgentId, Mode, NodeId, ToVisitor};

    use super::*;
    use crate::wire::decode_to_visitor;

    const IDS: [u32; 6] = [0, 127, 128, 65_535, 65_536, u32::MAX];

    fn samples() -> Vec<FromAgent> {
        let mut out = vec![
            FromAgent::ModeRequest(Mode::Shared),
            FromAgent::ModeRequest(Mode::ViewOnly),
        ];
        for (i, id) in IDS.into_iter().enumerate() {
            let f = [0.0, 1.0, 0.5, -0.25, 1e-7, f32::MAX][i];
            for kind in [PointerKind::Move, PointerKind::Click, PointerKind::Leave] {
                for target in [None, Some(NodeId(id))] {
                    out.push(FromAgent::Point(Point::Pointer {
                        pos: PointerPos {
                            target,
                            fx: f,
                            fy: 1.0 - f,
                            x: 1280.5,
                            y: -3.0,
                        },
                        kind,
                    }));
                }
            }
            let target = NodeId(id);
            out.extend([
                FromAgent::Point(Point::Highlight { target }),
                FromAgent::Point(Point::Wiggle { target }),
                FromAgent::Point(Point::Scroll {
                    target,
                    x: f64::from(f) * 3.0,
                    y: 1e12,
                }),
                FromAgent::Point(Point::Selection(Some(TextRange {
                    anchor: target,
                    anchor_offset: id,
                    focus: NodeId(id / 2),
                    focus_offset: 1,
                }))),
                FromAgent::Point(Point::Selection(None)),
                FromAgent::Control(Control::Click {
                    target,
                    fx: f,
                    fy: 0.75,
                }),
                FromAgent::Control(Control::SetValue {
                    target,
                    value: "é".repeat([0, 15, 16, 200, 40_000, 1][i]),
                }),
                FromAgent::Control(Control::SetChecked {
                    target,
                    checked: i % 2 == 0,
                }),
                FromAgent::Control(Control::SelectOptions {
                    target,
                    selected: (0..[0, 1, 15, 16, 300, 70_000][i]).collect(),
                }),
                FromAgent::Control(Control::Submit { form: target }),
            ]);
        }
        for nav in [
            Navigation::Back,
            Navigation::Forward,
            Navigation::To(String::new()),
            Navigation::To("https://shop.example/cart?x=1#top".repeat(20)),
        ] {
            out.push(FromAgent::Control(Control::Navigate(nav)));
        }
        out
    }

    #[test]
    fn every_agent_message_decodes_as_protocol_encodes_it() {
        for (i, msg) in samples().into_iter().enumerate() {
            for agent in [0, 200, 70_000, u32::MAX] {
                let msg = ToVisitor::FromAgent {
                    agent: AgentId(agent),
                    msg: msg.clone(),
                };
                let bytes = protocol::encode(&msg).unwrap();
                assert_eq!(
                    decode_to_visitor(&bytes).unwrap(),
                    msg,
                    "sample #{i}, bytes {:02x?}",
                    &bytes[..bytes.len().min(64)]
                );
            }
        }
    }

    #[test]
    fn cut_or_corrupted_agent_messages_are_errors_never_panics() {
        for msg in samples().into_iter().filter(|m| {
            // The long samples would make the cut loop slow, not stronger.
            protocol::encode(m).unwrap().len() < 400
        }) {
            let good = protocol::encode(&ToVisitor::FromAgent {
                agent: AgentId(9),
                msg,
            })
            .unwrap();
            for cut in 0..good.len() {
                assert!(decode_to_visitor(&good[..cut]).is_err(), "cut at {cut}");
            }
            // Flipping any one byte may still decode (a number is a number),
            // but must never panic.
            for at in 0..good.len() {
                for flip in [0x01, 0x80, 0xff] {
                    let mut bad = good.clone();
                    bad[at] ^= flip;
                    let _ = decode_to_visitor(&bad);
                }
            }
        }
        for bad in [
            // Unknown variants at each level.
            protocol::encode(&("FromAgent", 1)).unwrap(),
            b"\x81\xa9FromAgent\x92\x01\x81\xa4Poke\x90".to_vec(),
            b"\x81\xa9FromAgent\x92\x01\x81\xa5Point\xa4Blip".to_vec(),
            b"\x81\xa9FromAgent\x92\x01\x81\xabModeRequest\xa3God".to_vec(),
            b"\x81\xa9FromAgent\x92\x01\x81\xa7Control\x81\xa8Navigate\xa4Home".to_vec(),
            // A highlight with two fields where one belongs.
            b"\x81\xa9FromAgent\x92\x01\x81\xa5Point\x81\xa9Highlight\x92\x01\x02".to_vec(),
            // An option index beyond u32.
            b"\x81\xa9FromAgent\x92\x01\x81\xa7Control\x81\xadSelectOptions\x92\x01\x91\xcf\x01\x00\x00\x00\x00\x00\x00\x00".to_vec(),
        ] {
            assert!(decode_to_visitor(&bad).is_err(), "{bad:02x?}");
        }
    }
}
