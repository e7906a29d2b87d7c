//! The real workspace against the table: `cargo test --workspace` fails on a
//! dependency that crosses a layer, and says which and why.

use std::path::Path;

#[test]
fn the_workspace_keeps_its_layers() {
    let metadata = tidy::cargo_metadata(Path::new(env!("CARGO_MANIFEST_DIR")));
    let packages = metadata.and_then(|metadata| tidy::packages(&metadata)).unwrap_or_else(|error| panic!("{error}"));
    assert!(packages.len() >= tidy::RULES.len(), "{packages:?}");

    let violations = tidy::check(&packages);

    let report: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(violations.is_empty(), "the crate graph breaks ARCHITECTURE.md's layers:\n{}", report.join("\n"));
}
