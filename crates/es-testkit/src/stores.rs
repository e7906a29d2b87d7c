//! Cases for the small port beside the log: aggregate snapshots, a keyed
//! store with one rule about order (an older snapshot never replaces a newer
//! one, since snapshots are saved by tasks that may finish out of order).

use es_core::{AggregateId, Snapshot, Version};

use crate::BackendFactory;

/// A snapshot saved for an aggregate and kind loads back field for field; other
/// aggregates and kinds are independent; a newer snapshot replaces an older
/// one, and an older one saved late does not replace a newer one.
pub async fn snapshots_round_trip_per_aggregate_and_kind(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let snapshots = &*backend.snapshots;
    let (a, b) = (AggregateId::random(), AggregateId::random());
    let snapshot = |aggregate_id, kind: &str, version, state: &str| Snapshot {
        aggregate_id,
        kind: kind.to_owned(),
        version: Version(version),
        shape_version: 3,
        state: state.to_owned(),
    };
    assert_eq!(
        snapshots.load_snapshot(a, "account").await.expect("load_snapshot"),
        None,
        "a fresh backend has no snapshot"
    );

    let first = snapshot(a, "account", 100, r#"{"owner":"ada","balance":12,"note":"ünïcode ✓"}"#);
    snapshots.save_snapshot(first.clone()).await.expect("save_snapshot");
    assert_eq!(
        snapshots.load_snapshot(a, "account").await.expect("load_snapshot"),
        Some(first.clone()),
        "a saved snapshot loads back"
    );
    assert_eq!(snapshots.load_snapshot(a, "concert").await.expect("load_snapshot"), None, "kinds are independent");
    assert_eq!(snapshots.load_snapshot(b, "account").await.expect("load_snapshot"), None, "aggregates are independent");

    let other_kind = snapshot(a, "concert", 7, r#"{"seats":[1,2]}"#);
    snapshots.save_snapshot(other_kind.clone()).await.expect("save_snapshot");
    let newer = Snapshot { shape_version: 4, ..snapshot(a, "account", 200, r#"{"owner":"ada","balance":99}"#) };
    snapshots.save_snapshot(newer.clone()).await.expect("save_snapshot");
    assert_eq!(
        snapshots.load_snapshot(a, "account").await.expect("load_snapshot"),
        Some(newer.clone()),
        "a newer one replaces"
    );
    assert_eq!(
        snapshots.load_snapshot(a, "concert").await.expect("load_snapshot"),
        Some(other_kind),
        "another kind is untouched"
    );

    snapshots.save_snapshot(snapshot(a, "account", 150, r#"{"late":true}"#)).await.expect("save_snapshot");
    assert_eq!(
        snapshots.load_snapshot(a, "account").await.expect("load_snapshot"),
        Some(newer),
        "an older snapshot saved late does not replace a newer one"
    );

    let large = snapshot(b, "account", 1, &format!(r#"{{"pad":"{}"}}"#, "x".repeat(300 * 1024)));
    snapshots.save_snapshot(large.clone()).await.expect("save_snapshot");
    assert_eq!(
        snapshots.load_snapshot(b, "account").await.expect("load_snapshot"),
        Some(large),
        "large states round-trip"
    );
}
