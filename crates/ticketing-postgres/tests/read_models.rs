//! The read models on a real PostgreSQL, fed the way the bus feeds them:
//! the real shop writes an embedded log, the bus delivers its events
//! shuffled, repeated and in batches through `sink::apply_delivery`, and the
//! queries must answer exactly as the embedded mode's SQLite read models do
//! for the same log — and must not change when events come again, when an
//! old event turns up late, or when every read model is rebuilt.

mod common;

use chrono::{Duration, NaiveDate};
use common::{Bus, Embedded, Rng, Subjects, TestError, TestResult, answers, assert_answers_equal, embedded, start};
use es_aws_bus::sink::{BusSink, Checkpoint, apply_delivery};
use es_core::{
    AggregateId, AppendRequest, EventStore, ExpectedVersion, Position, ProjectionError, RecordedEvent, Version,
};
use ticketing::{CONCERT_EVENT_TYPES, CustomerId, OrderId, VENUE_EVENT_TYPES};
use ticketing_app::queries::{
    AttendeeQueries, CatalogueQueries, ConcertSearch, ConcertStatusView, ConcertSummary, DailySales, OrderQueries,
    Page, QueryError, ReadProgress, SalesQueries, VenueQueries,
};
use ticketing_postgres::{PostgresQueries, PostgresReadModels, ReadModel, rebuild};
use ticketing_testkit::{Story, all_pages, concert, eur, evening, venue};

async fn story(embedded: &Embedded) -> Result<Story, TestError> {
    let story = ticketing_testkit::tell(&embedded.shop, &embedded.clock).await?;
    embedded.catch_up().await?;
    Ok(story)
}

fn subjects(embedded: &Embedded, story: &Story) -> Subjects {
    Subjects {
        venues: story.venues.clone(),
        concerts: vec![story.crabs.0, story.jazz.0, story.draft],
        customers: vec![story.buyer, story.browser, CustomerId(uuid::Uuid::from_u128(7))],
        orders: vec![story.first_order, story.second_order, OrderId(uuid::Uuid::from_u128(8))],
        searches: common::searches(
            &["crab", "Ancienne", "secret", "Jazz Brunch", "of the"],
            &["Brussels", "weteringschans", "dam", "110"],
            &["Rock", "jazz", "Ja"],
            &[evening(1).0, evening(10).0, evening(2).0, evening(1).0 + Duration::microseconds(500)],
        ),
        now: embedded.now(),
    }
}

/// The story, on both sides: the SQLite read models caught up, and fresh
/// PostgreSQL ones fed every event by a careless bus.
async fn fed() -> Result<(Embedded, Story, PostgresReadModels, PostgresQueries), TestError> {
    let embedded = embedded()?;
    let story = story(&embedded).await?;
    let read_models = common::read_models().await;
    let events = embedded.events_after(Position::START).await?;
    Bus::new("kinesis/test/shard-0").deliver(&read_models.sinks(), &*embedded.store, &events, &mut Rng::new(7)).await?;
    let queries = read_models.queries();
    Ok((embedded, story, read_models, queries))
}

fn names(page: &Page<ConcertSummary>) -> Vec<&str> {
    page.items.iter().map(|concert| concert.name.as_str()).collect()
}

