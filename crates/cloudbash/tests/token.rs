//! `cloudbash token` run as a user runs it: the token it prints verifies
//! against the data directory's secret, with the subject and role asked for,
//! and the secret is reused by the next call.

use std::process::Command;
use std::time::SystemTime;

use ticketing_api::auth::{LOCAL_ISSUER, Secret, Verifier};

fn token(data_dir: &std::path::Path, sub: &str, admin: bool) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cloudbash"));
    command.args(["token", "--data-dir"]).arg(data_dir).args(["--sub", sub]);
    if admin {
        command.arg("--admin");
    }
    let output = command.output().expect("cloudbash runs");
    assert!(output.status.success(), "cloudbash token failed: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout:?}");
    stdout.trim().to_owned()
}

#[test]
fn the_printed_token_verifies_with_the_data_directorys_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let sub = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    let admin = token(&data_dir, sub, true);
    let customer = token(&data_dir, sub, false);

    let verifier = Verifier::new(&Secret::load_or_create(&data_dir).expect("the secret exists"), LOCAL_ISSUER);
    let as_admin = verifier.verify(&admin, SystemTime::now()).expect("the admin token verifies");
    let as_customer = verifier.verify(&customer, SystemTime::now()).expect("the customer token verifies");
    assert_eq!(as_admin.user_id.to_string(), sub);
    assert!(as_admin.admin);
    assert!(!as_customer.admin);
}

#[test]
fn a_sub_that_is_not_a_uuid_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_cloudbash"))
        .args(["token", "--data-dir"])
        .arg(dir.path())
        .args(["--sub", "alice"])
        .output()
        .expect("cloudbash runs");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
}
