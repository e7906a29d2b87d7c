//! The organiser's handlers: venues and concerts, their schedules and ticket
//! types. Scheduling, publishing and cancelling change the concert and its
//! venue's booking together, in one append, so that two concerts can never
//! hold the same room at the same time. A concert that sells from buckets
//! takes them along in that append too ([`ticketing::bucket::following`]):
//! they open on publication, follow a reschedule and close on cancellation.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use es_core::{AggregateId, CommandContext, Loaded};
use ticketing::{
    Concert, ConcertCommand, ConcertError, ConcertId, ConcertProfile, DetailsUpdate, Money, Name, NewConcert, Quantity,
    TicketTypeId, VenueCommand, VenueError, VenueId, VenueProfile,
};

use ticketing::bucket;

use crate::error::{AppError, AttemptError, rejected};
use crate::shop::{Batch, Reads, Shop, decide, load, missing};

/// What an organiser gives to create a concert; the venue's capacity is
/// copied from the venue by [`Shop::create_concert`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConcertForm {
    /// Its name.
    pub name: Name,
    /// Where it takes place: an existing venue that is not deleted.
    pub venue_id: VenueId,
    /// What it tells buyers about itself.
    pub profile: ConcertProfile,
}

impl Shop {
    /// Creates a venue; returns its new id.
    pub async fn create_venue(&self, context: &CommandContext, profile: VenueProfile) -> Result<VenueId, AppError> {
        let venue_id = VenueId::from(AggregateId::random());
        let job = Arc::new((context.clone(), VenueCommand::Create(profile)));
        self.run(context, "create_venue", &[venue_id.into()], move |shop, reads| {
            let job = Arc::clone(&job);
            Box::pin(async move {
                let (context, command) = &*job;
                let venue = load(shop.venues(), venue_id, reads).await?;
                let mut batch = Batch::new(context);
                batch.add(shop.venues(), &venue, &decide(&venue, command)?)?;
                Ok(batch.finish(venue_id))
            })
        })
        .await
    }

    /// Deletes a venue, unless a published concert still has to take place
    /// there.
    pub async fn delete_venue(&self, context: &CommandContext, venue_id: VenueId) -> Result<(), AppError> {
        let job = Arc::new((context.clone(), VenueCommand::Delete { now: self.now() }));
        self.run(context, "delete_venue", &[venue_id.into()], move |shop, reads| {
            let job = Arc::clone(&job);
            Box::pin(async move {
                let (context, command) = &*job;
                let venue = load(shop.venues(), venue_id, reads).await?;
                let mut batch = Batch::new(context);
                batch.add(shop.venues(), &venue, &decide(&venue, command)?)?;
                Ok(batch.finish(()))
            })
        })
        .await
    }

    /// Creates a draft concert at an existing venue, copying the venue's
    /// capacity; returns its new id. The venue's version is asserted in the
    /// same append, so a venue deleted meanwhile refuses the concert.
    pub async fn create_concert(&self, context: &CommandContext, form: ConcertForm) -> Result<ConcertId, AppError> {
        let concert_id = ConcertId::from(AggregateId::random());
        let venue_id = form.venue_id;
        let job = Arc::new((context.clone(), form));
        self.run(context, "create_concert", &[concert_id.into(), venue_id.into()], move |shop, reads| {
            let job = Arc::clone(&job);
            Box::pin(async move {
                let (context, form) = &*job;
                let venue = load(shop.venues(), venue_id, reads).await?;
                if venue.state.is_deleted() {
                    return Err(rejected(VenueError::Deleted));
                }
                let Some(profile) = venue.state.profile() else {
                    return Err(missing("venue"));
                };
                let command = ConcertCommand::Create(NewConcert {
                    name: form.name.clone(),
                    venue_id,
                    venue_capacity: profile.capacity,
                    profile: form.profile.clone(),
                });
                let concert = load(shop.concerts(), concert_id, reads).await?;
                let mut batch = Batch::new(context);
                batch.add(shop.concerts(), &concert, &decide(&concert, &command)?)?;
                batch.add(shop.venues(), &venue, &[])?;
                Ok(batch.finish(concert_id))
            })
        })
        .await
    }

    /// Changes a concert's details.
    pub async fn update_concert_details(
        &self,
        context: &CommandContext,
        concert_id: ConcertId,
        update: DetailsUpdate,
    ) -> Result<(), AppError> {
        self.concert_only(context, "update_concert_details", concert_id, ConcertCommand::UpdateDetails(update)).await
    }

    /// Sets or moves a concert's dates and books its venue for them, in one
    /// append: of two overlapping concerts at one venue, only one gets in.
    pub async fn schedule_concert(
        &self,
        context: &CommandContext,
        concert_id: ConcertId,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let venue_id = self.venue_of(concert_id).await?;
        let schedule = ConcertCommand::Schedule { starts_at, ends_at, now: self.now() };
        let book = VenueCommand::Book { concert_id, starts_at, ends_at };
        self.with_venue(context, "schedule_concert", concert_id, venue_id, schedule, move |_| Some(book.clone())).await
    }