async fn search(queries: &dyn CatalogueQueries, search: ConcertSearch) -> Result<Vec<String>, QueryError> {
    Ok(names(&queries.concerts(search).await?).into_iter().map(str::to_owned).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_answers_every_query_as_the_embedded_read_models_do() -> TestResult {
    let (embedded, story, _read_models, queries) = fed().await?;
    let subjects = subjects(&embedded, &story);
    let expected = answers(&embedded.read_side(), &subjects).await?;
    assert!(
        expected.orders.len() == 2
            && expected.searches[0][0].items.len() == 2
            && expected.drafts[0][0].items.len() == 1,
        "the story left something"
    );
    let actual = answers(&embedded.beside(&queries), &subjects).await?;
    assert_answers_equal(&expected, &actual, "the story");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_matches_names_places_dates_and_genres_of_published_concerts_only() -> TestResult {
    let (_embedded, _story, _read_models, queries) = fed().await?;
    let all = ConcertSearch::default();

    assert_eq!(search(&queries, all.clone()).await?, ["Night of the Crabs", "Jazz Brunch"], "the draft is hidden");
    let by = |q: &str| ConcertSearch { q: Some(q.into()), ..all.clone() };
    assert_eq!(search(&queries, by("CRAB")).await?, ["Night of the Crabs"]);
    assert_eq!(search(&queries, by("ancienne")).await?, ["Jazz Brunch"], "q matches the venue's name");
    assert!(search(&queries, by("secret")).await?.is_empty(), "q finds no draft");
    assert!(search(&queries, by("%")).await?.is_empty(), "a wildcard is taken literally");
    let at = |place: &str| ConcertSearch { location: Some(place.into()), ..all.clone() };
    assert_eq!(search(&queries, at("brussels")).await?, ["Jazz Brunch"]);
    assert_eq!(search(&queries, at("weteringschans")).await?, ["Night of the Crabs"], "location matches the address");
    let (first_start, _) = evening(1);
    let (second_start, _) = evening(10);
    let until_first = ConcertSearch { to: Some(first_start), ..all.clone() };
    assert_eq!(search(&queries, until_first).await?, ["Night of the Crabs"], "to is inclusive");
    let from_second = ConcertSearch { from: Some(second_start), ..all.clone() };
    assert_eq!(search(&queries, from_second).await?, ["Jazz Brunch"], "from is inclusive");
    let between = ConcertSearch { from: Some(evening(2).0), to: Some(evening(9).0), ..all.clone() };
    assert!(search(&queries, between).await?.is_empty());
    let jazz = ConcertSearch { genre: Some("JAZZ".into()), ..all.clone() };
    assert_eq!(search(&queries, jazz).await?, ["Jazz Brunch"]);
    let partial_genre = ConcertSearch { genre: Some("Ja".into()), ..all.clone() };
    assert!(search(&queries, partial_genre).await?.is_empty(), "genre matches exactly");

    let first = queries.concerts(ConcertSearch { limit: Some(1), ..all.clone() }).await?;
    assert_eq!(names(&first), ["Night of the Crabs"]);
    assert_eq!(first.items[0].venue.city, "Amsterdam");
    let cursor = first.next_cursor.clone().ok_or("a first page of one has a next cursor")?;
    let second = queries.concerts(ConcertSearch { limit: Some(1), cursor: Some(cursor), ..all.clone() }).await?;
    assert_eq!(names(&second), ["Jazz Brunch"]);
    assert_eq!(second.next_cursor, None, "the last page has no cursor");
    for cursor in ["not hex", "7c6e6f742d612d75756964", &hex("not a time|00000000-0000-0000-0000-000000000001")] {
        let invalid = queries.concerts(ConcertSearch { cursor: Some(cursor.to_owned()), ..all.clone() }).await;
        assert!(matches!(invalid, Err(QueryError::InvalidCursor)), "{cursor}: {invalid:?}");
    }
    let venues = queries.venues(None, Some(1)).await?;
    assert_eq!(venues.items.iter().map(|venue| venue.name.as_str()).collect::<Vec<_>>(), ["Ancienne Belgique"]);
    let rest = queries.venues(venues.next_cursor, None).await?;
    assert_eq!(rest.items.iter().map(|venue| venue.city.as_str()).collect::<Vec<_>>(), ["Amsterdam"]);
    Ok(())
}

fn hex(text: &str) -> String {
    text.bytes().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concerts_orders_attendees_and_sales_show_what_happened() -> TestResult {
    let (_embedded, story, _read_models, queries) = fed().await?;
    assert_eq!(queries.position().await?, Position::START, "the bus has no position to report");

    assert_eq!(queries.concert(story.draft, false).await?, None, "drafts are hidden from buyers");
    let draft = queries.concert(story.draft, true).await?.ok_or("organisers see drafts")?;
    assert_eq!(draft.status, ConcertStatusView::Draft);

    let crabs = queries.concert(story.crabs.0, false).await?.ok_or("a published concert")?;
    assert_eq!(crabs.status, ConcertStatusView::Published);
    assert_eq!(crabs.venue.name, "Paradiso");
    assert_eq!(crabs.ticket_types.len(), 1);
    assert_eq!(crabs.ticket_types[0].price, eur(2_500));
    assert_eq!(crabs.ticket_types[0].available, 100 - 3 - 1 - 4, "sold and held tickets are not available");
    let jazz = queries.concert(story.jazz.0, false).await?.ok_or("a published concert")?;
    assert_eq!(jazz.ticket_types[0].available, 98);

    let order = queries.order(story.first_order).await?.ok_or("the order")?;
    assert_eq!(order.customer_id, story.buyer);
    assert_eq!(order.total, eur(3 * 2_500 + 2 * 4_000));
    assert_eq!(order.tickets.len(), 5);
    assert_eq!(order.placed_at, start());
    let mine = queries.orders(Some(story.buyer)).await?;
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[1].id, story.first_order, "newest first");
    assert!(queries.orders(Some(story.browser)).await?.is_empty());
    assert_eq!(queries.orders(None).await?.len(), 2);

    let attendees = queries.attendees(story.crabs.0).await?;
    assert_eq!(attendees.len(), 4);
    let checked_in: Vec<_> = attendees.iter().filter_map(|attendee| attendee.checked_in_at).collect();
    assert_eq!(checked_in, [story.checked_in_at]);
    for attendee in &attendees {
        let code = ticketing::TicketCode::new(attendee.ticket_code.clone())?;
        assert_eq!(queries.ticket_order(&code).await?, Some(attendee.order_id), "the door finds the ticket's order");
    }

    let day = |d: u32| NaiveDate::from_ymd_opt(2030, 1, d).expect("a day");
    assert_eq!(queries.sales(story.crabs.0).await?, [sold(day(1), 3, eur(7_500)), sold(day(2), 1, eur(2_500))]);
    assert_eq!(queries.sales(story.jazz.0).await?, [sold(day(1), 2, eur(8_000))]);
    Ok(())
}

/// A day's sales with nothing paid back.
fn sold(day: NaiveDate, tickets_sold: u64, revenue: ticketing::Money) -> DailySales {
    DailySales { day, tickets_sold, revenue, tickets_refunded: 0, refunded: eur(0) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivering_every_event_again_changes_no_answer() -> TestResult {
    let (embedded, story, read_models, queries) = fed().await?;
    let subjects = subjects(&embedded, &story);
    let before = answers(&embedded.beside(&queries), &subjects).await?;
    let events = embedded.events_after(Position::START).await?;
    for sink in read_models.sinks() {
        // Past `prepare`, straight to the sink: only the version guards stop it.
        sink.apply(&events, None).await?;
        let reversed: Vec<RecordedEvent> = events.iter().rev().cloned().collect();
        sink.apply(&reversed, None).await?;
        assert_eq!(apply_delivery(&*sink, &*embedded.store, events.clone(), None).await?, 0, "{}", sink.name());
    }
    Bus::new("kinesis/test/shard-1")
        .deliver(&read_models.sinks(), &*embedded.store, &events, &mut Rng::new(11))
        .await?;
    assert_answers_equal(&before, &answers(&embedded.beside(&queries), &subjects).await?, "after every event again");
    Ok(())
}

/// The events of one aggregate, from the log.
async fn stream(embedded: &Embedded, aggregate: AggregateId) -> Result<Vec<RecordedEvent>, TestError> {
    Ok(embedded.store.load(aggregate, Version::INITIAL, 1_000).await?)
}

/// A copy of `event` claiming another version and data.
fn forged(event: &RecordedEvent, version: Version, data: String) -> RecordedEvent {
    RecordedEvent { aggregate_version: version, data, event_id: es_core::EventId::random(), ..event.clone() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_at_or_below_the_applied_version_is_ignored_and_one_above_is_applied() -> TestResult {
    let (embedded, story, read_models, queries) = fed().await?;
    let concert = AggregateId::from(story.crabs.0);
    let events = stream(&embedded, concert).await?;
    let held = events.iter().find(|event| event.event_type == "TicketsHeld").ok_or("tickets were held")?;
    let applied = events.last().ok_or("the concert has events")?.aggregate_version;
    let sink = read_models.sink(ReadModel::TicketTypes);
    let available = |view: Option<ticketing_app::queries::ConcertView>| {
        view.and_then(|concert| concert.ticket_types.first().map(|ticket_type| ticket_type.available))
    };
    assert_eq!(available(queries.concert(story.crabs.0, false).await?), Some(92));

    let more = held.data.replace("\"quantity\":3", "\"quantity\":50");
    assert_ne!(more, held.data, "the forged hold differs");
    for version in [held.aggregate_version, applied] {
        sink.apply(&[forged(held, version, more.clone())], None).await?;
        assert_eq!(available(queries.concert(story.crabs.0, false).await?), Some(92), "version {version} came again");
    }
    assert_eq!(sink.applied_versions(&[concert]).await?.get(&concert), Some(&applied));

    sink.apply(&[forged(held, applied.next(), more)], None).await?;
    assert_eq!(available(queries.concert(story.crabs.0, false).await?), Some(42), "a newer version is applied");
    assert_eq!(sink.applied_versions(&[concert]).await?.get(&concert), Some(&applied.next()));
    Ok(())
}

fn raw(event_type: &str, data: &str) -> es_core::NewEvent {
    es_core::NewEvent {
        event_id: es_core::EventId::random(),
        event_type: event_type.into(),
        schema_version: 1,
        data: data.into(),
        created: start(),
        metadata: es_core::Metadata::default(),
    }
}

async fn checkpoint_count(read_models: &PostgresReadModels) -> Result<i64, TestError> {
    let (count,): (i64,) = sqlx_core::query_as::query_as("SELECT count(*) FROM bus_checkpoints")
        .fetch_one(common::pool(read_models))
        .await?;
    Ok(count)
}

async fn applied_count(read_models: &PostgresReadModels) -> Result<i64, TestError> {
    let (count,): (i64,) = sqlx_core::query_as::query_as("SELECT count(*) FROM applied_versions")
        .fetch_one(common::pool(read_models))
        .await?;
    Ok(count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_delivery_leaves_neither_rows_nor_versions_nor_checkpoint() -> TestResult {
    let embedded = embedded()?;
    let read_models = common::read_models().await;
    let queries = read_models.queries();
    venue(&embedded.shop, "Paradiso", "Weteringschans 6", "Amsterdam").await?;
    let broken = AggregateId::random();
    let request = AppendRequest::single(broken, ExpectedVersion::Any, vec![raw("VenueCreated", r#"{"name":1}"#)]);
    embedded.store.append(request).await?;
    let events = embedded.events_after(Position::START).await?;
    assert_eq!(events.len(), 2);

    let checkpoint = Checkpoint { key: "kinesis/test/shard-0".into(), value: "41".into() };
    for sink in read_models.sinks() {
        let result = apply_delivery(&*sink, &*embedded.store, events.clone(), Some(&checkpoint)).await;
        if sink.name() == ReadModel::Venues.name() || sink.name() == ReadModel::Catalogue.name() {
            assert!(matches!(result, Err(ProjectionError::Apply { .. })), "{}: {result:?}", sink.name());
            assert_eq!(sink.checkpoint(&checkpoint.key).await?, None, "{}", sink.name());
        } else {
            assert_eq!(result?, 0, "{} reads no venue", sink.name());
            assert_eq!(sink.checkpoint(&checkpoint.key).await?, Some("41".into()), "{}", sink.name());
        }
    }
    assert!(queries.venues(None, None).await?.items.is_empty(), "the good venue of the failed batch is not shown");
    assert_eq!(applied_count(&read_models).await?, 0, "no version guard moved");
    assert_eq!(checkpoint_count(&read_models).await?, 4, "only the read models that took the batch moved on");

    let good = vec![events[0].clone()];
    for sink in read_models.sinks() {
        apply_delivery(&*sink, &*embedded.store, good.clone(), Some(&checkpoint)).await?;
        assert_eq!(sink.checkpoint(&checkpoint.key).await?, Some("41".into()), "{}", sink.name());
    }
    assert_eq!(queries.venues(None, None).await?.items.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_unknown_types_are_skipped() -> TestResult {
    let (embedded, story, read_models, queries) = fed().await?;
    let subjects = subjects(&embedded, &story);
    let before = answers(&embedded.beside(&queries), &subjects).await?;
    let stranger = AggregateId::random();
    let request = AppendRequest::single(stranger, ExpectedVersion::Any, vec![raw("NewsletterSent", "{}")]);
    let head = embedded.store.head().await?;
    embedded.store.append(request).await?;
    let events = embedded.events_after(head).await?;
    for sink in read_models.sinks() {
        assert!(!sink.reads(&events[0]), "{} reads no newsletter", sink.name());
        assert_eq!(apply_delivery(&*sink, &*embedded.store, events.clone(), None).await?, 0);
        sink.apply(&events, None).await?;
    }
    assert_eq!(queries.applied_version(stranger).await?, None);
    assert_answers_equal(&before, &answers(&embedded.beside(&queries), &subjects).await?, "after a newsletter");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilding_gives_the_same_answers_and_forgets_the_bus_checkpoints() -> TestResult {
    let (embedded, story, read_models, queries) = fed().await?;
    let subjects = subjects(&embedded, &story);
    let before = answers(&embedded.beside(&queries), &subjects).await?;
    assert!(checkpoint_count(&read_models).await? > 0);
    let head = embedded.store.head().await?;

    assert_eq!(rebuild(read_models.pool(), &[ReadModel::Sales, ReadModel::Catalogue], &*embedded.store).await?, head);
    assert_answers_equal(&before, &answers(&embedded.beside(&queries), &subjects).await?, "two read models rebuilt");
    assert_eq!(read_models.sink(ReadModel::Sales).checkpoint("kinesis/test/shard-0").await?, None);
    assert!(read_models.sink(ReadModel::Orders).checkpoint("kinesis/test/shard-0").await?.is_some());

    assert_eq!(read_models.rebuild_all(&*embedded.store).await?, head);
    assert_answers_equal(&before, &answers(&embedded.beside(&queries), &subjects).await?, "every read model rebuilt");
    assert_eq!(checkpoint_count(&read_models).await?, 0);
    let applied = applied_count(&read_models).await?;
    assert_eq!(queries.applied_version(story.first_order.into()).await?, Some(Version(2)));

    // Rebuilding an empty database's read models from the log gives the same answers too.
    let fresh = common::read_models().await;
    assert_eq!(fresh.rebuild_all(&*embedded.store).await?, head);
    assert_answers_equal(&before, &answers(&embedded.beside(&fresh.queries()), &subjects).await?, "a fresh rebuild");
    assert_eq!(applied_count(&fresh).await?, applied);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_version_is_what_every_read_model_of_the_aggregates_kind_has_applied() -> TestResult {
    let (embedded, story, _read_models, queries) = fed().await?;
    assert_eq!(queries.applied_version(story.first_order.into()).await?, Some(Version(2)), "placed and checked in");
    assert_eq!(queries.applied_version(story.second_order.into()).await?, Some(Version(1)));
    for aggregate in [AggregateId::from(story.crabs.0), AggregateId::from(story.venues[0])] {
        let newest = stream(&embedded, aggregate).await?.last().ok_or("events")?.aggregate_version;
        assert_eq!(queries.applied_version(aggregate).await?, Some(newest));
    }
    assert_eq!(queries.applied_version(AggregateId::random()).await?, None, "an unknown aggregate");
    let cart = AggregateId::from(ticketing::CartId::of(story.browser));
    assert_eq!(queries.applied_version(cart).await?, None, "carts are not read here");

    // Fed to the orders read model only, an order is not yet applied everywhere.
    let partial = common::read_models().await;
    let order_events = stream(&embedded, story.first_order.into()).await?;
    apply_delivery(&partial.sink(ReadModel::Orders), &*embedded.store, order_events.clone(), None).await?;
    let partial_queries = partial.queries();
    assert_eq!(partial_queries.applied_version(story.first_order.into()).await?, None);
    for model in [ReadModel::Attendees, ReadModel::Sales] {
        apply_delivery(&partial.sink(model), &*embedded.store, order_events[..1].to_vec(), None).await?;
    }
    assert_eq!(partial_queries.applied_version(story.first_order.into()).await?, Some(Version(1)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concert_shows_once_both_it_and_its_venue_have_arrived_in_either_order() -> TestResult {
    let embedded = embedded()?;
    let story = story(&embedded).await?;
    let subjects = subjects(&embedded, &story);
    let expected = answers(&embedded.read_side(), &subjects).await?;
    let read_models = common::read_models().await;
    let queries = read_models.queries();
    let events = embedded.events_after(Position::START).await?;
    let of = |types: &[&str]| -> Vec<RecordedEvent> {
        events.iter().filter(|event| types.contains(&event.event_type.as_str())).cloned().collect()
    };
    let catalogue = read_models.sink(ReadModel::Catalogue);
    apply_delivery(&catalogue, &*embedded.store, of(&CONCERT_EVENT_TYPES), None).await?;
    assert!(queries.concerts(ConcertSearch::default()).await?.items.is_empty(), "no venue yet");
    assert_eq!(queries.concert(story.crabs.0, true).await?, None, "no venue yet");
    apply_delivery(&catalogue, &*embedded.store, of(&VENUE_EVENT_TYPES), None).await?;
    for sink in read_models.sinks() {
        apply_delivery(&*sink, &*embedded.store, events.clone(), None).await?;
    }
    assert_answers_equal(&expected, &answers(&embedded.beside(&queries), &subjects).await?, "concerts before venues");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_name_and_place_can_use_the_trigram_indexes() -> TestResult {
    let (_embedded, _story, read_models, _queries) = fed().await?;
    let mut connection = read_models.pool().acquire().await?;
    sqlx_core::query::query("SET enable_seqscan = off").execute(&mut *connection).await?;
    for (sql, index) in [
        ("EXPLAIN SELECT concert_id FROM catalogue WHERE lower(name) LIKE $1", "catalogue_by_name"),
        ("EXPLAIN SELECT venue_id FROM catalogue_venues WHERE lower(city) LIKE $1", "catalogue_venues_by_city"),
    ] {
        let plan: Vec<(String,)> =
            sqlx_core::query_as::query_as(sql).bind("%crab%").fetch_all(&mut *connection).await?;
        let plan: Vec<String> = plan.into_iter().map(|(line,)| line).collect();
        assert!(plan.iter().any(|line| line.contains(index)), "{sql} does not use {index}: {plan:#?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_outside_ascii_sort_and_match_as_in_the_embedded_mode() -> TestResult {
    let embedded = embedded()?;
    let shop = &embedded.shop;
    let mut venues = Vec::new();
    let mut concerts = Vec::new();
    for (index, (venue_name, city, title)) in [
        ("Église Saint-Eustache", "Paris", "Ünïcode Nights"),
        ("Zénith", "Paris", "ÉTÉ Festival"),
        ("arena", "Köln", "Straße Party"),
        ("Arena", "KÖLN", "ascii only"),
    ]
    .into_iter()
    .enumerate()
    {
        let venue_id = venue(shop, venue_name, "Rue 1", city).await?;
        venues.push(venue_id);
        concerts.push(concert(shop, venue_id, title, "Chanson", 1 + index as u32, 1_000, true).await?.0);
    }
    embedded.catch_up().await?;
    let read_models = common::read_models().await;
    let events = embedded.events_after(Position::START).await?;
    Bus::new("kinesis/test/shard-0").deliver(&read_models.sinks(), &*embedded.store, &events, &mut Rng::new(3)).await?;
    let subjects = Subjects {
        venues,
        concerts,
        searches: common::searches(
            &["église", "ÉGLISE", "Église", "ünïcode", "NIGHTS", "été", "straße", "STRASSE", "arena"],
            &["köln", "KÖLN", "Köln", "paris"],
            &["chanson"],
            &[],
        ),
        now: embedded.now(),
        ..Subjects::default()
    };
    let expected = answers(&embedded.read_side(), &subjects).await?;
    let église = &expected.searches
        [subjects.searches.iter().position(|s| s.q.as_deref() == Some("église")).ok_or("a search")?];
    assert!(église[0].items.is_empty(), "the embedded mode lowers ASCII only: é does not match É");
    let actual = answers(&embedded.beside(&read_models.queries()), &subjects).await?;
    assert_answers_equal(&expected, &actual, "names outside ASCII");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_loses_to_a_concurrent_transaction_runs_again_a_bounded_number_of_times() -> TestResult {
    use ticketing_postgres::limits::APPLY_ATTEMPTS_MAX;
    let embedded = embedded()?;
    venue(&embedded.shop, "Paradiso", "Weteringschans 6", "Amsterdam").await?;
    let events = embedded.events_after(Position::START).await?;
    let read_models = common::read_models().await;
    // Triggers that lose the way a deadlock or a serialization failure
    // does; sequences count the attempts (they are not rolled back).
    for statement in [
        "CREATE SEQUENCE venue_attempts",
        "CREATE FUNCTION lose_twice() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF nextval('venue_attempts') <= 2 THEN RAISE EXCEPTION 'lost' USING ERRCODE = 'deadlock_detected'; END IF; \
         RETURN NEW; END $$",
        "CREATE TRIGGER lose_twice BEFORE INSERT ON venues FOR EACH ROW EXECUTE FUNCTION lose_twice()",
        "CREATE SEQUENCE catalogue_attempts",
        "CREATE FUNCTION lose_always() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         PERFORM nextval('catalogue_attempts'); \
         RAISE EXCEPTION 'lost' USING ERRCODE = 'serialization_failure'; END $$",
        "CREATE TRIGGER lose_always BEFORE INSERT ON catalogue_venues FOR EACH ROW EXECUTE FUNCTION lose_always()",
    ] {
        sqlx_core::query::query(statement).execute(read_models.pool()).await?;
    }
    let checkpoint = Checkpoint { key: "kinesis/test/shard-0".into(), value: "1".into() };

    let venues = read_models.sink(ReadModel::Venues);
    apply_delivery(&venues, &*embedded.store, events.clone(), Some(&checkpoint)).await?;
    assert_eq!(attempts(&read_models, "venue_attempts").await?, 3, "lost twice, then applied");
    assert_eq!(read_models.queries().venues(None, None).await?.items.len(), 1);
    assert_eq!(venues.checkpoint(&checkpoint.key).await?, Some("1".into()));

    let catalogue = read_models.sink(ReadModel::Catalogue);
    let lost = apply_delivery(&catalogue, &*embedded.store, events, Some(&checkpoint)).await;
    assert!(matches!(lost, Err(ProjectionError::Store(es_core::StoreError::Unavailable(_)))), "{lost:?}");
    assert_eq!(attempts(&read_models, "catalogue_attempts").await?, i64::from(APPLY_ATTEMPTS_MAX), "bounded");
    assert_eq!(catalogue.checkpoint(&checkpoint.key).await?, None);
    Ok(())
}

/// How often a sequence of the test's triggers was advanced.
async fn attempts(read_models: &PostgresReadModels, sequence: &str) -> Result<i64, TestError> {
    let (count,): (i64,) = sqlx_core::query_as::query_as(&format!("SELECT last_value FROM {sequence}"))
        .fetch_one(read_models.pool())
        .await?;
    Ok(count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_attendees_page_in_sql_as_the_embedded_read_models_page_them() -> TestResult {
    let (embedded, story, _read_models, queries) = fed().await?;
    let sqlite = &*embedded.queries;
    for limit in [Some(1), Some(3), None] {
        for customer in [None, Some(story.buyer)] {
            let orders = all_pages(|cursor| queries.orders_page(customer, cursor, limit)).await?;
            let expected = all_pages(|cursor| sqlite.orders_page(customer, cursor, limit)).await?;
            assert_eq!(orders, expected, "orders of {customer:?}, {limit:?} a page");
        }
        let attendees = all_pages(|cursor| queries.attendees_page(story.crabs.0, cursor, limit)).await?;
        let expected = all_pages(|cursor| sqlite.attendees_page(story.crabs.0, cursor, limit)).await?;
        assert_eq!(attendees, expected, "attendees, {limit:?} a page");
        assert_eq!(attendees.iter().map(|page| page.items.len()).sum::<usize>(), 4);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_concerts_refunds_answer_as_the_embedded_read_models_do() -> TestResult {
    let embedded = embedded()?;
    let story = story(&embedded).await?;
    let refunded_at = ticketing_testkit::cancel_jazz(&embedded.shop, &embedded.clock, &story).await?;
    embedded.catch_up().await?;
    let read_models = common::read_models().await;
    let events = embedded.events_after(Position::START).await?;
    Bus::new("kinesis/test/shard-0")
        .deliver(&read_models.sinks(), &*embedded.store, &events, &mut Rng::new(11))
        .await?;
    let queries = read_models.queries();

    let subjects = subjects(&embedded, &story);
    let expected = answers(&embedded.read_side(), &subjects).await?;
    let actual = answers(&embedded.beside(&queries), &subjects).await?;
    assert_answers_equal(&expected, &actual, "the story with a cancellation");
    assert_eq!(queries.sales(story.jazz.0).await?, ticketing_testkit::jazz_sales_after_refund(refunded_at));
    assert!(queries.attendees(story.jazz.0).await?.is_empty(), "paid back: nobody holds a jazz ticket");
    let order = queries.order(story.first_order).await?.ok_or("the order")?;
    assert_eq!((order.status, order.tickets.len()), (ticketing::OrderStatus::Paid, 3), "its crabs tickets stay");
    Ok(())
}
