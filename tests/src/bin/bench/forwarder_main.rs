//! `bench-forwarder`: the bench's bare forwarder as a process of its own
//! (release build), printing `bench-forwarder listening on ws://ADDR` and
//! serving until stdin closes.
//!
//! Owns: starting and stopping it. Does not own: the forwarder (`bare.rs`).

mod bare;

fn main() -> anyhow::Result<()> {
    let bare = bare::Bare::start()?;
    println!("bench-forwarder listening on ws://{}", bare.addr);
    // The driver holds our stdin: its end (or its death) ends us.
    let mut sink = String::new();
    while std::io::stdin().read_line(&mut sink)? > 0 {
        sink.clear();
    }
    bare.stop();
    Ok(())
}
