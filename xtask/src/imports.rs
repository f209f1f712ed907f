//! Short names for the wasm's imports from its wasm-bindgen glue.
//!
//! wasm-bindgen names each JS function the wasm imports like
//! `__wbg_setAttribute_2d2a1e8f4c0b9a77`: about 330 of them in the visitor,
//! each written twice (the wasm's import section and the glue's import
//! object), and their hex suffixes do not compress. Here every import from
//! the glue's module is renamed `a`, `b`, … `aa`, … in both files. binaryen's
//! `--minify-imports` only renames imports from `env`, hence this.
//!
//! Owns: reading and rewriting the import section, and the matching keys of
//! the glue. Does not own: deciding to run (shrink.rs).

use anyhow::{bail, Context, Result};

/// Renames every import of `module` in `wasm` and the same key in `glue`.
/// Fails (and the caller leaves both files as they were) unless each
/// renamed import appears exactly once as a key in the glue.
pub fn shorten(wasm: &[u8], glue: &str, module: &str) -> Result<(Vec<u8>, String)> {
    let mut renames: Vec<(String, String)> = Vec::new();
    let out = rewrite_imports(wasm, |m, name| {
        if m != module {
            return None;
        }
        let short = short_name(renames.len());
        renames.push((name.to_owned(), short.clone()));
        Some(short)
    })?;
    let mut glue = glue.to_owned();
    for (long, short) in &renames {
        glue = replace_key(&glue, long, short)
            .with_context(|| format!("the glue's import object has no single key {long}"))?;
    }
    Ok((out, glue))
}

/// `a`..`z`, `A`..`Z`, then two letters and so on: valid JS property names.
fn short_name(mut i: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut name = Vec::new();
    loop {
        name.push(ALPHABET[i % ALPHABET.len()]);
        i /= ALPHABET.len();
        if i == 0 {
            break;
        }
        i -= 1;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

/// Replaces the one occurrence of `key` used as an object key (`key:`, not
/// part of a longer name) with `short`.
fn replace_key(text: &str, key: &str, short: &str) -> Result<String> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let mut found = Vec::new();
    for (at, _) in text.match_indices(key) {
        let before = text[..at].chars().next_back();
        let after = text[at + key.len()..].trim_start().chars().next();
        if !before.is_some_and(is_ident) && after == Some(':') {
            found.push(at);
        }
    }
    let [at] = found[..] else {
        bail!("found {} times", found.len());
    };
    Ok(format!("{}{short}{}", &text[..at], &text[at + key.len()..]))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self.bytes.get(self.at).context("truncated wasm")?;
        self.at += 1;
        Ok(b)
    }

    fn leb(&mut self) -> Result<u32> {
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return u32::try_from(value).context("LEB128 out of range");
            }
        }
        bail!("LEB128 too long")
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).context("truncated wasm")?;
        let slice = self.bytes.get(self.at..end).context("truncated wasm")?;
        self.at = end;
        Ok(slice)
    }

    fn name(&mut self) -> Result<&'a str> {
        let n = self.leb()? as usize;
        std::str::from_utf8(self.take(n)?).context("an import name is not UTF-8")
    }

    fn limits(&mut self) -> Result<()> {
        let flags = self.byte()?;
        self.leb()?;
        if flags & 1 != 0 {
            self.leb()?;
        }
        Ok(())
    }
}

