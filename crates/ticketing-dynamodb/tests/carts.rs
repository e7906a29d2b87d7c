//! The carts read model on the DynamoDB emulator (moto,
//! `AWS_ENDPOINT_URL_DYNAMODB`), fed the way the bus feeds it: real cart
//! events appended to a DynamoDB log, delivered with duplicates and gaps
//! through [`es_aws_bus::sink::apply_delivery`].

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use es_aws_bus::sink::{BusSink, Checkpoint, apply_delivery};
use es_core::{
    AggregateId, AppendRequest, DomainEvent, EventId, EventStore, ExpectedVersion, Metadata, NewEvent, RecordedEvent,
    Version,
};
use es_dynamodb::{DynamoDbEventStore, Tables, create_tables};
use ticketing::{CartEvent, CartId, ConcertId, Currency, CustomerId, HoldId, Money, OrderId, Quantity, TicketTypeId};
use ticketing_app::queries::CartQueries;
use ticketing_dynamodb::{DynamoDbCarts, create_carts_table};

async fn config() -> aws_config::SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"),
        "AWS_ENDPOINT_URL_DYNAMODB must point at the local emulator (got {endpoint:?}); run the tests through \
         scripts/test.sh, or `. scripts/services.sh` first"
    );
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

struct Fixture {
    log: Arc<DynamoDbEventStore>,
    carts: DynamoDbCarts,
}

async fn fixture() -> Fixture {
    let config = config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let tables = Tables::named(unique("cart-events"));
    create_tables(&client, &tables).await.expect("log tables");
    let table = unique("carts");
    create_carts_table(&client, &table).await.expect("carts table");
    create_carts_table(&client, &table).await.expect("creating it twice is fine");
    Fixture { log: Arc::new(DynamoDbEventStore::new(client.clone(), tables)), carts: DynamoDbCarts::new(client, table) }
}

fn euros(cents: u64) -> Money {
    Money::new(cents, Currency::new("EUR").expect("a currency"))
}

fn added(item: HoldId, quantity: u32, cents: u64, expires_in_minutes: i64) -> CartEvent {
    CartEvent::ItemAdded {
        item_id: item,
        concert_id: ConcertId(uuid::Uuid::new_v4()),
        ticket_type_id: TicketTypeId(uuid::Uuid::new_v4()),
        quantity: Quantity::new(quantity).expect("a quantity"),
        unit_price: euros(cents),
        expires_at: base_time() + Duration::minutes(expires_in_minutes),
        bucket: None,
    }
}

fn base_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 20, 0, 0).single().expect("a time")
}