    /// Offers a ticket type on a draft concert; returns its new id.
    pub async fn add_ticket_type(
        &self,
        context: &CommandContext,
        concert_id: ConcertId,
        name: Name,
        price: Money,
        quantity: Quantity,
    ) -> Result<TicketTypeId, AppError> {
        let ticket_type_id = TicketTypeId(uuid::Uuid::now_v7());
        let job = Arc::new((context.clone(), ConcertCommand::AddTicketType { ticket_type_id, name, price, quantity }));
        self.run(context, "add_ticket_type", &[concert_id.into()], move |shop, reads| {
            let job = Arc::clone(&job);
            Box::pin(async move {
                let (context, command) = &*job;
                let concert = load(shop.concerts(), concert_id, reads).await?;
                let mut batch = Batch::new(context);
                batch.add(shop.concerts(), &concert, &decide(&concert, command)?)?;
                Ok(batch.finish(ticket_type_id))
            })
        })
        .await
    }

    /// Withdraws a ticket type none of whose tickets are held or sold.
    pub async fn remove_ticket_type(
        &self,
        context: &CommandContext,
        concert_id: ConcertId,
        ticket_type_id: TicketTypeId,
    ) -> Result<(), AppError> {
        self.concert_only(
            context,
            "remove_ticket_type",
            concert_id,
            ConcertCommand::RemoveTicketType { ticket_type_id },
        )
        .await
    }

    /// Puts a draft on sale and marks its venue booking published, in one
    /// append.
    pub async fn publish_concert(&self, context: &CommandContext, concert_id: ConcertId) -> Result<(), AppError> {
        let venue_id = self.venue_of(concert_id).await?;
        let publish = ConcertCommand::Publish { now: self.now(), buckets: self.buckets_per_concert() };
        let mark = VenueCommand::MarkBookingPublished { concert_id };
        self.with_venue(context, "publish_concert", concert_id, venue_id, publish, move |_| Some(mark.clone())).await
    }

    /// Calls a concert off and frees its venue booking (if it was ever
    /// scheduled), in one append.
    pub async fn cancel_concert(&self, context: &CommandContext, concert_id: ConcertId) -> Result<(), AppError> {
        let venue_id = self.venue_of(concert_id).await?;
        let release = VenueCommand::ReleaseBooking { concert_id };
        self.with_venue(context, "cancel_concert", concert_id, venue_id, ConcertCommand::Cancel, move |venue| {
            venue.bookings().contains_key(&concert_id).then(|| release.clone())
        })
        .await
    }

    /// The venue a concert takes place at (it never changes).
    async fn venue_of(&self, concert_id: ConcertId) -> Result<VenueId, AppError> {
        for reads in [Reads::Cached, Reads::Fresh] {
            let concert = load(self.concerts(), concert_id, reads).await?;
            if let Some(details) = concert.state.details() {
                return Ok(details.venue_id);
            }
        }
        Err(AppError::Rejected { kind: ConcertError::NotFound.kind(), message: ConcertError::NotFound.to_string() })
    }

    /// A command on one concert alone.
    async fn concert_only(
        &self,
        context: &CommandContext,
        name: &'static str,
        concert_id: ConcertId,
        command: ConcertCommand,
    ) -> Result<(), AppError> {
        let job = Arc::new((context.clone(), command));
        self.run(context, name, &[concert_id.into()], move |shop, reads| {
            let job = Arc::clone(&job);
            Box::pin(async move {
                let (context, command) = &*job;
                let concert = load(shop.concerts(), concert_id, reads).await?;
                let mut batch = Batch::new(context);
                shop.concert_and_buckets(&mut batch, concert_id, &concert, command, reads).await?;
                Ok(batch.finish(()))
            })
        })
        .await
    }

    /// A command on a concert together with one on its venue (`venue_command`
    /// returns `None` when the venue has nothing to do).
    async fn with_venue(
        &self,
        context: &CommandContext,
        name: &'static str,
        concert_id: ConcertId,
        venue_id: VenueId,
        concert_command: ConcertCommand,
        venue_command: impl Fn(&ticketing::Venue) -> Option<VenueCommand> + Send + Sync + 'static,
    ) -> Result<(), AppError> {
        let job = Arc::new((context.clone(), concert_command, venue_command));
        self.run(context, name, &[concert_id.into(), venue_id.into()], move |shop, reads| {
            let job = Arc::clone(&job);
            Box::pin(async move {
                let (context, concert_command, venue_command) = &*job;
                let concert = load(shop.concerts(), concert_id, reads).await?;
                let venue = load(shop.venues(), venue_id, reads).await?;
                let mut batch = Batch::new(context);
                shop.concert_and_buckets(&mut batch, concert_id, &concert, concert_command, reads).await?;
                let venue_events = match venue_command(&venue.state) {
                    Some(command) => decide(&venue, &command)?,
                    None => Vec::new(),
                };
                batch.add(shop.venues(), &venue, &venue_events)?;
                Ok(batch.finish(()))
            })
        })
        .await
    }

    /// Records `command` on the concert and what its buckets must do with it.
    async fn concert_and_buckets(
        &self,
        batch: &mut Batch,
        concert_id: ConcertId,
        concert: &Loaded<Concert>,
        command: &ConcertCommand,
        reads: Reads<'_>,
    ) -> Result<(), AttemptError> {
        batch.add(self.concerts(), concert, &decide(concert, command)?)?;
        for (bucket_id, bucket_command) in bucket::following(concert_id, &concert.state, command) {
            let bucket = load(self.buckets(), bucket_id, reads).await?;
            batch.add(self.buckets(), &bucket, &decide(&bucket, &bucket_command)?)?;
        }
        Ok(())
    }
}
