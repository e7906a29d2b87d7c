//! An organiser disables a customer, or enables them again (story AD02).
//! The customer's cart records it and refuses their purchases from then on
//! (see `ticketing::Cart`), so this is one append to one stream. Where the
//! shop knows the identity provider's directory, the account is disabled
//! there first: a failure there appends nothing, and the request can be
//! sent again (both steps change nothing the second time).

use std::sync::Arc;

use es_core::CommandContext;
use ticketing::{CartCommand, CartId, CustomerId};

use crate::directory::DirectoryError;
use crate::error::AppError;
use crate::shop::{Batch, Shop, decide, load};

impl Shop {
    /// Disables `customer`: they can no longer put tickets in their cart
    /// nor check out. Disabling a disabled customer changes nothing.
    pub async fn disable_customer(&self, context: &CommandContext, customer: CustomerId) -> Result<(), AppError> {
        if let Some(directory) = self.directory() {
            directory.disable(customer).await.map_err(directory_error)?;
        }
        self.customer_standing(context, "disable_customer", customer, CartCommand::DisableCustomer { now: self.now() })
            .await
    }

    /// Enables `customer` again.
    pub async fn enable_customer(&self, context: &CommandContext, customer: CustomerId) -> Result<(), AppError> {
        if let Some(directory) = self.directory() {
            directory.enable(customer).await.map_err(directory_error)?;
        }
        self.customer_standing(context, "enable_customer", customer, CartCommand::EnableCustomer { now: self.now() })
            .await
    }

    async fn customer_standing(
        &self,
        context: &CommandContext,
        name: &'static str,
        customer: CustomerId,
        command: CartCommand,
    ) -> Result<(), AppError> {
        let cart_id = CartId::of(customer);
        let job = Arc::new((command, context.clone()));
        self.run(context, name, &[cart_id.into()], move |shop, reads| {
            let job = Arc::clone(&job);
            Box::pin(async move {
                let (command, context) = &*job;
                let cart = load(shop.carts(), cart_id, reads).await?;
                let mut batch = Batch::new(context);
                batch.add(shop.carts(), &cart, &decide(&cart, command)?)?;
                Ok(batch.finish(()))
            })
        })
        .await
    }
}

fn directory_error(error: DirectoryError) -> AppError {
    match error {
        DirectoryError::Unavailable(cause) => AppError::Unavailable(cause),
    }
}