/// Appends the events to the cart's stream, one append each.
async fn append(log: &dyn EventStore, cart: AggregateId, events: &[CartEvent]) -> Vec<RecordedEvent> {
    let start = log.load(cart, Version::INITIAL, 10_000).await.expect("load").len() as u64;
    for (index, event) in events.iter().enumerate() {
        let new = NewEvent {
            event_id: EventId::random(),
            event_type: event.event_type().to_owned(),
            schema_version: 1,
            data: event.encode().expect("encodes"),
            created: base_time(),
            metadata: Metadata::default(),
        };
        let expected = ExpectedVersion::Exact(Version(start + index as u64));
        log.append(AppendRequest::single(cart, expected, vec![new])).await.expect("append");
    }
    log.load(cart, Version(start), 10_000).await.expect("load")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_follows_its_events_and_shows_only_live_items_with_their_total() {
    let fixture = fixture().await;
    let customer = CustomerId(uuid::Uuid::new_v4());
    let cart = AggregateId::from(CartId::of(customer));
    let (first, second, third) =
        (HoldId(uuid::Uuid::new_v4()), HoldId(uuid::Uuid::new_v4()), HoldId(uuid::Uuid::new_v4()));
    let events = append(
        &*fixture.log,
        cart,
        &[added(first, 2, 3_500, 15), added(second, 1, 5_000, 15), added(third, 4, 1_000, -1)],
    )
    .await;
    let applied = apply_delivery(&fixture.carts, &*fixture.log, events, None).await.expect("applies");
    assert_eq!(applied, 3);

    let view = fixture.carts.cart(customer, base_time()).await.expect("a cart");
    let ids: Vec<HoldId> = view.items.iter().map(|item| item.id).collect();
    assert_eq!(ids, vec![first, second], "the expired item is not shown; the order of adding is kept");
    assert_eq!(view.total, Some(euros(2 * 3_500 + 5_000)));

    let removed = append(&*fixture.log, cart, &[CartEvent::ItemRemoved { item_id: first }]).await;
    apply_delivery(&fixture.carts, &*fixture.log, removed, None).await.expect("applies");
    let checked_out = append(
        &*fixture.log,
        cart,
        &[CartEvent::CheckedOut {
            order_id: OrderId(uuid::Uuid::new_v4()),
            item_ids: vec![second],
            total: euros(5_000),
        }],
    )
    .await;
    apply_delivery(&fixture.carts, &*fixture.log, checked_out, None).await.expect("applies");
    let view = fixture.carts.cart(customer, base_time()).await.expect("a cart");
    assert!(view.items.is_empty(), "removed and bought items are gone: {view:?}");
    assert_eq!(view.total, None);

    let unknown = fixture.carts.cart(CustomerId(uuid::Uuid::new_v4()), base_time()).await.expect("an empty cart");
    assert!(unknown.items.is_empty() && unknown.total.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_gaps_and_concurrent_consumers_change_nothing() {
    let fixture = fixture().await;
    let customer = CustomerId(uuid::Uuid::new_v4());
    let cart = AggregateId::from(CartId::of(customer));
    let items: Vec<HoldId> = (0..6).map(|_| HoldId(uuid::Uuid::new_v4())).collect();
    let mut all = Vec::new();
    for (index, item) in items.iter().enumerate() {
        all.extend(append(&*fixture.log, cart, &[added(*item, 1, 100 * (index as u64 + 1), 30)]).await);
    }
    all.extend(append(&*fixture.log, cart, &[CartEvent::ItemRemoved { item_id: items[1] }]).await);

    // The bus lost versions 2 and 3 and repeats version 1; two consumers
    // apply the same delivery at once.
    let damaged: Vec<RecordedEvent> = all
        .iter()
        .filter(|event| !matches!(event.aggregate_version.0, 2 | 3))
        .cloned()
        .chain([all[0].clone()])
        .collect();
    let (left, right) = tokio::join!(
        apply_delivery(&fixture.carts, &*fixture.log, damaged.clone(), None),
        apply_delivery(&fixture.carts, &*fixture.log, damaged.clone(), None),
    );
    left.expect("one consumer");
    right.expect("the other consumer");
    // And everything once more, later.
    assert_eq!(apply_delivery(&fixture.carts, &*fixture.log, all.clone(), None).await.expect("applies"), 0);

    let applied = fixture.carts.applied_versions(&[cart]).await.expect("versions");
    assert_eq!(applied.get(&cart), Some(&Version(7)));
    let view = fixture.carts.cart(customer, base_time()).await.expect("a cart");
    let shown: Vec<HoldId> = view.items.iter().map(|item| item.id).collect();
    let expected: Vec<HoldId> = items.iter().enumerate().filter(|(index, _)| *index != 1).map(|(_, id)| *id).collect();
    assert_eq!(shown, expected, "every item once, the removed one gone, in order");
    assert_eq!(view.total, Some(euros(100 + 300 + 400 + 500 + 600)));

    // A slow consumer that looked before the others wrote hands over old
    // versions directly: the cart does not go back in time.
    fixture.carts.apply(&all[..2], None).await.expect("applies");
    assert_eq!(fixture.carts.cart(customer, base_time()).await.expect("a cart"), view);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_cart_events_are_read_and_checkpoints_are_kept() {
    let fixture = fixture().await;
    let not_a_cart = RecordedEvent {
        position: es_core::Position(1),
        aggregate_id: AggregateId::random(),
        aggregate_version: Version(5),
        created: base_time(),
        event_type: "ConcertPublished".into(),
        data: "{}".into(),
        event_id: EventId::random(),
        schema_version: 1,
        metadata: Metadata::default(),
    };
    let checkpoint = Checkpoint { key: "kinesis/s/shard-0".into(), value: "49".into() };
    // A concert event is not looked up in the log (its stream does not even
    // exist there): the carts model does not read it.
    let applied =
        apply_delivery(&fixture.carts, &*fixture.log, vec![not_a_cart], Some(&checkpoint)).await.expect("applies");
    assert_eq!(applied, 0);
    assert_eq!(fixture.carts.checkpoint("kinesis/s/shard-0").await.expect("read"), Some("49".into()));
    assert_eq!(fixture.carts.checkpoint("kinesis/s/shard-1").await.expect("read"), None);
}
