//! The layers of ARCHITECTURE.md, checked. Its code map says what each crate
//! must not do; the part of that which shows in `Cargo.toml` is which
//! workspace crates each one depends on. A dependency across a layer compiles
//! and reads as harmless in review, and the layer is gone before anyone
//! notices, so the crate graph `cargo metadata` reports is held against one
//! table, [`RULES`], by a test that `cargo test --workspace` runs
//! (`tests/workspace.rs`).
//!
//! Normal and build dependencies are a crate's code and follow its row's
//! `code`. Dev-dependencies are its tests, which may wire what its code may
//! not (a backend, a testkit, the HTTP edge) to check it against the real
//! thing, so most rows allow any library there; the kernel's and the domain's
//! tests are held to their code's rule, because those crates are tested
//! without I/O. Nothing, code or test, depends on a composition root or on a
//! tool. A workspace crate without a row is reported too: a new crate is
//! placed in a layer when it is added.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// What a crate is, in ARCHITECTURE.md's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// The event-sourcing kernel.
    Kernel,
    /// The pure ticket-shop domain.
    Domain,
    /// The application layer: the shop's handlers and the ports they use.
    Application,
    /// The HTTP edge and the pages served beside it.
    Edge,
    /// A store, the bus, or read models on one of them.
    Backend,
    /// Test support, never a dependency of non-test code.
    Testkit,
    /// A binary that picks the backends and wires everything.
    Root,
    /// A tool that looks after the workspace itself.
    Tool,
}

/// The workspace crates that a crate's code, or its tests, may depend on.
#[derive(Clone, Copy, Debug)]
pub enum May {
    /// These and no others.
    Only(&'static [&'static str]),
    /// Any library: every crate but the composition roots and the tools, and,
    /// for code, but the testkits.
    AnyLibrary,
}

/// One row of the table: a crate, its layer, and what it may depend on.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// The package name.
    pub krate: &'static str,
    /// Its layer.
    pub layer: Layer,
    /// What its normal and build dependencies may name.
    pub code: May,
    /// What its dev-dependencies may name.
    pub tests: May,
    /// Why, after ARCHITECTURE.md, with the reason for anything its layer alone would not allow.
    pub why: &'static str,
}

use Layer::*;
use May::*;

