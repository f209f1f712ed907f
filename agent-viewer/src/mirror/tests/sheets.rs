//! CSSOM changes and FontFace fonts in the mirror: which sheet gets which
//! rules (rewritten like any stylesheet), constructed sheets and their
//! adoption, roots that arrive late, bad rules, and a snapshot's fresh
//! start.

use protocol::{Event, FontFaceDesc, MutationBatch, NodeId, SheetChange, SheetRef};

use super::*;
use crate::mirror::fake::FakeDom;
use crate::mirror::Mirror;
use crate::resources::base64url;

const BASE: &str = "http://relay:8080/res/s/KEY/";

fn mirror_with_style() -> Mirror<FakeDom> {
    let mut mirror = Mirror::new(FakeDom::default());
    mirror.set_resources(Some(BASE.into()));
    mirror
        .apply(&page_with(vec![el(10, "style", &[("id", "cij")], vec![])]))
        .expect("snapshot");
    mirror
}

fn sheet(change: SheetChange) -> Event {
    Event::Sheet(change)
}

fn rules(sheet_ref: SheetRef, rules: &[&str]) -> Event {
    sheet(SheetChange::Rules {
        sheet: sheet_ref,
        rules: rules.iter().map(|r| (*r).to_owned()).collect(),
    })
}

#[test]
fn rules_written_into_an_empty_style_reach_its_mirrored_sheet_rewritten() {
    let mut mirror = mirror_with_style();
    let applied = mirror.apply(&rules(
        SheetRef::Owner(NodeId(10)),
        &[
            ".box { color: red; }",
            ".btn:hover { background: url(\"https://shop.example/b.png\"); }",
        ],
    ));
    assert_eq!(applied.expect("applied"), Applied::Mutations);
    let style = node(&mirror, 10);
    let mut relay = BASE.to_owned();
    base64url(b"https://shop.example/b.png", &mut relay);
    let got = &mirror.backend().sheets.owned[&style];
    assert_eq!(got[0], ".box { color: red; }");
    assert!(
        got[1].contains("[data-cobrowse-hover]") && !got[1].contains(":hover"),
        "hover is the visitor's, keyed to the attribute: {}",
        got[1]
    );
    assert!(got[1].contains(&relay), "URL through the relay: {}", got[1]);
    assert!(
        html(&mirror).contains("<style id=\"cij\"></style>"),
        "the DOM stays the visitor's"
    );
}

#[test]
fn inserts_and_deletes_follow_their_path() {
    let mut mirror = mirror_with_style();
    let owner = SheetRef::Owner(NodeId(10));
    for (at, rule) in [(0, ".a {}"), (1, ".c {}"), (1, ".b {}")] {
        mirror
            .apply(&sheet(SheetChange::Insert {
                sheet: owner,
                path: vec![at],
                rule: rule.into(),
            }))
            .expect("insert");
    }
    mirror
        .apply(&sheet(SheetChange::Delete {
            sheet: owner,
            path: vec![0],
        }))
        .expect("delete");
    mirror
        .apply(&sheet(SheetChange::Insert {
            sheet: owner,
            path: vec![0, 2],
            rule: ".in-media {}".into(),
        }))
        .expect("nested insert");
    let style = node(&mirror, 10);
    assert_eq!(mirror.backend().sheets.owned[&style], [".b {}", ".c {}"]);
    assert!(
        mirror
            .backend()
            .sheets
            .log
            .last()
            .is_some_and(|l| l.contains("[0, 2]")),
        "a nested insert keeps its whole path"
    );
}

#[test]
fn a_rule_the_browser_refuses_is_skipped_without_asking_for_a_snapshot() {
    let mut mirror = mirror_with_style();
    let applied = mirror.apply(&rules(
        SheetRef::Owner(NodeId(10)),
        &[".ok {}", "BAD {", ".also-ok {}"],
    ));
    assert!(applied.is_ok(), "no resync for a bad rule");
    let style = node(&mirror, 10);
    assert_eq!(
        mirror.backend().sheets.owned[&style],
        [".ok {}", ".also-ok {}"]
    );
    assert_eq!(mirror.backend().sheets.refused, 1);
}

#[test]
fn a_sheet_of_an_unknown_element_is_ignored() {
    let mut mirror = mirror_with_style();
    let applied = mirror.apply(&rules(SheetRef::Owner(NodeId(99)), &[".x {}"]));
    assert!(applied.is_ok());
    assert!(mirror.backend().sheets.owned.is_empty());
}

#[test]
fn constructed_sheets_are_made_once_and_adopted_by_the_document() {
    let mut mirror = mirror_with_style();
    mirror
        .apply(&rules(
            SheetRef::Constructed(4),
            &[".adopted { margin: 0; }"],
        ))
        .expect("rules");
    mirror
        .apply(&sheet(SheetChange::Insert {
            sheet: SheetRef::Constructed(4),
            path: vec![1],
            rule: ".more {}".into(),
        }))
        .expect("insert");
    mirror
        .apply(&sheet(SheetChange::Adopted {
            root: NodeId(1),
            sheets: vec![4],
        }))
        .expect("adopt");
    let fake = &mirror.backend().sheets;
    assert_eq!(
        fake.constructed,
        [vec![".adopted { margin: 0; }", ".more {}"]]
    );
    let document = node(&mirror, 1);
    assert_eq!(fake.adopted[&document], [0]);
}

#[test]
fn an_adoption_waits_for_its_root_to_arrive() {
    let mut mirror = mirror_with_style();
    mirror
        .apply(&rules(SheetRef::Constructed(0), &[".x {}"]))
        .expect("rules");
    mirror
        .apply(&sheet(SheetChange::Adopted {
            root: NodeId(20),
            sheets: vec![0],
        }))
        .expect("adopt before the root");
    assert!(mirror.backend().sheets.adopted.is_empty());
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![add(5, None, el(20, "div", &[], vec![]))],
            ..MutationBatch::default()
        }))
        .expect("root arrives");
    let root = node(&mirror, 20);
    assert_eq!(mirror.backend().sheets.adopted[&root], [0]);
}

#[test]
fn fonts_go_through_the_relay_and_a_snapshot_removes_them_and_the_constructed_sheets() {
    let mut mirror = mirror_with_style();
    let font = FontFaceDesc {
        family: "Brand".into(),
        source: "url(\"https://shop.example/brand.woff2\") format(\"woff2\")".into(),
        descriptors: vec![protocol::Attr::new("weight", "700")],
    };
    mirror.apply(&Event::Font(font)).expect("font");
    let mut relay = BASE.to_owned();
    base64url(b"https://shop.example/brand.woff2", &mut relay);
    let added = mirror.backend().sheets.fonts[0].clone().expect("added");
    assert_eq!(added.family, "Brand");
    assert!(added.source.contains(&relay), "{}", added.source);
    assert!(added.source.ends_with("format(\"woff2\")"));
    assert_eq!(added.descriptors[0].value, "700");

    mirror
        .apply(&rules(SheetRef::Constructed(0), &[".x {}"]))
        .expect("rules");
    mirror.apply(&page()).expect("snapshot");
    assert_eq!(mirror.backend().sheets.fonts, [None], "font removed");
    mirror
        .apply(&sheet(SheetChange::Insert {
            sheet: SheetRef::Constructed(0),
            path: vec![0],
            rule: ".y {}".into(),
        }))
        .expect("insert");
    assert_eq!(
        mirror.backend().sheets.constructed.len(),
        2,
        "after a snapshot sheet 0 is a new sheet"
    );
}
