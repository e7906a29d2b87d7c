//! Identifiers of the ticket shop. Each is its own UUID newtype so that a
//! concert id can never be passed where a venue id is meant. The domain
//! never makes ids: they arrive inside commands, minted at the edge (a UUID
//! v7 via `Uuid::now_v7()`, for index locality).

use es_core::AggregateId;

/// Ids that name an aggregate's stream convert to and from the log's
/// [`AggregateId`] (the same UUID).
macro_rules! aggregate_id {
    ($name:ident) => {
        impl From<$name> for AggregateId {
            fn from(value: $name) -> Self {
                AggregateId(value.0)
            }
        }

        impl From<AggregateId> for $name {
            fn from(value: AggregateId) -> Self {
                Self(value.0)
            }
        }
    };
}

es_core::uuid_newtype!(
    /// A venue: the id of its aggregate.
    VenueId
);
es_core::uuid_newtype!(
    /// A concert: the id of its aggregate.
    ConcertId
);
es_core::uuid_newtype!(
    /// A ticket type within a concert (not an aggregate of its own).
    TicketTypeId
);
es_core::uuid_newtype!(
    /// A cart: the id of its aggregate. Each customer has exactly one cart,
    /// reused after every checkout, and its id *is* the customer's id
    /// ([`CartId::of`]): no lookup is needed to find it, and two concurrent
    /// first requests cannot create two carts.
    CartId
);
es_core::uuid_newtype!(
    /// An order: the id of its aggregate.
    OrderId
);
es_core::uuid_newtype!(
    /// A customer (the identity provider's subject, as a UUID).
    CustomerId
);
es_core::uuid_newtype!(
    /// Tickets held for a cart on a concert. The cart item that the hold
    /// backs has the same id, so the two can be matched without a lookup.
    HoldId
);

es_core::uuid_newtype!(
    /// A share of a concert's tickets that sells on its own stream: the id
    /// of a [`crate::Bucket`]'s aggregate, derived from its concert and
    /// index ([`BucketId::of`]) so that every process finds the same
    /// buckets without a lookup.
    BucketId
);

aggregate_id!(VenueId);
aggregate_id!(BucketId);
aggregate_id!(ConcertId);
aggregate_id!(CartId);
aggregate_id!(OrderId);

impl CartId {
    /// The cart of `customer`: the same UUID.
    pub fn of(customer: CustomerId) -> CartId {
        CartId(customer.0)
    }

    /// The customer whose cart this is.
    pub fn customer(self) -> CustomerId {
        CustomerId(self.0)
    }
}

impl BucketId {
    /// Bucket `index` of `concert`: a name-based (v5) UUID in the concert's
    /// namespace, the same in every process and never another concert's.
    pub fn of(concert: ConcertId, index: u16) -> BucketId {
        BucketId(uuid::Uuid::new_v5(&concert.0, format!("bucket/{index}").as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn aggregate_ids_convert_to_and_from_the_log_id_unchanged() {
        let uuid = Uuid::from_u128(42);
        assert_eq!(AggregateId::from(ConcertId(uuid)), AggregateId(uuid));
        assert_eq!(VenueId::from(AggregateId(uuid)), VenueId(uuid));
    }

    #[test]
    fn a_cart_id_is_its_customer_id() {
        let customer = CustomerId(Uuid::from_u128(7));
        assert_eq!(CartId::of(customer).as_uuid(), customer.as_uuid());
        assert_eq!(CartId::of(customer).customer(), customer);
    }

    #[test]
    fn a_bucket_id_is_the_same_for_the_same_concert_and_index_and_differs_otherwise() {
        let concert = ConcertId(Uuid::from_u128(7));
        assert_eq!(BucketId::of(concert, 3), BucketId::of(concert, 3));
        assert_ne!(BucketId::of(concert, 3), BucketId::of(concert, 4));
        assert_ne!(BucketId::of(concert, 3), BucketId::of(ConcertId(Uuid::from_u128(8)), 3));
        assert_ne!(BucketId::of(concert, 0).as_uuid(), concert.as_uuid());
    }

    #[test]
    fn ids_round_trip_through_text_and_json() {
        let id = OrderId(Uuid::from_u128(9));
        assert_eq!(id.to_string().parse::<OrderId>().ok(), Some(id));
        assert_eq!(serde_json::to_string(&id).ok().as_deref(), Some(r#""00000000-0000-0000-0000-000000000009""#));
    }
}
