//! Every message type the relay and the console decode from a peer: any
//! bytes either decode or give an error, never a panic, and whatever
//! decodes encodes again and decodes to the same bytes (no value the
//! decoder accepts is one the encoder cannot write).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{AgentMsg, Event, ToAgent, ToVisitor, VisitorMsg};
use serde::{de::DeserializeOwned, Serialize};

fn round_trip<T: Serialize + DeserializeOwned>(data: &[u8]) {
    if let Ok(value) = protocol::decode::<T>(data) {
        let bytes = protocol::encode(&value).expect("a decoded value encodes");
        let again: T = protocol::decode(&bytes).expect("what we encode decodes");
        assert_eq!(
            protocol::encode(&again).expect("encodes"),
            bytes,
            "a second round trip changed the bytes"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = protocol::decode_hello(data);
    round_trip::<VisitorMsg>(data);
    round_trip::<AgentMsg>(data);
    round_trip::<ToVisitor>(data);
    round_trip::<ToAgent>(data);
    round_trip::<Event>(data);
    // An event frame's payload is decoded by the console.
    if let Ok(VisitorMsg::Event(frame)) = protocol::decode::<VisitorMsg>(data) {
        let _ = frame.event();
    }
});
