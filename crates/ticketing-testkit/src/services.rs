//! The local services the tests run against, started by
//! `scripts/services.sh`: the AWS emulators and a throwaway PostgreSQL
//! server. A test without them fails with a message that says how to start
//! them; it never skips, and never talks to a real AWS account.

use sqlx_core::connection::{ConnectOptions, Connection};
use sqlx_postgres::PgConnectOptions;

/// Fails unless the endpoint in `variable` (e.g.
/// `AWS_ENDPOINT_URL_DYNAMODB`) is a local emulator.
pub fn assert_local(variable: &str) {
    let endpoint = std::env::var(variable).unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"),
        "{variable} must point at a local emulator (got {endpoint:?}); run the tests through scripts/test.sh, \
         or `. scripts/services.sh` first"
    );
}

/// Creates an empty database named `<prefix>_<random>` on the test server
/// (`CLOUDBASH_TEST_DATABASE_URL`, its admin database); its URL.
pub async fn fresh_database(prefix: &str) -> String {
    let url = std::env::var("CLOUDBASH_TEST_DATABASE_URL").unwrap_or_default();
    assert!(
        !url.is_empty(),
        "CLOUDBASH_TEST_DATABASE_URL must point at a throwaway PostgreSQL server (its admin database); \
         run the tests through scripts/test.sh, or `. scripts/services.sh` first"
    );
    let admin: PgConnectOptions = url.parse().expect("CLOUDBASH_TEST_DATABASE_URL is a PostgreSQL URL");
    let mut connection = admin.connect().await.expect("the test server answers");
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    sqlx_core::query::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .expect("a database for this test");
    connection.close().await.expect("closes");
    let (base, _admin_database) = url.rsplit_once('/').expect("the URL names a database");
    format!("{base}/{name}")
}
