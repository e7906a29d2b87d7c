//! A customer's standing in the shop: an organiser may disable a customer
//! (story AD02), who then can no longer put tickets in the cart nor check
//! out, until enabled again. The cart records it because every purchase
//! passes through the cart's own append: the rule is checked where the
//! purchase is decided, in the same atomic append, so a purchase and the
//! disabling that races it are ordered by the cart's version, and the
//! buyers' path reads and writes nothing more for it.
//!
//! Taking items out stays allowed: the customer may let go of what they
//! hold, and the expiry process must always be able to end a hold.

use chrono::{DateTime, Utc};

use super::{Cart, CartCommand, CartError, CartEvent};

impl Cart {
    /// Since when the customer is disabled, while they are.
    pub fn disabled_since(&self) -> Option<DateTime<Utc>> {
        self.disabled_since
    }

    /// Refuses what a disabled customer may not do: take tickets or buy.
    pub(super) fn refuse_if_disabled(&self, command: &CartCommand) -> Result<(), CartError> {
        match (self.disabled_since, command) {
            (Some(since), CartCommand::AddItem { .. } | CartCommand::CheckOut { .. }) => {
                Err(CartError::CustomerDisabled { since })
            }
            _ => Ok(()),
        }
    }

    pub(super) fn decide_disable(&self, now: DateTime<Utc>) -> Vec<CartEvent> {
        match self.disabled_since {
            Some(_) => Vec::new(),
            None => vec![CartEvent::CustomerDisabled { disabled_at: now }],
        }
    }

    pub(super) fn decide_enable(&self, now: DateTime<Utc>) -> Vec<CartEvent> {
        match self.disabled_since {
            Some(_) => vec![CartEvent::CustomerEnabled { enabled_at: now }],
            None => Vec::new(),
        }
    }
}
