//! The identity provider's directory of accounts, as far as the shop acts
//! on it: an organiser who disables a customer also disables the account
//! (on AWS, Cognito's), so that the customer cannot sign in or refresh a
//! token any more. The shop's own refusal (the customer's cart, see
//! `customers.rs`) holds whatever the directory does; the directory's part
//! is that no new token is issued.

use es_core::async_trait;
use thiserror::Error;
use ticketing::CustomerId;

use crate::error::Cause;

/// Why the directory did not act.
#[derive(Debug, Error)]
pub enum DirectoryError {
    /// The directory could not be reached or failed: try again.
    #[error("the identity provider is unavailable")]
    Unavailable(#[source] Cause),
}

/// The accounts of the identity provider that signs the shop's tokens.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// Stops the account whose subject is `customer` from signing in and
    /// revokes its tokens. An unknown or disabled account is not an error.
    async fn disable(&self, customer: CustomerId) -> Result<(), DirectoryError>;

    /// Lets the account sign in again. An unknown or enabled account is not
    /// an error.
    async fn enable(&self, customer: CustomerId) -> Result<(), DirectoryError>;
}
