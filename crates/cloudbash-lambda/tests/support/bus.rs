//! The stand-in for the projector's event source mapping: reads every shard of the bus from its start with
//! GetRecords and cuts it into batches, each a Kinesis event exactly as Lambda delivers one.

use aws_config::SdkConfig;
use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine;
use cloudbash_lambda::Resources;
use serde_json::{Value, json};

/// The whole bus of `resources`' stack, oldest first per shard, in batches of at most `size` records.
pub async fn bus_batches(resources: &Resources, sdk: &SdkConfig, size: i32) -> Vec<KinesisEvent> {
    let stream = resources.config().stream_name.clone().expect("a stream");
    let kinesis = aws_sdk_kinesis::Client::new(sdk);
    let shards = kinesis.list_shards().stream_name(&stream).send().await.expect("shards");
    let mut batches = Vec::new();
    for shard in shards.shards() {
        let shard = shard.shard_id();
        let mut iterator = kinesis
            .get_shard_iterator()
            .stream_name(&stream)
            .shard_id(shard)
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("an iterator")
            .shard_iterator()
            .map(str::to_owned);
        while let Some(current) = iterator.take() {
            let got = kinesis.get_records().shard_iterator(current).limit(size).send().await.expect("records");
            if got.records().is_empty() {
                break;
            }
            let records: Vec<Value> = got
                .records()
                .iter()
                .map(|record| {
                    json!({
                        "kinesis": {
                            "kinesisSchemaVersion": "1.0",
                            "partitionKey": record.partition_key(),
                            "sequenceNumber": record.sequence_number(),
                            "data": base64::engine::general_purpose::STANDARD.encode(record.data().as_ref()),
                            "approximateArrivalTimestamp": 1_795_971_600.5,
                        },
                        "eventSource": "aws:kinesis",
                        "eventVersion": "1.0",
                        "eventID": format!("{shard}:{}", record.sequence_number()),
                        "eventName": "aws:kinesis:record",
                        "invokeIdentityArn": "arn:aws:iam::123456789012:role/projector",
                        "awsRegion": "us-east-1",
                        "eventSourceARN": format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}"),
                    })
                })
                .collect();
            batches.push(serde_json::from_value(json!({ "Records": records })).expect("a Kinesis event"));
            iterator = got.next_shard_iterator().map(str::to_owned);
        }
    }
    batches
}
