//! Decoding the relay's messages to the visitor ([`ToVisitor`]) by hand;
//! see the module docs for why. Tests decode what `protocol::encode`
//! produces for every variant.

use protocol::{
    AgentId, EndReason, ErrorCode, ErrorFrame, JoinCode, MaskRules, Mode, NodeId, ResourceHash,
    Seq, SessionId, ToVisitor, WatchingAgent,
};

use crate::error::VisitorError;

pub(super) fn malformed(what: &str) -> VisitorError {
    let mut s = String::from("unexpected relay message: ");
    s.push_str(what);
    VisitorError::Protocol(protocol::ProtocolError::Malformed(s))
}

pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn byte(&mut self) -> Result<u8, VisitorError> {
        let (&b, rest) = self
            .bytes
            .split_first()
            .ok_or_else(|| malformed("truncated"))?;
        self.bytes = rest;
        Ok(b)
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], VisitorError> {
        if self.bytes.len() < n {
            return Err(malformed("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub(super) fn be(&mut self, n: usize) -> Result<u64, VisitorError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.first().copied()
    }

    pub(super) fn uint(&mut self) -> Result<u64, VisitorError> {
        match self.byte()? {
            b @ 0x00..=0x7f => Ok(u64::from(b)),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            _ => Err(malformed("expected an unsigned integer")),
        }
    }

    pub(super) fn str(&mut self) -> Result<&'a str, VisitorError> {
        let len = match self.byte()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return Err(malformed("expected a string")),
        };
        std::str::from_utf8(self.take(len)?).map_err(|_| malformed("invalid UTF-8"))
    }

    pub(super) fn array(&mut self) -> Result<usize, VisitorError> {
        match self.byte()? {
            b @ 0x90..=0x9f => Ok(usize::from(b & 0x0f)),
            0xdc => Ok(self.be(2)? as usize),
            0xdd => Ok(self.be(4)? as usize),
            _ => Err(malformed("expected an array")),
        }
    }

    /// A struct (encoded as an array) with at least `n` fields.
    pub(super) fn fields(&mut self, n: usize) -> Result<(), VisitorError> {
        if self.array()? < n {
            return Err(malformed("too few fields"));
        }
        Ok(())
    }

    /// A nested struct (an array) of exactly `n` fields: a nested value
    /// left half-read would misalign everything after it.
    pub(super) fn exact(&mut self, n: usize) -> Result<(), VisitorError> {
        if self.array()? != n {
            return Err(malformed("wrong number of fields"));
        }
        Ok(())
    }

    pub(super) fn bin(&mut self) -> Result<&'a [u8], VisitorError> {
        let len = match self.byte()? {
            0xc4 => self.be(1)? as usize,
            0xc5 => self.be(2)? as usize,
            0xc6 => self.be(4)? as usize,
            _ => return Err(malformed("expected bytes")),
        };
        self.take(len)
    }

    pub(super) fn map1(&mut self) -> Result<(), VisitorError> {
        match self.byte()? {
            0x81 => Ok(()),
            _ => Err(malformed("expected an enum variant")),
        }
    }

    /// Whether the next value is a string (a unit variant's name).
    pub(super) fn at_str(&self) -> bool {
        self.peek()
            .is_some_and(|b| (0xa0..=0xbf).contains(&b) || (0xd9..=0xdb).contains(&b))
    }

    /// A variant's name: unit variants are bare strings (`unit` true), the
    /// others one-entry maps `{name: data}`.
    pub(super) fn variant(&mut self) -> Result<(&'a str, bool), VisitorError> {
        if self.at_str() {
            return Ok((self.str()?, true));
        }
        self.map1()?;
        Ok((self.str()?, false))
    }

    pub(super) fn bool(&mut self) -> Result<bool, VisitorError> {
        match self.byte()? {
            0xc2 => Ok(false),
            0xc3 => Ok(true),
            _ => Err(malformed("expected a boolean")),
        }
    }

    /// A float as `protocol` writes it (f32 or f64), or an integer a
    /// writer chose for a whole number.
    pub(super) fn f64(&mut self) -> Result<f64, VisitorError> {
        match self.peek() {
            Some(0xca) => {
                self.byte()?;
                Ok(f64::from(f32::from_bits(self.be(4)? as u32)))
            }
            Some(0xcb) => {
                self.byte()?;
                Ok(f64::from_bits(self.be(8)?))
            }
            Some(b @ 0xe0..=0xff) => {
                self.byte()?;
                Ok(f64::from(b as i8))
            }
            Some(0xd0) => {
                self.byte()?;
                Ok(f64::from(self.be(1)? as u8 as i8))
            }
            Some(0xd1) => {
                self.byte()?;
                Ok(f64::from(self.be(2)? as u16 as i16))
            }
            Some(0xd2) => {
                self.byte()?;
                Ok(f64::from(self.be(4)? as u32 as i32))
            }
            _ => Ok(self.uint()? as f64),
        }
    }

    pub(super) fn f32(&mut self) -> Result<f32, VisitorError> {
        Ok(self.f64()? as f32)
    }

    pub(super) fn u32(&mut self) -> Result<u32, VisitorError> {
        u32::try_from(self.uint()?).map_err(|_| malformed("number out of range"))
    }

    pub(super) fn id(&mut self) -> Result<NodeId, VisitorError> {
        self.u32().map(NodeId)
    }

    /// `None` is nil.
    pub(super) fn opt_seq(&mut self) -> Result<Option<Seq>, VisitorError> {
        if self.peek() == Some(0xc0) {
            self.byte()?;
            return Ok(None);
        }
        self.uint().map(|n| Some(Seq(n)))
    }

    /// `None` is nil.
    pub(super) fn opt_id(&mut self) -> Result<Option<NodeId>, VisitorError> {
        if self.peek() == Some(0xc0) {
            self.byte()?;
            return Ok(None);
        }
        self.id().map(Some)
    }

    pub(super) fn mode(&mut self) -> Result<Mode, VisitorError> {
        match self.str()? {
            "ViewOnly" => Ok(Mode::ViewOnly),
            "Shared" => Ok(Mode::Shared),
            _ => Err(malformed("unknown mode")),
        }
    }
}

