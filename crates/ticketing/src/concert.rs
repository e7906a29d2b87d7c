//! A concert: its details, its schedule, the ticket types it offers, and the
//! inventory of each ticket type. The inventory lives in the concert because
//! "never sell more tickets than there are" is a rule over all buyers at
//! once: every hold and every sale appends to the concert's stream, so the
//! version check lets only one of two racing buyers take the last ticket.
//!
//! Tickets are first *held* for a cart for [`limits::HOLD_MINUTES`] (story
//! TS06), then *sold* at checkout, or released when the buyer removes them
//! or the hold expires. For each ticket type `held + sold <= quantity`
//! always. The concert keeps the live holds (so that it can refuse unknown,
//! expired or settled ones) but only *counts* of sold tickets: the tickets
//! themselves belong to orders, so the state stays small after 100 000 sales.
//!
//! The concert's parts each have a module: its state ([`state`]), its commands and how it decides them
//! ([`decide`]), its events ([`events`]), its refusals ([`errors`]), the holds it shares with buckets
//! ([`holds`]) and the profile it keeps for buyers without deciding on it ([`profile`]). Here they are joined
//! into one [`Aggregate`].

use es_core::Aggregate;

mod decide;
mod errors;
mod events;
mod holds;
mod profile;
mod state;
#[cfg(test)]
mod tests;

pub use decide::{ConcertCommand, DetailsUpdate, HoldRequest, NewConcert};
pub use errors::ConcertError;
pub use events::{CONCERT_EVENT_TYPES, ConcertEvent, SoldHold};
pub(crate) use holds::{CountChange, HoldBook, count};
pub use profile::{AgeLimit, ConcertProfile};
pub use state::{Concert, ConcertDetails, ConcertStatus, Hold, Schedule, TicketType};

impl Aggregate for Concert {
    const KIND: &'static str = "concert";

    type Event = ConcertEvent;
    type Command = ConcertCommand;
    type Error = ConcertError;

    fn decide(&self, command: &ConcertCommand) -> Result<Vec<ConcertEvent>, ConcertError> {
        if let ConcertCommand::Create(new) = command {
            return self.decide_create(new);
        }
        let Some(details) = &self.details else {
            return Err(ConcertError::NotFound);
        };
        // Holds can always be given back, so that carts can let go of a
        // cancelled concert's tickets.
        let settles_a_hold = matches!(command, ConcertCommand::ReleaseHold { .. } | ConcertCommand::ExpireHold { .. });
        if self.status == ConcertStatus::Cancelled && !settles_a_hold {
            return Err(ConcertError::Cancelled);
        }
        match command {
            ConcertCommand::Create(_) => Err(ConcertError::AlreadyExists),
            ConcertCommand::UpdateDetails(update) => self.decide_update(update),
            ConcertCommand::Schedule { starts_at, ends_at, now } => self.decide_schedule(*starts_at, *ends_at, *now),
            ConcertCommand::AddTicketType { ticket_type_id, name, price, quantity } => {
                self.decide_add_ticket_type(details, *ticket_type_id, name, *price, *quantity)
            }
            ConcertCommand::RemoveTicketType { ticket_type_id } => self.decide_remove_ticket_type(*ticket_type_id),
            ConcertCommand::Publish { now, buckets } => self.decide_publish(*now, *buckets),
            ConcertCommand::Cancel => Ok(vec![ConcertEvent::Cancelled {}]),
            ConcertCommand::HoldTickets(request) => self.decide_hold(request),
            ConcertCommand::ReleaseHold { hold_id } => Ok(vec![self.holds.decide_release(*hold_id)?]),
            ConcertCommand::ExpireHold { hold_id, now } => Ok(vec![self.holds.decide_expire(*hold_id, *now)?]),
            ConcertCommand::SellHeldTickets { hold_ids, order_id, now } => {
                Ok(vec![self.holds.decide_sell(hold_ids, *order_id, *now)?])
            }
            ConcertCommand::AwaitPayment { hold_ids, order_id, until, now } => {
                Ok(vec![self.holds.decide_await_payment(hold_ids, *order_id, *until, *now)?])
            }
        }
    }

    fn evolve(&mut self, event: &ConcertEvent) {
        match event {
            ConcertEvent::Created { name, venue_id, venue_capacity, profile } => {
                self.details = Some(ConcertDetails {
                    name: name.clone(),
                    venue_id: *venue_id,
                    venue_capacity: *venue_capacity,
                    profile: profile.clone(),
                });
                self.status = ConcertStatus::Draft;
            }
            ConcertEvent::DetailsUpdated { name, profile } => {
                if let Some(details) = &mut self.details {
                    if let Some(name) = name {
                        details.name = name.clone();
                    }
                    details.profile = details.profile.changed_by(profile);
                }
            }
            ConcertEvent::Scheduled { starts_at, ends_at } => {
                self.schedule = Some(Schedule { starts_at: *starts_at, ends_at: *ends_at });
            }
            ConcertEvent::TicketTypeAdded { ticket_type_id, name, price, quantity } => {
                self.ticket_types.push(TicketType {
                    id: *ticket_type_id,
                    name: name.clone(),
                    price: *price,
                    quantity: *quantity,
                    held: 0,
                    sold: 0,
                });
            }
            ConcertEvent::TicketTypeRemoved { ticket_type_id } => {
                self.ticket_types.retain(|ticket_type| ticket_type.id != *ticket_type_id);
            }
            ConcertEvent::Published { buckets, .. } => {
                self.status = ConcertStatus::Published;
                self.buckets = *buckets;
            }
            ConcertEvent::Cancelled {} => self.status = ConcertStatus::Cancelled,
            ConcertEvent::TicketsHeld { .. }
            | ConcertEvent::HoldReleased { .. }
            | ConcertEvent::HoldExpired { .. }
            | ConcertEvent::TicketsSold { .. }
            | ConcertEvent::HoldsAwaitingPayment { .. } => {
                for change in self.holds.apply(event) {
                    self.change_inventory(&change);
                }
            }
        }
    }
}
