//! The stand-in for an event source mapping on the events table's stream: reads every shard from its start with the
//! DynamoDB Streams API and cuts it into batches, each a stream event exactly as Lambda delivers one. The forwarder
//! and the indexer are both handed these, as their mappings would hand them the real stream.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use es_dynamodb::DynamoDbEventStore;
use serde_json::{Value, json};

/// The whole stream of `store`'s events table, oldest first per shard, in batches of at most `batch_size` records.
pub async fn stream_batches(sdk: &SdkConfig, store: &DynamoDbEventStore, batch_size: i32) -> Vec<DynamoDbEvent> {
    let described = store.client().describe_table().table_name(&store.tables().events).send().await.expect("table");
    let arn = described.table().and_then(|table| table.latest_stream_arn()).expect("the table has a stream").to_owned();
    let streams = aws_sdk_dynamodbstreams::Client::new(sdk);
    let stream = streams.describe_stream().stream_arn(&arn).send().await.expect("describe the stream");
    let shards: Vec<String> = stream
        .stream_description()
        .expect("a description")
        .shards()
        .iter()
        .filter_map(|shard| shard.shard_id().map(str::to_owned))
        .collect();
    let mut batches = Vec::new();
    for shard in shards {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("an iterator")
            .shard_iterator;
        while let Some(current) = iterator.take() {
            let got = streams.get_records().shard_iterator(current).limit(batch_size).send().await.expect("records");
            if got.records().is_empty() {
                break;
            }
            let records: Vec<Value> = got.records().iter().map(|record| stream_record_json(record, &arn)).collect();
            batches.push(serde_json::from_value(json!({ "Records": records })).expect("a DynamoDB stream event"));
            iterator = got.next_shard_iterator().map(str::to_owned);
        }
    }
    batches
}

/// One stream record as Lambda delivers it.
fn stream_record_json(record: &Record, arn: &str) -> Value {
    let change = record.dynamodb().expect("a change");
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|name| name.as_str()),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": arn,
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_971_600.0,
            "Keys": image_json(change.keys().unwrap_or(&HashMap::new())),
            "NewImage": image_json(change.new_image().unwrap_or(&HashMap::new())),
            "SequenceNumber": change.sequence_number(),
            "SizeBytes": change.size_bytes(),
            "StreamViewType": "NEW_IMAGE",
        },
    })
}

/// A stream image in the JSON of a Lambda event (the events table holds strings and numbers only).
fn image_json(image: &HashMap<String, AttributeValue>) -> Value {
    let attributes = image
        .iter()
        .map(|(name, value)| {
            let value = match value {
                AttributeValue::S(text) => json!({ "S": text }),
                AttributeValue::N(number) => json!({ "N": number }),
                other => panic!("the events table holds strings and numbers only, not {other:?}"),
            };
            (name.clone(), value)
        })
        .collect::<serde_json::Map<_, _>>();
    Value::Object(attributes)
}
