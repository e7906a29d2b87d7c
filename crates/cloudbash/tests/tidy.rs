//! House rules checked as ordinary tests, so that a newcomer's change meets
//! them before review: every Rust file says why it exists in a `//!`
//! paragraph, and no shipped code carries `todo!`, `unimplemented!` or
//! `dbg!`.

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut found = Vec::new();
    rust_files(&workspace_root().join("crates"), &mut found);
    assert!(found.len() > 10, "the tidy check found almost no Rust files; is the path right?");
    found
}

#[test]
fn every_rust_file_opens_with_a_module_doc_paragraph() {
    let missing: Vec<_> = all_rust_files()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).expect("readable source");
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(missing.is_empty(), "files without a `//!` paragraph: {missing:#?}");
}

#[test]
fn shipped_code_has_no_placeholders_or_debug_prints() {
    // Spelled out by parts so that this file does not trip its own check.
    let forbidden = ["todo", "unimplemented", "dbg"].map(|name| format!("{name}!("));
    let mut offenders = Vec::new();
    for path in all_rust_files() {
        let text = std::fs::read_to_string(&path).expect("readable source");
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            if forbidden.iter().any(|word| line.contains(word)) {
                offenders.push(format!("{}:{}: {}", path.display(), number + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "placeholders or debug prints: {offenders:#?}");
}