/// Decodes one relay → visitor frame.
pub fn decode_to_visitor(bytes: &[u8]) -> Result<ToVisitor, VisitorError> {
    let mut r = Reader { bytes };
    // Unit variants are bare strings; the others are `{name: fields}`.
    if r.at_str() {
        return match r.str()? {
            "SnapshotNeeded" => Ok(ToVisitor::SnapshotNeeded),
            _ => Err(malformed("unknown message")),
        };
    }
    r.map1()?;
    let msg = match r.str()? {
        "Welcome" => {
            r.fields(6)?;
            let session = SessionId(r.str()?.to_owned());
            let code = JoinCode::parse(r.str()?)?;
            let upload_token = r.str()?.to_owned();
            let resume_token = r.str()?.to_owned();
            let resume_secs =
                u32::try_from(r.uint()?).map_err(|_| malformed("resume window out of range"))?;
            let masking = mask_rules(&mut r)?;
            ToVisitor::Welcome {
                session,
                code,
                upload_token,
                resume_token,
                resume_secs,
                masking,
            }
        }
        "Want" => {
            r.fields(2)?;
            let n = r.array()?;
            let mut hashes = Vec::with_capacity(n.min(4096));
            for _ in 0..n {
                let bytes: [u8; 32] = r
                    .bin()?
                    .try_into()
                    .map_err(|_| malformed("a hash is 32 bytes"))?;
                hashes.push(ResourceHash(bytes));
            }
            let n = r.array()?;
            let mut more = Vec::with_capacity(n.min(4096));
            for _ in 0..n {
                more.push(r.str()?.to_owned());
            }
            ToVisitor::Want { hashes, more }
        }
        "Resumed" => {
            r.fields(3)?;
            let n = r.array()?;
            // A handful of agents at most; the cap only guards the
            // allocation against a lying length.
            let mut agents = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                r.exact(3)?;
                let agent = agent_id(r.uint()?)?;
                let name = r.str()?.to_owned();
                let mode = r.mode()?;
                agents.push(WatchingAgent { agent, name, mode });
            }
            let masking = mask_rules(&mut r)?;
            let last_seq = r.opt_seq()?;
            ToVisitor::Resumed {
                agents,
                masking,
                last_seq,
            }
        }
        "Reconnect" => {
            r.fields(1)?;
            let within_ms =
                u32::try_from(r.uint()?).map_err(|_| malformed("reconnect window out of range"))?;
            ToVisitor::Reconnect { within_ms }
        }
        "AgentJoined" => {
            r.fields(3)?;
            let agent = agent_id(r.uint()?)?;
            let name = r.str()?.to_owned();
            let mode = r.mode()?;
            ToVisitor::AgentJoined { agent, name, mode }
        }
        "AgentLeft" => {
            r.fields(1)?;
            ToVisitor::AgentLeft {
                agent: agent_id(r.uint()?)?,
            }
        }
        "Ended" => {
            r.fields(1)?;
            // The visitor ends the same way whatever the reason; an unknown
            // one from a newer relay still ends the session.
            let reason = match r.str()? {
                "VisitorEnded" => EndReason::VisitorEnded,
                "VisitorDeclined" => EndReason::VisitorDeclined,
                "VisitorDisconnected" => EndReason::VisitorDisconnected,
                "AgentLeft" => EndReason::AgentLeft,
                "RelayShutdown" => EndReason::RelayShutdown,
                "Idle" => EndReason::Idle,
                "InvitationExpired" => EndReason::InvitationExpired,
                "InvitationCancelled" => EndReason::InvitationCancelled,
                _ => EndReason::Error,
            };
            ToVisitor::Ended { reason }
        }
        "Error" => {
            r.fields(2)?;
            // Only the message matters to the visitor; the code is kept
            // loosely for logging.
            let code = match r.str()? {
                "VersionMismatch" => ErrorCode::VersionMismatch,
                "BadFrame" => ErrorCode::BadFrame,
                "FrameTooLarge" => ErrorCode::FrameTooLarge,
                "UnknownCode" => ErrorCode::UnknownCode,
                "Unauthorized" => ErrorCode::Unauthorized,
                "NotAllowed" => ErrorCode::NotAllowed,
                "RateLimited" => ErrorCode::RateLimited,
                _ => ErrorCode::Internal,
            };
            let message = r.str()?.to_owned();
            ToVisitor::Error(ErrorFrame { code, message })
        }
        "FromAgent" => {
            r.fields(2)?;
            let agent = agent_id(r.uint()?)?;
            let msg = super::agent::from_agent(&mut r)?;
            ToVisitor::FromAgent { agent, msg }
        }
        _ => return Err(malformed("unknown message")),
    };
    Ok(msg)
}

