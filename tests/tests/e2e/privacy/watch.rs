//! Where the canary test looks: every Redis key and value (read by type),
//! the relay's log, and the bytes the relay's HTTP tap recorded; and the
//! forms a string could take in each (UTF-8, UTF-16 both ways, hex).

use anyhow::{bail, Context, Result};
use e2e::tap::{find, Connection};

/// The forms a string takes in a WebSocket frame, a Redis value or an
/// HTTP body: UTF-8 and UTF-16 (little and big endian).
pub fn encodings(s: &str) -> Vec<Vec<u8>> {
    vec![
        s.as_bytes().to_vec(),
        s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        s.encode_utf16().flat_map(u16::to_be_bytes).collect(),
    ]
}

/// Also lower-case hex: how a log line prints a payload's bytes.
pub fn log_encodings(s: &str) -> Vec<Vec<u8>> {
    let mut forms = encodings(s);
    let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
    forms.push(hex.into_bytes());
    forms
}

/// Where in `haystack` one of `forms` starts.
pub fn position(haystack: &[u8], forms: &[Vec<u8>]) -> Option<usize> {
    forms.iter().filter_map(|f| find(haystack, f)).min()
}

/// Up to 60 bytes from `at`, as text, for a failure message.
pub fn excerpt(haystack: &[u8], at: usize) -> String {
    let end = (at + 60).min(haystack.len());
    String::from_utf8_lossy(&haystack[at..end]).into_owned()
}

/// One Redis key and everything stored under it.
#[derive(Clone)]
pub struct Entry {
    pub key: Vec<u8>,
    pub kind: String,
    /// The value's parts: a string's bytes, a hash's fields and values, a
    /// set's or list's members, a sorted set's members and scores.
    pub parts: Vec<Vec<u8>>,
}

impl Entry {
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.key).into_owned()
    }
}

/// Every key in the Redis at `url`, each read according to its type.
pub fn redis_dump(url: &str) -> Result<Vec<Entry>> {
    let client = redis::Client::open(url).context("redis URL")?;
    let mut con = client.get_connection().context("connecting to redis")?;
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query(&mut con)?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys.dedup();
    let mut entries = Vec::with_capacity(keys.len());
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut con)?;
        let parts: Vec<Vec<u8>> = match kind.as_str() {
            // Gone between SCAN and TYPE: nothing to read.
            "none" => Vec::new(),
            "string" => {
                let value: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query(&mut con)?;
                value.into_iter().collect()
            }
            "hash" => redis::cmd("HGETALL").arg(&key).query(&mut con)?,
            "set" => redis::cmd("SMEMBERS").arg(&key).query(&mut con)?,
            "list" => redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(&mut con)?,
            "zset" => redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(&mut con)?,
            other => bail!(
                "key {} has type {other}, which this test cannot read yet: teach it",
                String::from_utf8_lossy(&key)
            ),
        };
        entries.push(Entry { key, kind, parts });
    }
    Ok(entries)
}

/// Fails naming the key if any key name or value holds `needle`.
pub fn redis_free_of(entries: &[Entry], needle: &str, moment: &str) -> Result<()> {
    let forms = encodings(needle);
    for entry in entries {
        for part in std::iter::once(&entry.key).chain(&entry.parts) {
            if let Some(at) = position(part, &forms) {
                bail!(
                    "{moment}: Redis key {} ({}) holds {needle:?}: …{}…",
                    entry.name(),
                    entry.kind,
                    excerpt(part, at)
                );
            }
        }
    }
    Ok(())
}

/// Fails if any byte the relay was sent or sent back holds `needle`
/// (client WebSocket frames unmasked).
pub fn tap_free_of(connections: &[Connection], needle: &str) -> Result<()> {
    let forms = encodings(needle);
    for conn in connections {
        for (dir, bytes) in [
            ("sent to", conn.to_relay_unmasked()),
            ("sent by", conn.from_relay.clone()),
        ] {
            if let Some(at) = position(&bytes, &forms) {
                bail!(
                    "{needle:?} was {dir} the relay on the connection of {:?}: …{}…",
                    first_line(&conn.head()),
                    excerpt(&bytes, at)
                );
            }
        }
    }
    Ok(())
}

/// Whether some connection carried `needle` toward (`to_relay`) or from
/// the relay: the positive controls of the tap.
pub fn tap_saw(connections: &[Connection], needle: &str, to_relay: bool) -> bool {
    let forms = encodings(needle);
    connections.iter().any(|c| {
        let bytes = if to_relay {
            c.to_relay_unmasked()
        } else {
            c.from_relay.clone()
        };
        position(&bytes, &forms).is_some()
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_string_is_found() {
        let text = "x CANARY-1 y";
        let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(position(text.as_bytes(), &encodings("CANARY-1")).is_some());
        assert!(position(&utf16, &encodings("CANARY-1")).is_some());
        assert!(position(hex.as_bytes(), &encodings("CANARY-1")).is_none());
        assert!(position(hex.as_bytes(), &log_encodings("CANARY-1")).is_some());
    }
}
