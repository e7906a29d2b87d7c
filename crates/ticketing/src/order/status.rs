//! Where an order stands, by the names the API and the read models use.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an order stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderStatus {
    /// Placed, its tickets held until the payment window closes.
    PendingPayment,
    /// Paid: its tickets are valid.
    #[default]
    Paid,
    /// The payment failed; its tickets went back on sale.
    Failed,
    /// Not paid in time; its tickets went back on sale.
    Expired,
    /// Every line's concert was cancelled and its tickets paid back.
    Refunded,
}

impl OrderStatus {
    /// The name the API and the read models use.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pendingPayment",
            OrderStatus::Paid => "paid",
            OrderStatus::Failed => "failed",
            OrderStatus::Expired => "expired",
            OrderStatus::Refunded => "refunded",
        }
    }

    /// The status [`OrderStatus::as_str`] names.
    pub fn parse(name: &str) -> Option<Self> {
        [
            OrderStatus::PendingPayment,
            OrderStatus::Paid,
            OrderStatus::Failed,
            OrderStatus::Expired,
            OrderStatus::Refunded,
        ]
        .into_iter()
        .find(|status| status.as_str() == name)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
