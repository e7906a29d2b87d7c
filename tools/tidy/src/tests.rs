use serde_json::json;

use super::*;

/// Metadata in cargo's shape for the whole table, each crate depending on
/// what its row allows by name, with `extra` dependencies added:
/// (crate, dependency, kind).
fn metadata(extra: &[(&str, &str, Option<&str>)]) -> String {
    let packages: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            let mut dependencies = vec![json!({ "name": "serde", "kind": null, "source": "registry+https://github.com/rust-lang/crates.io-index" })];
            if let Only(crates) = rule.code {
                dependencies.extend(crates.iter().map(|on| json!({ "name": on, "kind": null })));
            }
            let added = extra.iter().filter(|(krate, _, _)| *krate == rule.krate);
            dependencies.extend(added.map(|(_, on, kind)| json!({ "name": on, "kind": kind })));
            json!({ "name": rule.krate, "version": "0.1.0", "dependencies": dependencies })
        })
        .collect();
    json!({ "packages": packages, "workspace_members": [], "version": 1 }).to_string()
}

fn violations(extra: &[(&str, &str, Option<&str>)]) -> Vec<Violation> {
    match packages(&metadata(extra)) {
        Ok(packages) => check(&packages),
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn the_allowed_graph_passes() {
    assert_eq!(violations(&[]), Vec::new());
}

#[test]
fn a_domain_that_depends_on_a_backend_is_reported() {
    let found = violations(&[("ticketing", "ticketing-sqlite", None)]);

    assert_eq!(
        found,
        vec![Violation::Dependency {
            krate: "ticketing".into(),
            on: "ticketing-sqlite".into(),
            dev: false,
            why: rule("ticketing").map_or("", |rule| rule.why),
        }]
    );
    assert!(found[0].to_string().starts_with("`ticketing` has a dependency on `ticketing-sqlite`"), "{}", found[0]);
}

#[test]
fn tests_may_wire_a_backend_except_in_the_kernel_and_the_domain() {
    assert_eq!(
        violations(&[("ticketing-app", "es-sqlite", Some("dev")), ("es-sqlite", "es-testkit", Some("dev"))]),
        []
    );

    let found = violations(&[("ticketing", "es-sqlite", Some("dev"))]);
    assert!(
        matches!(&found[..], [Violation::Dependency { krate, dev: true, .. }] if krate == "ticketing"),
        "{found:?}"
    );
}

#[test]
fn no_code_depends_on_a_testkit_and_nothing_on_a_composition_root() {
    let found = violations(&[
        ("cloudbash", "ticketing-testkit", None),
        ("ticketing-postgres", "cloudbash", Some("dev")),
        ("ticketing-web", "es-sqlite", None),
        ("ticketing-api", "ticketing-web", None),
    ]);

    let pairs: Vec<(&str, &str)> = found
        .iter()
        .filter_map(|violation| match violation {
            Violation::Dependency { krate, on, .. } => Some((krate.as_str(), on.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("ticketing-api", "ticketing-web"),
            ("ticketing-web", "es-sqlite"),
            ("ticketing-postgres", "cloudbash"),
            ("cloudbash", "ticketing-testkit"),
        ]
    );
}

#[test]
fn a_crate_without_a_row_and_a_row_without_a_crate_are_reported() {
    let metadata = json!({ "packages": [
        { "name": "es-core", "dependencies": [] },
        { "name": "ticketing-extras", "dependencies": [{ "name": "es-core", "kind": null }] },
    ]});
    let found = packages(&metadata.to_string()).map(|packages| check(&packages)).map_err(|error| error.to_string());

    let found = found.unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(found[0], Violation::Unplaced("ticketing-extras".into()));
    assert!(found.contains(&Violation::Stale("ticketing")), "{found:?}");
}

#[test]
fn metadata_of_another_shape_is_an_error() {
    assert!(packages("{}").is_err());
    assert!(packages(r#"{"packages": [{"name": "es-core"}]}"#).is_err());
}
