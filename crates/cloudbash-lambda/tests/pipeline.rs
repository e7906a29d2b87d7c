//! The serverless pipeline end to end, on the local emulators, with the functions called in-process as Lambda
//! would call them: API Gateway events → the `api` function → the events table (moto) → its stream, read with the
//! DynamoDB Streams API and handed to the `forwarder` as a stream event → Kinesis (kinesis-local), read with
//! GetRecords and handed to the `projector` as a Kinesis event → PostgreSQL and the carts table → a GET through the
//! `api` function shows the concert. The same stream, handed to the `indexer`, gives the log its order, which hold
//! expiry reads. The stand-ins for the event source mappings build the events exactly as the mappings send them;
//! nothing else is mocked.

mod support;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use cloudbash_lambda::{Config, Function, Resources, forwarder, hold_expiry, indexer, projector};
use es_core::{AggregateId, AppendRequest, EventId, EventStore, ExpectedVersion, Metadata, NewEvent, Position};
use es_dynamodb::{Tables, create_tables};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use support::bus::bus_batches;
use support::streams::stream_batches;
use support::{Identity, concert_on_sale, expect_api, http_api_event};

/// Records per batch, as a mapping's `BatchSize` (small, so that the stream arrives in several batches).
const BATCH_SIZE: i32 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concert_created_through_the_api_reaches_the_read_models_over_the_bus() {
    let sdk = support::sdk_config().await;
    let config = support::fresh_stack(&sdk).await;
    let resources = Resources::with_sdk_config(config, sdk.clone());
    // The `migrate` function, invoked by hand (not as a custom resource), prepares the database.
    let migrated = cloudbash_lambda::migrate::handle(&resources, json!({})).await.expect("migrates");
    assert_eq!(migrated, json!({"migrated": true}));

    let admin = Identity::admin();
    let (concert_id, _) = concert_on_sale(&resources, &admin, 100).await;

    // Nothing is projected yet: the concert is only in the log.
    let public =
        http_api_event(&Identity::Anonymous, "GET", "/concerts/{concertId}", &[("concertId", &concert_id)], "", None);
    expect_api(&resources, &public, StatusCode::NOT_FOUND).await;

    let forwarded = forward_the_log_s_stream(&resources, &sdk).await;
    assert!(
        forwarded >= 5,
        "venue, concert, ticket type, schedule (with the venue's booking), publication: {forwarded}"
    );
    let projected = project_the_bus(&resources, &sdk).await;
    assert_eq!(projected, forwarded, "every forwarded event is on the bus once");

    let concert = expect_api(&resources, &public, StatusCode::OK).await;
    assert_eq!(concert["id"], json!(concert_id));
    assert_eq!(concert["name"], json!("Night of the Crabs"));
    assert_eq!(concert["status"], json!("published"), "{concert}");
    let listed = expect_api(
        &resources,
        &http_api_event(&Identity::Anonymous, "GET", "/concerts", &[], "q=crabs", None),
        StatusCode::OK,
    )
    .await;
    let ids: Vec<&Value> = listed["items"].as_array().expect("items").iter().map(|item| &item["id"]).collect();
    assert_eq!(ids, [&json!(concert_id)]);

    // Projecting the same bus again (a replayed batch) changes nothing.
    assert_eq!(project_the_bus(&resources, &sdk).await, projected);
    assert_eq!(expect_api(&resources, &public, StatusCode::OK).await, concert);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_customer_disables_their_account_in_the_user_pool_and_refuses_their_purchases() {
    let sdk = support::sdk_config().await;
    ticketing_testkit::services::assert_local("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER");
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let pool = cognito.create_user_pool().pool_name(support::unique_name("shop")).send().await.expect("a pool");
    let pool_id = pool.user_pool().and_then(|pool| pool.id()).expect("its id").to_owned();
    let user = cognito.admin_create_user().user_pool_id(&pool_id).username("ann").send().await.expect("a user");
    let attributes = user.user().map(|user| user.attributes()).unwrap_or_default();
    let sub = attributes.iter().find(|attribute| attribute.name() == "sub").and_then(|sub| sub.value());
    let sub: uuid::Uuid = sub.expect("a subject").parse().expect("a UUID");
    let config = Config { user_pool_id: Some(pool_id.clone()), ..support::fresh_stack(&sdk).await };
    let resources = Resources::with_sdk_config(config, sdk);
    let admin = Identity::admin();
    let (concert_id, ticket_type_id) = concert_on_sale(&resources, &admin, 10).await;

    let path = [("customerId", sub.to_string())];
    let path: Vec<(&str, &str)> = path.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let disable = http_api_event(&admin, "POST", "/customers/{customerId}/disable", &path, "", None);
    expect_api(&resources, &disable, StatusCode::OK).await;

    let enabled = cognito.admin_get_user().user_pool_id(&pool_id).username("ann").send().await.expect("ann");
    assert!(!enabled.enabled(), "the account is disabled in the pool");
    let ann = Identity::Verified { sub, groups: None };
    let item = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": 1});
    let reserve = http_api_event(&ann, "POST", "/cart/items", &[], "", Some(&item));
    expect_api(&resources, &reserve, StatusCode::FORBIDDEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_route_without_the_gateway_s_claims_is_refused() {
    let sdk = support::sdk_config().await;
    let resources = Resources::with_sdk_config(support::fresh_stack(&sdk).await, sdk);
    let body = json!({"name": "Paradiso", "address": "Weteringschans 6", "city": "Amsterdam", "capacity": 1500});

    let anonymous = http_api_event(&Identity::Anonymous, "POST", "/venues", &[], "", Some(&body));
    expect_api(&resources, &anonymous, StatusCode::UNAUTHORIZED).await;
    let customer = http_api_event(&Identity::customer(), "POST", "/venues", &[], "", Some(&body));
    expect_api(&resources, &customer, StatusCode::FORBIDDEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hold_expiry_function_releases_the_holds_the_read_model_shows_run_out_a_bounded_number_of_concerts_a_run() {
    let sdk = support::sdk_config().await;
    let resources = Resources::with_sdk_config(support::fresh_stack(&sdk).await, sdk.clone());
    cloudbash_lambda::migrate::handle(&resources, json!({})).await.expect("migrates");
    let admin = Identity::admin();
    let mut concerts = Vec::new();
    for _ in 0..3 {
        concerts.push(concert_on_sale(&resources, &admin, 100).await);
    }
    // Abandoned holds: several fans per concert reserve and never check out.
    for (concert_id, ticket_type_id) in &concerts {
        for _ in 0..3 {
            let reserve = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": 2});
            let fan = Identity::customer();
            let request = http_api_event(&fan, "POST", "/cart/items", &[], "", Some(&reserve));
            expect_api(&resources, &request, StatusCode::CREATED).await;
        }
    }
    // The read models learn of the holds over the bus; hold expiry asks them, never the log.
    forward_the_log_s_stream(&resources, &sdk).await;
    project_the_bus(&resources, &sdk).await;

    let early = hold_expiry::run(&resources, Utc::now(), 2).await.expect("a run");
    assert_eq!((early.expired, early.failed, early.concerts_left), (0, 0, 0), "nothing has run out yet");

    let later = Utc::now() + Duration::minutes(20);
    // The holds are kept by the concerts' buckets: at least one keeper per concert, at most one per hold.
    let first = hold_expiry::run(&resources, later, 2).await.expect("a run");
    assert!(
        first.expired >= 2 && first.failed == 0 && first.concerts_left >= 1,
        "two keepers of three or more: {first:?}"
    );
    forward_the_log_s_stream(&resources, &sdk).await;
    project_the_bus(&resources, &sdk).await;
    let second = hold_expiry::handle(&resources, later).await.expect("a run");
    assert_eq!((first.expired + second.expired, second.concerts_left), (9, 0), "the second run releases the rest");

    forward_the_log_s_stream(&resources, &sdk).await;
    project_the_bus(&resources, &sdk).await;
    let again = hold_expiry::run(&resources, later, 2).await.expect("a run");
    assert_eq!(again.expired, 0, "an expired hold is expired once");
    for (concert_id, _) in &concerts {
        let concert = expect_api(
            &resources,
            &http_api_event(&admin, "GET", "/concerts/{concertId}", &[("concertId", concert_id)], "", None),
            StatusCode::OK,
        )
        .await;
        assert_eq!(concert["ticketTypes"][0]["available"], concert["ticketTypes"][0]["quantity"], "{concert}");
    }
}

/// A sale that leaves a thousand holds abandoned on one concert (kept by its buckets): one run of the function
/// releases them all, whatever the log's length, and a second finds nothing left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_of_the_hold_expiry_function_releases_a_thousand_abandoned_holds() {
    const HOLDS: usize = 1_000;
    let sdk = support::sdk_config().await;
    let resources = Resources::with_sdk_config(support::fresh_stack(&sdk).await, sdk.clone());
    cloudbash_lambda::migrate::handle(&resources, json!({})).await.expect("migrates");
    let (concert_id, ticket_type_id) = concert_on_sale(&resources, &Identity::admin(), HOLDS as u32).await;
    let shop = resources.shop().await.expect("the shop");
    let concert_id = ticketing::ConcertId(concert_id.parse().expect("a uuid"));
    let ticket_type_id = ticketing::TicketTypeId(ticket_type_id.parse().expect("a uuid"));
    let one = ticketing::Quantity::new(1).expect("a quantity");
    // Fans reserve side by side, as the API's containers would, and never check out.
    futures_util::stream::iter(0..HOLDS)
        .map(|_| async {
            let fan = ticketing::CustomerId(uuid::Uuid::new_v4());
            shop.reserve(&es_core::CommandContext::default(), fan, concert_id, ticket_type_id, one).await
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .expect("every fan holds a ticket");
    forward_in_batches_of(&resources, &sdk, 100).await;
    project_in_batches_of(&resources, &sdk, 100).await;

    let later = Utc::now() + Duration::minutes(20);
    let run = hold_expiry::handle(&resources, later).await.expect("a run");
    assert_eq!((run.expired, run.failed, run.concerts_left), (HOLDS, 0, 0));
    forward_in_batches_of(&resources, &sdk, 100).await;
    project_in_batches_of(&resources, &sdk, 100).await;
    let again = hold_expiry::handle(&resources, later).await.expect("a run");
    assert_eq!(again.expired, 0, "an expired hold is expired once");
    let concert = expect_api(
        &resources,
        &http_api_event(
            &Identity::admin(),
            "GET",
            "/concerts/{concertId}",
            &[("concertId", &concert_id.to_string())],
            "",
            None,
        ),
        StatusCode::OK,
    )
    .await;
    assert_eq!(concert["ticketTypes"][0]["available"], HOLDS, "{concert}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexer_positions_each_event_of_the_stream_once_in_the_index_table_it_is_given() {
    let sdk = support::sdk_config().await;
    // An index table that is not named after the events table: the function finds it through CLOUDBASH_INDEX_TABLE.
    let events = support::unique_name("lambda-events");
    let tables = Tables { log: format!("{events}-log"), index: support::unique_name("lambda-index"), events };
    create_tables(&aws_sdk_dynamodb::Client::new(&sdk), &tables).await.expect("the log's tables");
    let config = Config {
        function: Function::Indexer,
        events_table: Some(tables.events.clone()),
        log_table: None,
        index_table: Some(tables.index.clone()),
        carts_table: None,
        stream_name: None,
        database: None,
        buckets_per_concert: 0,
        user_pool_id: None,
    };
    let resources = Resources::with_sdk_config(config, sdk.clone());
    let store = resources.store().await.expect("the log");
    assert_eq!(store.tables(), &tables);

    // Two events of one aggregate in one append, then one of another.
    let (first, second) = (AggregateId::random(), AggregateId::random());
    for (id, events) in [(first, vec![counted(1), counted(2)]), (second, vec![counted(1)])] {
        store.append(AppendRequest::single(id, ExpectedVersion::NoStream, events)).await.expect("appends");
    }

    index_the_log_s_stream(&resources, &sdk).await;
    let indexed = store.read_indexed(Position::START, 10).await.expect("the index reads");
    let positioned: Vec<(u64, AggregateId, u64)> =
        indexed.iter().map(|event| (event.position.0, event.aggregate_id, event.aggregate_version.0)).collect();
    assert_eq!(positioned.iter().map(|(position, ..)| *position).collect::<Vec<_>>(), [1, 2, 3], "{positioned:?}");
    let mut events: Vec<(AggregateId, u64)> = positioned.iter().map(|(_, id, version)| (*id, *version)).collect();
    let of_first: Vec<u64> = events.iter().filter(|(id, _)| *id == first).map(|(_, version)| *version).collect();
    assert_eq!(of_first, [1, 2], "an aggregate's events in version order");
    events.sort();
    let mut expected = vec![(first, 1), (first, 2), (second, 1)];
    expected.sort();
    assert_eq!(events, expected, "each event once");

    // The mapping delivers again (a retry, a restart from the trim horizon): nothing moves.
    index_the_log_s_stream(&resources, &sdk).await;
    assert_eq!(store.read_indexed(Position::START, 10).await.expect("the index reads"), indexed);
    assert_eq!(store.indexed_head().await.expect("the head"), Position(3));
}

/// A new event for an append.
fn counted(n: u32) -> NewEvent {
    NewEvent {
        event_id: EventId::random(),
        event_type: "Counted".into(),
        schema_version: 1,
        data: format!("{{\"n\":{n}}}"),
        created: es_core::truncate_to_millis(Utc::now()),
        metadata: Metadata::default(),
    }
}

/// The stand-in for the forwarder's event source mapping: hands the whole stream of the events table to the
/// `forwarder` in batches. Returns the records forwarded.
async fn forward_the_log_s_stream(resources: &Resources, sdk: &aws_config::SdkConfig) -> usize {
    forward_in_batches_of(resources, sdk, BATCH_SIZE).await
}

/// [`forward_the_log_s_stream`] in batches of `size`.
async fn forward_in_batches_of(resources: &Resources, sdk: &aws_config::SdkConfig, size: i32) -> usize {
    let store = resources.store().await.expect("the log");
    let mut forwarded = 0;
    for event in stream_batches(sdk, store, size).await {
        forwarded += event.records.len();
        let response = forwarder::handle(resources, event).await.expect("the forwarder runs");
        assert!(response.batch_item_failures.is_empty(), "the forwarder failed a batch");
    }
    forwarded
}

/// The stand-in for the indexer's event source mapping: hands the whole stream of the events table (again, when
/// called again: the indexer drops what it positioned) to the `indexer` in batches.
async fn index_the_log_s_stream(resources: &Resources, sdk: &aws_config::SdkConfig) {
    let store = resources.store().await.expect("the log");
    for event in stream_batches(sdk, store, BATCH_SIZE).await {
        let response = indexer::handle(resources, event).await.expect("the indexer runs");
        assert!(response.batch_item_failures.is_empty(), "the indexer failed a batch");
    }
}

/// The stand-in for the projector's event source mapping: reads every shard of the bus from its start with
/// GetRecords and hands it to the `projector` in batches, as Kinesis events. Returns the records projected.
async fn project_the_bus(resources: &Resources, sdk: &aws_config::SdkConfig) -> usize {
    project_in_batches_of(resources, sdk, BATCH_SIZE).await
}

/// [`project_the_bus`] in batches of `size`.
async fn project_in_batches_of(resources: &Resources, sdk: &aws_config::SdkConfig, size: i32) -> usize {
    let mut projected = 0;
    for event in bus_batches(resources, sdk, size).await {
        projected += event.records.len();
        let response = projector::handle(resources, event).await.expect("the projector runs");
        assert!(response.batch_item_failures.is_empty(), "the projector failed a batch");
    }
    projected
}