/// Every workspace crate and the workspace crates it may depend on.
pub const RULES: &[Rule] = &[
    Rule {
        krate: "es-core",
        layer: Kernel,
        code: Only(&[]),
        tests: Only(&[]),
        why: "the kernel knows no tickets and does I/O only through its ports",
    },
    Rule {
        krate: "ticketing",
        layer: Domain,
        code: Only(&["es-core"]),
        tests: Only(&["es-core"]),
        why: "the pure domain is aggregates on the kernel: no I/O, no backend, no HTTP",
    },
    Rule {
        krate: "ticketing-app",
        layer: Application,
        code: Only(&["es-core", "ticketing"]),
        tests: AnyLibrary,
        why: "the application layer holds ports, never a backend, and knows no HTTP",
    },
    Rule {
        krate: "ticketing-api",
        layer: Edge,
        code: Only(&["es-core", "ticketing", "ticketing-app"]),
        tests: AnyLibrary,
        why: "the HTTP edge talks to a backend only through the application layer",
    },
    Rule {
        krate: "ticketing-web",
        layer: Edge,
        code: Only(&["ticketing", "ticketing-api"]),
        tests: AnyLibrary,
        why: "the pages go through the API's router, never `Shop`, a read-model port or a backend, \
              and the API does not need them",
    },
    Rule {
        krate: "es-sqlite",
        layer: Backend,
        code: Only(&["es-core"]),
        tests: AnyLibrary,
        why: "a store implements the kernel's ports",
    },
    Rule {
        krate: "es-dynamodb",
        layer: Backend,
        code: Only(&["es-core"]),
        tests: AnyLibrary,
        why: "a store implements the kernel's ports",
    },
    Rule {
        krate: "es-aws-bus",
        layer: Backend,
        code: Only(&["es-core", "es-dynamodb"]),
        tests: AnyLibrary,
        why: "the bus on AWS carries the DynamoDB log's stream images and keeps that log's index",
    },
    Rule {
        krate: "ticketing-sqlite",
        layer: Backend,
        code: Only(&["es-core", "es-sqlite", "ticketing", "ticketing-app"]),
        tests: AnyLibrary,
        why: "the embedded read models are `es_sqlite` projections (their rows commit with the checkpoint), \
              the one crate besides the composition roots whose code sees `es-sqlite`",
    },
    Rule {
        krate: "ticketing-dynamodb",
        layer: Backend,
        code: Only(&["es-aws-bus", "es-core", "ticketing", "ticketing-app"]),
        tests: AnyLibrary,
        why: "the carts read model is fed from the bus (`es_aws_bus::sink::BusSink`)",
    },
    Rule {
        krate: "ticketing-postgres",
        layer: Backend,
        code: Only(&["es-aws-bus", "es-core", "ticketing", "ticketing-app"]),
        tests: AnyLibrary,
        why: "the read models are fed from the bus; carts are another backend's, joined with these in the \
              composition roots (`ReadSide`), so no read-model backend needs another",
    },
    Rule {
        krate: "ticketing-stripe",
        layer: Backend,
        code: Only(&["ticketing", "ticketing-app"]),
        tests: AnyLibrary,
        why: "the payment provider's adapter implements the application layer's port and knows no store",
    },
    Rule {
        krate: "ticketing-pdf",
        layer: Backend,
        code: Only(&["ticketing", "ticketing-app"]),
        tests: AnyLibrary,
        why: "the documents adapter draws what the application layer's port hands it; no store, no HTTP",
    },
    Rule {
        krate: "ticketing-smtp",
        layer: Backend,
        code: Only(&["ticketing-app"]),
        tests: AnyLibrary,
        why: "the mailer adapter sends what the application layer's port hands it; it knows no domain type",
    },
    Rule {
        krate: "ticketing-cognito",
        layer: Backend,
        code: Only(&["ticketing", "ticketing-app"]),
        tests: AnyLibrary,
        why: "the directory adapter disables the account the application layer's port names; it decides nothing",
    },
    Rule {
        krate: "es-testkit",
        layer: Testkit,
        code: Only(&["es-core"]),
        tests: AnyLibrary,
        why: "the conformance suite runs against the kernel's ports; each backend's tests bring the backend",
    },
    Rule {
        krate: "ticketing-testkit",
        layer: Testkit,
        code: Only(&["es-core", "ticketing", "ticketing-app"]),
        tests: AnyLibrary,
        why: "the story is told through the real `Shop`; each backend's tests bring the backend",
    },
    Rule {
        krate: "cloudbash",
        layer: Root,
        code: AnyLibrary,
        tests: AnyLibrary,
        why: "the composition root of local and container hosts picks the backends",
    },
    Rule {
        krate: "cloudbash-lambda",
        layer: Root,
        code: AnyLibrary,
        tests: AnyLibrary,
        why: "the composition root of the AWS functions picks the backends",
    },
    Rule {
        krate: "tidy",
        layer: Tool,
        code: Only(&[]),
        tests: Only(&[]),
        why: "this check reads cargo's metadata, none of the workspace's code",
    },
];

/// The row of a crate.
pub fn rule(krate: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.krate == krate)
}

/// A workspace crate and the workspace crates it depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Package {
    /// The package name.
    pub name: String,
    /// Named by normal or build dependencies.
    pub code: BTreeSet<String>,
    /// Named by dev-dependencies.
    pub tests: BTreeSet<String>,
}

/// Metadata that is not what `cargo metadata --format-version 1` writes.
#[derive(Debug)]
pub struct BadMetadata(String);

impl fmt::Display for BadMetadata {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "unexpected cargo metadata: {}", self.0)
    }
}

impl std::error::Error for BadMetadata {}

