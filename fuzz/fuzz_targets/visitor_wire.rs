//! The visitor's hand-written decoder runs on customers' pages: any bytes
//! decode or give an error, never a panic; and every relay message as
//! `protocol::encode` writes it (the reference) the hand decoder reads, to
//! the same value. Inputs serde merely tolerates (a variant by index, a
//! longer integer form) are not what a relay sends; the hand decoder may
//! refuse them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ToVisitor;

fuzz_target!(|data: &[u8]| {
    let hand = visitor_wasm::wire::decode_to_visitor(data);
    let Ok(reference) = protocol::decode::<ToVisitor>(data) else {
        return;
    };
    let canonical = protocol::encode(&reference).expect("encodes");
    if canonical != data {
        return;
    }
    let hand = hand.expect("the hand decoder refused a message as the relay writes it");
    // Compared as bytes: a float may be NaN.
    assert_eq!(
        protocol::encode(&hand).expect("encodes"),
        canonical,
        "the hand decoder read another value"
    );
});
