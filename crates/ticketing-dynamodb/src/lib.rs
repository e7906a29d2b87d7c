//! # ticketing-dynamodb: carts as key-value items
//!
//! The seed keeps carts in DynamoDB: a cart is read by its customer's id
//! and nothing else, so one item per cart (`CartId`, the cart aggregate's
//! id) holding its items is all the read side needs.
//!
//! The items are fed from the bus ([`es_aws_bus::sink::BusSink`]). Each
//! cart item records `Version`, the last cart event applied, and every
//! write is conditioned on it: two consumers applying the same delivery
//! cannot interleave, and a delivery older than the item changes nothing.
//! Bus positions (checkpoints of a poller) are items of the same table,
//! written after the carts they cover: writes are idempotent, so a crash in
//! between only repeats work.

mod carts;

pub use carts::{CARTS_KEY, DynamoDbCarts, create_carts_table};