fn push_leb(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn push_name(out: &mut Vec<u8>, name: &str) {
    push_leb(out, name.len() as u32);
    out.extend_from_slice(name.as_bytes());
}

/// Copies `wasm`, renaming the imports for which `rename(module, name)`
/// gives a new name. Every other byte is kept as it was.
fn rewrite_imports(
    wasm: &[u8],
    mut rename: impl FnMut(&str, &str) -> Option<String>,
) -> Result<Vec<u8>> {
    if wasm.get(..8) != Some(b"\0asm\x01\0\0\0".as_slice()) {
        bail!("not a wasm module (version 1)");
    }
    let mut r = Reader { bytes: wasm, at: 8 };
    let mut out = wasm[..8].to_vec();
    while r.at < wasm.len() {
        let id = r.byte()?;
        let size = r.leb()? as usize;
        let body = r.take(size)?;
        if id != 2 {
            out.push(id);
            push_leb(&mut out, size as u32);
            out.extend_from_slice(body);
            continue;
        }
        let mut s = Reader { bytes: body, at: 0 };
        let count = s.leb()?;
        let mut section = Vec::with_capacity(body.len());
        push_leb(&mut section, count);
        for _ in 0..count {
            let module = s.name()?;
            let name = s.name()?;
            let desc_start = s.at;
            match s.byte()? {
                0x00 => {
                    s.leb()?; // a function's type
                }
                0x01 => {
                    s.byte()?; // a table's element type
                    s.limits()?;
                }
                0x02 => s.limits()?,
                0x03 => {
                    s.byte()?; // a global's value type
                    s.byte()?; // and mutability
                }
                0x04 => {
                    s.byte()?; // a tag's attribute
                    s.leb()?; // and type
                }
                kind => bail!("unknown import kind {kind:#x}"),
            }
            push_name(&mut section, module);
            match rename(module, name) {
                Some(short) => push_name(&mut section, &short),
                None => push_name(&mut section, name),
            }
            section.extend_from_slice(&body[desc_start..s.at]);
        }
        if s.at != body.len() {
            bail!("the import section has bytes after its last import");
        }
        out.push(2);
        push_leb(&mut out, section.len() as u32);
        out.extend_from_slice(&section);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module importing two functions from "./m.js", a memory from
    /// "env", with a type section before and a custom section after.
    fn module(names: [&str; 2]) -> Vec<u8> {
        let mut imports = Vec::new();
        push_leb(&mut imports, 3);
        for name in names {
            push_name(&mut imports, "./m.js");
            push_name(&mut imports, name);
            imports.extend_from_slice(&[0x00, 0x00]);
        }
        push_name(&mut imports, "env");
        push_name(&mut imports, "memory");
        imports.extend_from_slice(&[0x02, 0x01, 0x01, 0x02]);
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]);
        wasm.push(2);
        push_leb(&mut wasm, imports.len() as u32);
        wasm.extend_from_slice(&imports);
        wasm.extend_from_slice(&[0x00, 0x03, 0x02, b'h', b'i']);
        wasm
    }

    #[test]
    fn imports_of_the_glue_module_get_short_names_in_both_files() -> Result<()> {
        let long = ["__wbg_get_0123456789abcdef", "__wbg_get_0123456789abcdee"];
        let glue = "const i={__proto__:null,__wbg_get_0123456789abcdef:function(a){return a},\n  \
                    __wbg_get_0123456789abcdee: function(){}};x.__wbg_get_0123456789abcdef;";
        let (wasm, glue) = shorten(&module(long), glue, "./m.js")?;
        assert_eq!(wasm, module(["a", "b"]));
        assert_eq!(
            glue,
            "const i={__proto__:null,a:function(a){return a},\n  \
             b: function(){}};x.__wbg_get_0123456789abcdef;"
        );
        Ok(())
    }

    #[test]
    fn a_name_the_glue_lacks_or_repeats_leaves_the_files_alone() {
        let long = ["__wbg_a_1", "__wbg_a_2"];
        assert!(shorten(&module(long), "{__wbg_a_1:1}", "./m.js").is_err());
        assert!(shorten(
            &module(long),
            "{__wbg_a_1:1,__wbg_a_2:2,__wbg_a_2:3}",
            "./m.js"
        )
        .is_err());
        assert!(shorten(b"\0asm\x01\0\0\0\x02\x05\x01", "", "./m.js").is_err());
    }

    #[test]
    fn short_names_are_distinct_identifiers() {
        let names: Vec<String> = (0..3000).map(short_name).collect();
        assert_eq!(&names[..3], ["a", "b", "c"]);
        assert_eq!(names[52], "aa");
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_alphabetic())));
    }
}
