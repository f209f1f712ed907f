//! `cargo xtask fuzz`: the coverage-guided fuzz targets in `fuzz/`
//! (libFuzzer through `libfuzzer-sys`), built with the stable toolchain's
//! sanitizer-coverage passes — no nightly, no cargo-fuzz install — and run
//! each for a bounded time. `cargo xtask test` runs every target briefly;
//! this verb runs them as long as asked.
//!
//! Owns: building the targets (into `target/fuzz`, its own folder, so the
//! coverage flags never touch the normal builds) and running them with a
//! corpus under `target/fuzz/corpus/<target>` that grows between runs,
//! seeded from the protocol's golden samples. Does not own: the targets
//! themselves (`fuzz/fuzz_targets/`).

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util;

pub const TARGETS: [&str; 3] = ["protocol_decode", "visitor_wire", "css_rewrite"];

/// What libFuzzer needs to see: which edges and comparisons an input
/// reached. The same passes cargo-fuzz asks for, minus AddressSanitizer:
/// the code under test has no `unsafe`, so what the fuzzer hunts is panics
/// (debug assertions and overflow checks stay on in the profile).
const COVERAGE_FLAGS: &str = "-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    --cfg fuzzing";

const HOST: &str = "x86_64-unknown-linux-gnu";

/// `cargo xtask fuzz [--seconds N] [target...]`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut seconds = 300;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .context("a number of seconds must follow --seconds")?
                    .parse()
                    .context("--seconds takes a whole number")?;
            }
            name if TARGETS.contains(&name) => targets.push(name.to_owned()),
            other => bail!(
                "unknown fuzz option or target {other:?} (targets: {})",
                TARGETS.join(", ")
            ),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| (*t).to_owned()).collect();
    }
    build(root)?;
    for target in &targets {
        fuzz(root, target, seconds)?;
    }
    Ok(())
}

/// Every target for `seconds` each (the bounded run in `cargo xtask test`).
pub fn briefly(root: &Path, seconds: u32) -> Result<()> {
    build(root)?;
    for target in TARGETS {
        fuzz(root, target, seconds)?;
    }
    Ok(())
}

fn build(root: &Path) -> Result<()> {
    util::step("build the fuzz targets (libFuzzer, sanitizer coverage)");
    util::run(
        Command::new(util::cargo_bin())
            .args(["build", "--release", "--bins", "--target", HOST])
            .arg("--manifest-path")
            .arg(root.join("fuzz/Cargo.toml"))
            .arg("--target-dir")
            .arg(root.join("target/fuzz"))
            // With an explicit --target, RUSTFLAGS reach only the targets'
            // code, not build scripts or proc macros.
            .env("RUSTFLAGS", COVERAGE_FLAGS),
    )
}

fn fuzz(root: &Path, target: &str, seconds: u32) -> Result<()> {
    util::step(&format!("fuzz {target} for {seconds} s"));
    let corpus = root.join("target/fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus)?;
    seed(&corpus, target)?;
    let artifacts = root.join("target/fuzz/artifacts").join(target);
    std::fs::create_dir_all(&artifacts)?;
    let binary = root
        .join("target/fuzz")
        .join(HOST)
        .join("release")
        .join(target);
    util::run(
        Command::new(&binary)
            .arg(&corpus)
            .arg(format!("-max_total_time={seconds}"))
            .arg("-max_len=65536")
            .arg("-timeout=10")
            .arg("-rss_limit_mb=4096")
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg("-print_final_stats=1"),
    )
    .with_context(|| {
        format!(
            "the fuzzer found a failing input for {target}: see {} \
             (rerun it: {} <file>)",
            artifacts.display(),
            binary.display()
        )
    })
}

/// A few valid inputs so the fuzzer starts from the real formats.
fn seed(corpus: &Path, target: &str) -> Result<()> {
    let samples: Vec<Vec<u8>> = match target {
        "css_rewrite" => [
            "a:hover{background:url(x.png)} @import 'b.css'; @media (min-width:1px){p:focus{color:red}}",
            "@charset \"utf-8\"; .x{src:image-set('a.png' 1x, url(b.png) 2x)}",
            "@font-face{font-family:F;src:url(\"f.woff2\") format('woff2')}",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        _ => protocol_samples()?,
    };
    for (i, bytes) in samples.iter().enumerate() {
        std::fs::write(corpus.join(format!("seed-{i}")), bytes)?;
    }
    Ok(())
}

fn protocol_samples() -> Result<Vec<Vec<u8>>> {
    use protocol::*;
    let node = Node::Element {
        id: NodeId(3),
        tag: "p".into(),
        ns: Ns::Html,
        attrs: vec![Attr::new("class", "x")],
        state: Some(FormState::default()),
        children: vec![Node::ShadowRoot {
            id: NodeId(4),
            children: vec![Node::Text {
                id: NodeId(5),
                text: "hi".into(),
            }],
        }],
    };
    let event = Event::Mutations(MutationBatch {
        adds: vec![AddedNode {
            parent: NodeId(1),
            next_sibling: None,
            node,
        }],
        ..MutationBatch::default()
    });
    let frame = EventFrame::new(Seq(1), &event)?;
    let out = vec![
        encode(&VisitorMsg::Event(frame.clone()))?,
        encode(&ToAgent::Event(frame))?,
        encode(&ToVisitor::Welcome {
            session: SessionId("s".into()),
            code: JoinCode::parse("123456")?,
            upload_token: "t".into(),
            resume_token: "r".into(),
            resume_secs: 30,
            masking: MaskRules {
                mask: vec![".a".into()],
                block: vec![],
            },
        })?,
        encode(&ToVisitor::FromAgent {
            agent: AgentId(1),
            msg: FromAgent::Control(Control::SetValue {
                target: NodeId(3),
                value: "v".into(),
            }),
        })?,
        encode(&AgentMsg::Point(Point::Selection(None)))?,
        encode_hello(&Hello::Visitor(VisitorHello {
            page_url: "https://a/".into(),
            resources: ResourcePolicy::default(),
            resume: None,
            invitation: None,
        }))?,
    ];
    Ok(out)
}