/// The relay's masking rules: two lists of selectors. The caps only guard
/// the allocation against a lying length.
fn mask_rules(r: &mut Reader<'_>) -> Result<MaskRules, VisitorError> {
    r.exact(2)?;
    let mut lists = [Vec::new(), Vec::new()];
    for list in &mut lists {
        let n = r.array()?;
        list.reserve(n.min(1024));
        for _ in 0..n {
            list.push(r.str()?.to_owned());
        }
    }
    let [mask, block] = lists;
    Ok(MaskRules { mask, block })
}

fn agent_id(n: u64) -> Result<AgentId, VisitorError> {
    u32::try_from(n)
        .map(AgentId)
        .map_err(|_| malformed("agent id out of range"))
}

#[cfg(test)]
// Tests fail by panicking; that is their job.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn round_trip(msg: ToVisitor) {
        let bytes = protocol::encode(&msg).unwrap();
        assert_eq!(
            decode_to_visitor(&bytes).unwrap(),
            msg,
            "bytes {bytes:02x?}"
        );
    }

    #[test]
    fn every_relay_message_decodes_as_protocol_encodes_it() {
        round_trip(ToVisitor::Welcome {
            session: SessionId("a-long-session-id-of-more-than-31-bytes-0123456789".into()),
            code: JoinCode::parse("042917").unwrap(),
            upload_token: "t0k3n".into(),
            resume_token: "r3sum3".into(),
            resume_secs: 30,
            masking: MaskRules::default(),
        });
        round_trip(ToVisitor::Welcome {
            session: SessionId("s".into()),
            code: JoinCode::parse("000001").unwrap(),
            upload_token: String::new(),
            resume_token: String::new(),
            resume_secs: 70_000,
            masking: MaskRules {
                mask: (0..40)
                    .map(|i| format!("#card-{i} input[name=cvc]"))
                    .collect(),
                block: vec!["iframe.payment".into(), "x".repeat(300)],
            },
        });
        round_trip(ToVisitor::Want {
            hashes: vec![],
            more: vec![],
        });
        round_trip(ToVisitor::Want {
            hashes: (0..20).map(|i| ResourceHash([i; 32])).collect(),
            more: (0..20)
                .map(|i| format!("https://cdn.example/{i}.png"))
                .collect(),
        });
        for (agent, mode) in [
            (0, Mode::ViewOnly),
            (200, Mode::Shared),
            (70_000, Mode::ViewOnly),
            (u32::MAX, Mode::Shared),
        ] {
            round_trip(ToVisitor::AgentJoined {
                agent: AgentId(agent),
                name: "Ann Örtegård".repeat(30),
                mode,
            });
            round_trip(ToVisitor::AgentLeft {
                agent: AgentId(agent),
            });
        }
        round_trip(ToVisitor::SnapshotNeeded);
        round_trip(ToVisitor::Resumed {
            agents: vec![],
            masking: MaskRules::default(),
            last_seq: None,
        });
        for within_ms in [0, 127, 128, 30_000, u32::MAX] {
            round_trip(ToVisitor::Reconnect { within_ms });
        }
        round_trip(ToVisitor::Resumed {
            agents: (0..20)
                .map(|i| WatchingAgent {
                    agent: AgentId(i * 40_000),
                    name: format!("Agent {i} Örtegård"),
                    mode: if i % 2 == 0 {
                        Mode::Shared
                    } else {
                        Mode::ViewOnly
                    },
                })
                .collect(),
            masking: MaskRules {
                mask: vec!["[name=ssn]".into()],
                block: vec![],
            },
            last_seq: Some(Seq(u64::from(u32::MAX) + 7)),
        });
        for reason in EndReason::ALL {
            round_trip(ToVisitor::Ended { reason });
        }
        for code in [
            ErrorCode::VersionMismatch,
            ErrorCode::BadFrame,
            ErrorCode::FrameTooLarge,
            ErrorCode::UnknownCode,
            ErrorCode::Unauthorized,
            ErrorCode::NotAllowed,
            ErrorCode::RateLimited,
            ErrorCode::Internal,
        ] {
            round_trip(ToVisitor::Error(ErrorFrame {
                code,
                message: "x".repeat(70_000),
            }));
        }
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let good = protocol::encode(&ToVisitor::AgentJoined {
            agent: AgentId(1),
            name: "Ann".into(),
            mode: Mode::ViewOnly,
        })
        .unwrap();
        for cut in 0..good.len() {
            assert!(decode_to_visitor(&good[..cut]).is_err(), "cut at {cut}");
        }
        for bad in [
            &[][..],
            &[0xc1],
            &[0x81, 0xa3, b'F', b'o', b'o', 0x90],
            &[0xa3, b'F', b'o', b'o'],
        ] {
            assert!(decode_to_visitor(bad).is_err());
        }
        let short_hash = protocol::encode(&ToVisitor::Want {
            hashes: vec![ResourceHash([1; 32])],
            more: vec![],
        })
        .unwrap();
        let mut short_hash = short_hash.clone();
        // bin8 of 32 → claim 31 bytes: the hash no longer fits its type.
        let at = short_hash.iter().position(|b| *b == 0xc4).unwrap();
        short_hash[at + 1] = 31;
        short_hash.remove(at + 2);
        assert!(decode_to_visitor(&short_hash).is_err());
        let resumed = protocol::encode(&ToVisitor::Resumed {
            agents: vec![
                WatchingAgent {
                    agent: AgentId(1),
                    name: "Ann".into(),
                    mode: Mode::Shared,
                },
                WatchingAgent {
                    agent: AgentId(300),
                    name: "Bo".into(),
                    mode: Mode::ViewOnly,
                },
            ],
            masking: MaskRules {
                mask: vec![".card".into()],
                block: vec!["#sig".into()],
            },
            last_seq: Some(Seq(41)),
        })
        .unwrap();
        for cut in 0..resumed.len() {
            assert!(decode_to_visitor(&resumed[..cut]).is_err(), "cut at {cut}");
        }
        // An agent of two fields, or an unknown mode, is refused.
        let two_fields = protocol::encode(&std::collections::BTreeMap::from([(
            "Resumed",
            (
                vec![(1u32, "Ann")],
                (Vec::<String>::new(), Vec::<String>::new()),
                Some(9u64),
            ),
        )]))
        .unwrap();
        assert!(decode_to_visitor(&two_fields).is_err());
        let bad_mode = protocol::encode(&std::collections::BTreeMap::from([(
            "Resumed",
            (
                vec![(1u32, "Ann", "Owner")],
                (Vec::<String>::new(), Vec::<String>::new()),
                Some(9u64),
            ),
        )]))
        .unwrap();
        assert!(decode_to_visitor(&bad_mode).is_err());
        let good_shape = protocol::encode(&std::collections::BTreeMap::from([(
            "Resumed",
            (
                vec![(1u32, "Ann", "Shared")],
                (Vec::<String>::new(), Vec::<String>::new()),
                Some(9u64),
            ),
        )]))
        .unwrap();
        assert!(
            decode_to_visitor(&good_shape).is_ok(),
            "the shapes above differ only where meant"
        );
        let bad_code = protocol::encode(&("Welcome", 1)).unwrap();
        assert!(decode_to_visitor(&bad_code).is_err());
    }
}
