//! Every bound the functions keep, in one place, with the reason for its size.

use std::time::Duration;

/// Connections of one container's pool to the read-model database. A container serves one invocation at a time;
/// the projector applies a batch to several read models at once, so a few connections let them overlap, while
/// hundreds of containers times this number stay within what a small RDS instance accepts.
pub const DATABASE_CONNECTIONS_MAX: u32 = 4;

/// How long an invocation waits for a database connection before failing (and being retried by its source).
pub const DATABASE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a container reads the database's password again. RDS rotates the master password it keeps in Secrets
/// Manager (weekly by default); connections opened after a rotation need the new one, so a warm container rereads
/// it this often (a Secrets Manager call costs little), and at worst opens no new connection for this long.
pub const DATABASE_SECRET_REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Concerts one hold-expiry run sweeps (each is a read and one append per run-out hold); the rest wait a minute.
pub const HOLD_EXPIRY_CONCERTS_PER_RUN_MAX: usize = 200;

/// Values of one metric in one embedded-metric-format document (CloudWatch's limit); more make more documents.
pub const EMF_VALUES_PER_METRIC_MAX: usize = 100;

/// Metrics in one embedded-metric-format document (CloudWatch's limit).
pub const EMF_METRICS_PER_DOCUMENT_MAX: usize = 100;

/// Dimensions of a metric (CloudWatch's limit): `Function` and the metric's labels; a metric with more is dropped.
pub const EMF_DIMENSIONS_MAX: usize = 30;

/// How long the migration waits for CloudFormation's ResponseURL to take its answer.
pub const CLOUDFORMATION_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts to deliver the answer to CloudFormation: a stack that never hears back waits for an hour, or until its
/// ServiceTimeout.
pub const CLOUDFORMATION_ANSWER_ATTEMPTS_MAX: u32 = 3;

/// CloudFormation refuses a response body above 4 KiB; a failure's reason is cut to fit well within it.
pub const CLOUDFORMATION_REASON_BYTES_MAX: usize = 1_024;

/// How long the migration may run before the function answers FAILED: CloudFormation must hear back before the
/// function's own time limit ends it without an answer.
pub const MIGRATION_DURATION_MAX: Duration = Duration::from_secs(80);

/// The `migrate` function's `Timeout` in deploy/template.yaml.
const MIGRATE_FUNCTION_TIMEOUT: Duration = Duration::from_secs(120);

// The migration, then every attempt at answering with its pauses (0.2 + 0.4 + 0.8 s), end before the function's
// time does.
const _: () = assert!(
    MIGRATION_DURATION_MAX.as_secs()
        + CLOUDFORMATION_ANSWER_TIMEOUT.as_secs() * CLOUDFORMATION_ANSWER_ATTEMPTS_MAX as u64
        + 2
        < MIGRATE_FUNCTION_TIMEOUT.as_secs()
);
