//! # ticketing-cognito: the customers' accounts in a Cognito user pool
//!
//! The shop knows a customer by the subject (`sub`) of their tokens. Cognito's
//! admin operations take a user name, which is the subject only in pools
//! without username attributes, so the account is first found by its `sub`
//! (`ListUsers` with a filter, which every pool answers), then disabled or
//! enabled by its user name. Disabling an account in Cognito also revokes
//! its tokens; the shop's own refusal of a disabled customer's purchases
//! does not depend on it.
//!
//! A customer without an account in the pool (tokens from elsewhere, or an
//! account deleted since) is not an error: there is nothing to disable.

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::DisplayErrorContext;
use ticketing::CustomerId;
use ticketing_app::directory::{Directory, DirectoryError};

/// The accounts of one Cognito user pool.
#[derive(Clone, Debug)]
pub struct CognitoDirectory {
    client: Client,
    user_pool_id: String,
}

impl CognitoDirectory {
    /// The pool `user_pool_id` (`eu-west-1_AbCdEf123`), reached with `client`.
    pub fn new(client: Client, user_pool_id: impl Into<String>) -> Self {
        Self { client, user_pool_id: user_pool_id.into() }
    }

    /// The user name of the account whose subject is `customer`, if there is one.
    async fn user_name(&self, customer: CustomerId) -> Result<Option<String>, DirectoryError> {
        let listed = self
            .client
            .list_users()
            .user_pool_id(&self.user_pool_id)
            .filter(format!("sub = \"{}\"", customer.as_uuid()))
            .limit(1)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(listed.users().first().and_then(|user| user.username()).map(str::to_owned))
    }
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(error: E) -> DirectoryError {
    DirectoryError::Unavailable(std::sync::Arc::new(std::io::Error::other(DisplayErrorContext(error).to_string())))
}

#[async_trait]
impl Directory for CognitoDirectory {
    async fn disable(&self, customer: CustomerId) -> Result<(), DirectoryError> {
        let Some(user_name) = self.user_name(customer).await? else { return Ok(()) };
        let request = self.client.admin_disable_user().user_pool_id(&self.user_pool_id).username(user_name);
        request.send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn enable(&self, customer: CustomerId) -> Result<(), DirectoryError> {
        let Some(user_name) = self.user_name(customer).await? else { return Ok(()) };
        let request = self.client.admin_enable_user().user_pool_id(&self.user_pool_id).username(user_name);
        request.send().await.map_err(unavailable)?;
        Ok(())
    }
}