/// The workspace's crates and their dependencies on each other, from the JSON
/// of `cargo metadata --format-version 1 --no-deps` (whose packages are the
/// workspace's members).
pub fn packages(metadata: &str) -> Result<Vec<Package>, BadMetadata> {
    let metadata: Value = serde_json::from_str(metadata).map_err(|error| BadMetadata(error.to_string()))?;
    let listed = metadata["packages"].as_array().ok_or_else(|| BadMetadata("no `packages` array".into()))?;
    let name = |value: &Value| value["name"].as_str().map(str::to_owned);
    let members: BTreeSet<String> = listed.iter().filter_map(name).collect();
    listed
        .iter()
        .map(|package| {
            let mut found = Package {
                name: name(package).ok_or_else(|| BadMetadata("a package without a name".into()))?,
                ..Package::default()
            };
            let dependencies = package["dependencies"].as_array();
            for dependency in
                dependencies.ok_or_else(|| BadMetadata(format!("{} lists no dependencies", found.name)))?
            {
                let on = name(dependency).ok_or_else(|| BadMetadata("a dependency without a name".into()))?;
                if !members.contains(&on) {
                    continue;
                }
                match dependency["kind"].as_str() {
                    Some("dev") => found.tests.insert(on),
                    None | Some("build") => found.code.insert(on),
                    Some(other) => return Err(BadMetadata(format!("dependency kind {other:?}"))),
                };
            }
            Ok(found)
        })
        .collect()
}

/// What breaks the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A crate depends on one its row does not allow.
    Dependency {
        /// The crate whose manifest names the dependency.
        krate: String,
        /// The crate it depends on.
        on: String,
        /// Whether it is a dev-dependency.
        dev: bool,
        /// The row's reason.
        why: &'static str,
    },
    /// A workspace crate has no row.
    Unplaced(String),
    /// A row names no workspace crate (renamed or removed: the row checks nothing).
    Stale(&'static str),
}

impl fmt::Display for Violation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Dependency { krate, on, dev, why } => {
                let kind = if *dev { "a dev-dependency" } else { "a dependency" };
                write!(formatter, "`{krate}` has {kind} on `{on}`, which its row does not allow: {why}")
            }
            Violation::Unplaced(krate) => {
                write!(formatter, "`{krate}` has no row in tidy's RULES: place it in a layer")
            }
            Violation::Stale(krate) => write!(formatter, "tidy's RULES has a row for `{krate}`, not a workspace crate"),
        }
    }
}

/// Whether `may` allows a dependency on `on`.
fn allows(may: May, on: &str, dev: bool) -> bool {
    match may {
        Only(crates) => crates.contains(&on),
        // A crate without a row is reported as unplaced, not once more here.
        AnyLibrary => rule(on).is_none_or(|rule| match rule.layer {
            Root | Tool => false,
            Testkit => dev,
            _ => true,
        }),
    }
}

/// Every violation of [`RULES`] by these packages.
pub fn check(packages: &[Package]) -> Vec<Violation> {
    let mut violations = Vec::new();
    for package in packages {
        let Some(rule) = rule(&package.name) else {
            violations.push(Violation::Unplaced(package.name.clone()));
            continue;
        };
        for (dev, may, dependencies) in [(false, rule.code, &package.code), (true, rule.tests, &package.tests)] {
            for on in dependencies.iter().filter(|on| !allows(may, on, dev)) {
                violations.push(Violation::Dependency {
                    krate: package.name.clone(),
                    on: on.clone(),
                    dev,
                    why: rule.why,
                });
            }
        }
    }
    let stale = RULES.iter().filter(|rule| !packages.iter().any(|package| package.name == rule.krate));
    violations.extend(stale.map(|rule| Violation::Stale(rule.krate)));
    violations
}

/// `cargo metadata --format-version 1 --no-deps` of the workspace that holds
/// `dir`, with the cargo that runs the tests (or the one on the path).
pub fn cargo_metadata(dir: &Path) -> Result<String, BadMetadata> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(dir)
        .output()
        .map_err(|error| BadMetadata(format!("cargo metadata did not run: {error}")))?;
    if !output.status.success() {
        return Err(BadMetadata(format!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr))));
    }
    String::from_utf8(output.stdout).map_err(|error| BadMetadata(error.to_string()))
}

#[cfg(test)]
mod tests;
