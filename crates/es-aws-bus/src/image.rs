//! DynamoDB stream records back into the log's records. A stream's
//! `NEW_IMAGE` is the item as the events table stored it; the two shapes it
//! arrives in (a Lambda event's JSON, the DynamoDB Streams API's types) are
//! turned into the events table's item type and decoded by the same code as
//! a read from the table ([`es_dynamodb::items::recorded_event`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use es_core::RecordedEvent;
use es_dynamodb::items::{Item, recorded_event};

use crate::BusError;

/// The stream record kind of a new item. The events table only ever gets
/// inserts; anything else is reported and skipped by the callers.
pub const INSERT: &str = "INSERT";

/// Decodes a `NEW_IMAGE` from a Lambda DynamoDB stream event.
pub fn from_lambda_image(image: &serde_dynamo::Item) -> Result<RecordedEvent, BusError> {
    let item: Item = image.iter().filter_map(|(name, value)| Some((name.clone(), lambda_value(value)?))).collect();
    decoded(&item)
}

/// Decodes a `NewImage` read with the DynamoDB Streams API.
pub fn from_streams_image(
    image: &HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
) -> Result<RecordedEvent, BusError> {
    let item: Item = image.iter().filter_map(|(name, value)| Some((name.clone(), streams_value(value)?))).collect();
    decoded(&item)
}

fn decoded(item: &Item) -> Result<RecordedEvent, BusError> {
    recorded_event(item).map_err(|error| BusError::Malformed(error.to_string()))
}

/// The event item uses strings and numbers only; other kinds are dropped
/// (and a required attribute missing is reported by the decoder).
fn lambda_value(value: &serde_dynamo::AttributeValue) -> Option<AttributeValue> {
    match value {
        serde_dynamo::AttributeValue::S(text) => Some(AttributeValue::S(text.clone())),
        serde_dynamo::AttributeValue::N(number) => Some(AttributeValue::N(number.clone())),
        _ => None,
    }
}

fn streams_value(value: &aws_sdk_dynamodbstreams::types::AttributeValue) -> Option<AttributeValue> {
    match value {
        aws_sdk_dynamodbstreams::types::AttributeValue::S(text) => Some(AttributeValue::S(text.clone())),
        aws_sdk_dynamodbstreams::types::AttributeValue::N(number) => Some(AttributeValue::N(number.clone())),
        _ => None,
    }
}
