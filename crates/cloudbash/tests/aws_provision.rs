//! `cloudbash aws provision` run as a developer runs it, against the local
//! emulators started by `scripts/services.sh`: it creates the tables and
//! the stream or queues, and a second run changes nothing and succeeds.

use std::process::Command;

use ticketing_testkit::services::assert_local;

fn provision(args: &[&str]) -> String {
    for variable in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_SQS"] {
        assert_local(variable);
    }
    let output = Command::new(env!("CARGO_BIN_EXE_cloudbash"))
        .args(["aws", "provision"])
        .args(args)
        .output()
        .expect("cloudbash runs");
    assert!(output.status.success(), "provision failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

async fn config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

#[tokio::test]
async fn provisioning_kinesis_creates_tables_and_stream_and_is_safe_twice() {
    let (events, carts, stream) = (unique("events"), unique("carts"), unique("stream"));
    let args = ["--events-table", &events, "--carts-table", &carts, "--bus", "kinesis", "--stream", &stream];
    let first = provision(&args);
    let second = provision(&args);
    assert_eq!(first, second, "the second run reports the same, ready resources");

    let config = config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    for table in [events.clone(), format!("{events}-log"), format!("{events}-index"), carts] {
        let described = dynamodb.describe_table().table_name(&table).send().await.expect("the table exists");
        assert!(described.table().is_some(), "{table}");
    }
    let described = dynamodb.describe_table().table_name(&events).send().await.expect("events table");
    let stream_spec = described.table().and_then(|table| table.stream_specification()).expect("a stream");
    assert_eq!(stream_spec.stream_view_type(), Some(&aws_sdk_dynamodb::types::StreamViewType::NewImage));

    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let shards = kinesis.list_shards().stream_name(&stream).send().await.expect("the stream exists");
    assert_eq!(shards.shards().len(), 2, "two shards by default");
}

#[tokio::test]
async fn provisioning_sqs_fifo_creates_one_queue_per_subscriber() {
    let (events, carts, prefix) = (unique("events"), unique("carts"), unique("bus"));
    let args = [
        "--events-table",
        &events,
        "--carts-table",
        &carts,
        "--bus",
        "sqs-fifo",
        "--stream",
        &prefix,
        "--subscribers",
        "carts,read-models",
    ];
    provision(&args);
    provision(&args);
    let sqs = aws_sdk_sqs::Client::new(&config().await);
    for subscriber in ["carts", "read-models"] {
        let name = format!("{prefix}-{subscriber}.fifo");
        let url = sqs.get_queue_url().queue_name(&name).send().await.expect("the queue exists");
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(url.queue_url().expect("a URL"))
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::FifoQueue)
            .send()
            .await
            .expect("attributes");
        let fifo = attributes.attributes().and_then(|map| map.get(&aws_sdk_sqs::types::QueueAttributeName::FifoQueue));
        assert_eq!(fifo.map(String::as_str), Some("true"), "{name} is FIFO");
    }
}

/// One flag list serves `serve` and `provision`: provisioning accepts every
/// flag `serve` takes (the embedded host's and the read database's too).
#[tokio::test]
async fn provisioning_takes_the_same_flags_as_serve() {
    let (events, carts, stream) = (unique("events"), unique("carts"), unique("stream"));
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = data_dir.path().to_str().expect("a UTF-8 path");
    let serve_flags = [
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        data_dir,
        "--dev-sign-in",
        "--event-store",
        "dynamodb",
        "--read-db",
        "postgres",
        "--database-url",
        "postgres://shop@127.0.0.1:1/shop",
        "--cart-store",
        "dynamodb",
        "--events-table",
        &events,
        "--carts-table",
        &carts,
        "--bus",
        "kinesis",
        "--stream",
        &stream,
        "--shards",
        "1",
    ];
    provision(&serve_flags);
    let kinesis = aws_sdk_kinesis::Client::new(&config().await);
    let shards = kinesis.list_shards().stream_name(&stream).send().await.expect("the stream exists");
    assert_eq!(shards.shards().len(), 1, "the flags were read, not ignored");
}
