//! Stripe's objects as the API answers them, read for what the port needs.
//! Only the fields used are named: Stripe adds fields without a new API
//! version, and an answer with more is still read.

use serde::Deserialize;
use ticketing_app::payments::{PaymentSession, PaymentStatus};

use crate::client::ApiFailure;

/// A PaymentIntent (`pi_...`), Stripe's record of one payment.
#[derive(Debug, Deserialize)]
pub(crate) struct Intent {
    pub(crate) id: String,
    /// Stripe sends it to the holder of the secret key, always.
    pub(crate) client_secret: String,
    pub(crate) status: String,
}

impl Intent {
    /// The port's view of it.
    pub(crate) fn session(self) -> Result<PaymentSession, ApiFailure> {
        let status = status(&self.status).ok_or(ApiFailure::UnknownStatus(self.status))?;
        Ok(PaymentSession { payment_id: self.id, client_secret: self.client_secret, status })
    }

    pub(crate) fn is_canceled(&self) -> bool {
        status(&self.status) == Some(PaymentStatus::Canceled)
    }
}

/// A refund (`re_...`).
#[derive(Debug, Deserialize)]
pub(crate) struct Refund {
    pub(crate) id: String,
}

/// A PaymentIntent's `status` as the port counts it. `requires_capture`
/// only happens with manual capture, which this adapter does not ask for;
/// the money is held, not taken, so it counts as processing.
pub(crate) fn status(stripe: &str) -> Option<PaymentStatus> {
    Some(match stripe {
        "requires_payment_method" | "requires_confirmation" | "requires_action" => PaymentStatus::AwaitingBuyer,
        "processing" | "requires_capture" => PaymentStatus::Processing,
        "succeeded" => PaymentStatus::Succeeded,
        "canceled" => PaymentStatus::Canceled,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_of_a_payment_intent_is_counted() {
        let expected = [
            ("requires_payment_method", PaymentStatus::AwaitingBuyer),
            ("requires_confirmation", PaymentStatus::AwaitingBuyer),
            ("requires_action", PaymentStatus::AwaitingBuyer),
            ("processing", PaymentStatus::Processing),
            ("requires_capture", PaymentStatus::Processing),
            ("succeeded", PaymentStatus::Succeeded),
            ("canceled", PaymentStatus::Canceled),
        ];
        for (stripe, port) in expected {
            assert_eq!(status(stripe), Some(port), "{stripe}");
        }
        assert_eq!(status("cancelled"), None);
        assert_eq!(status(""), None);
    }

    #[test]
    fn an_intent_is_read_from_an_answer_with_more_fields() {
        let answer = r#"{"id":"pi_1","object":"payment_intent","amount":2500,"currency":"eur",
            "client_secret":"pi_1_secret_x","status":"requires_payment_method","metadata":{}}"#;
        let intent: Intent = serde_json::from_str(answer).expect("an intent");
        let session = intent.session().expect("a known status");
        assert_eq!(session.payment_id, "pi_1");
        assert_eq!(session.client_secret, "pi_1_secret_x");
        assert_eq!(session.status, PaymentStatus::AwaitingBuyer);
    }

    #[test]
    fn an_intent_in_an_unknown_status_is_not_guessed() {
        let intent: Intent =
            serde_json::from_str(r#"{"id":"pi_1","client_secret":"s","status":"requires_moon"}"#).expect("an intent");
        assert!(matches!(intent.session(), Err(ApiFailure::UnknownStatus(status)) if status == "requires_moon"));
    }
}
