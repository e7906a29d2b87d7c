//! Stripe's events, read into the port's notices once their signature is
//! checked. The shop acts on two: a PaymentIntent that succeeded (the money
//! is taken, the order is paid) and one whose attempt failed (the buyer may
//! try another card). Every other event is acknowledged and left alone, so
//! an endpoint subscribed to more than it needs does no harm.
//!
//! A notice names its order by the PaymentIntent's `metadata[order_id]`,
//! which the shop set when it created the payment; one of the two events
//! without it did not come from a payment of this shop, and is refused as
//! malformed rather than acted on.

use serde::Deserialize;
use ticketing::{Currency, Money, OrderId};
use ticketing_app::payments::{PaymentNotice, PaymentOutcome, WebhookError};

/// The event of a payment that succeeded.
pub(crate) const SUCCEEDED: &str = "payment_intent.succeeded";
/// The event of a payment attempt that failed.
pub(crate) const PAYMENT_FAILED: &str = "payment_intent.payment_failed";

/// The reason given when Stripe gives none.
const FAILED_WITHOUT_REASON: &str = "the payment was not accepted";

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

/// The object an event is about, read only once its type says what it is.
#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

/// The PaymentIntent of a `payment_intent.*` event.
#[derive(Deserialize)]
struct IntentObject {
    id: String,
    amount: u64,
    currency: String,
    #[serde(default)]
    metadata: Metadata,
    last_payment_error: Option<PaymentErrorObject>,
}

#[derive(Default, Deserialize)]
struct Metadata {
    order_id: Option<String>,
}

#[derive(Deserialize)]
struct PaymentErrorObject {
    message: Option<String>,
}

/// The notice in an event's body (already verified), or `None` for an event
/// the shop does not act on.
pub(crate) fn notice(body: &[u8]) -> Result<Option<PaymentNotice>, WebhookError> {
    let event: Event = serde_json::from_slice(body).map_err(|error| malformed("not a Stripe event", error))?;
    if event.kind != SUCCEEDED && event.kind != PAYMENT_FAILED {
        return Ok(None);
    }
    let intent: IntentObject = serde_json::from_value(event.data.object)
        .map_err(|error| malformed(&format!("the PaymentIntent of {} cannot be read", event.id), error))?;
    let order_id = intent.metadata.order_id.as_deref().ok_or_else(|| {
        WebhookError::Malformed(format!("PaymentIntent {} of {} names no order", intent.id, event.id))
    })?;
    let order_id: OrderId = order_id.parse().map_err(|_| {
        WebhookError::Malformed(format!("PaymentIntent {} names order {order_id:?}, not an order id", intent.id))
    })?;
    let outcome = if event.kind == SUCCEEDED {
        // Stripe writes currencies in lowercase; the shop in ISO's uppercase.
        let currency = Currency::new(&intent.currency.to_ascii_uppercase())
            .map_err(|error| malformed(&format!("PaymentIntent {} has no currency", intent.id), error))?;
        PaymentOutcome::Succeeded { amount: Money::new(intent.amount, currency) }
    } else {
        let reason = intent.last_payment_error.and_then(|error| error.message);
        PaymentOutcome::Failed { reason: reason.unwrap_or_else(|| FAILED_WITHOUT_REASON.to_owned()) }
    };
    Ok(Some(PaymentNotice { notice_id: event.id, payment_id: intent.id, order_id, outcome }))
}

fn malformed(what: &str, error: impl std::fmt::Display) -> WebhookError {
    WebhookError::Malformed(format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ORDER: &str = "0190a3d4-6f1e-7c2a-9b5e-3f4d2c1b0a98";

    fn event(kind: &str, object: serde_json::Value) -> Vec<u8> {
        let event = json!({"id": "evt_1", "object": "event", "type": kind, "data": {"object": object}});
        serde_json::to_vec(&event).expect("JSON")
    }

    fn intent(extra: serde_json::Value) -> serde_json::Value {
        let mut object = json!({
            "id": "pi_1", "object": "payment_intent", "amount": 2500, "currency": "eur",
            "metadata": {"order_id": ORDER}, "last_payment_error": null, "status": "succeeded"
        });
        if let (Some(object), Some(extra)) = (object.as_object_mut(), extra.as_object()) {
            object.extend(extra.clone());
        }
        object
    }

    fn notice_of(kind: &str, object: serde_json::Value) -> PaymentNotice {
        notice(&event(kind, object)).expect("read").expect("acted on")
    }

    fn order() -> OrderId {
        ORDER.parse().expect("an order id")
    }

    #[test]
    fn a_succeeded_payment_is_a_notice_with_the_amount_taken() {
        let notice = notice_of(SUCCEEDED, intent(json!({})));
        let eur = Currency::new("EUR").expect("a currency");
        assert_eq!(
            notice,
            PaymentNotice {
                notice_id: "evt_1".into(),
                payment_id: "pi_1".into(),
                order_id: order(),
                outcome: PaymentOutcome::Succeeded { amount: Money::new(2500, eur) },
            }
        );
    }

    #[test]
    fn a_failed_attempt_is_a_notice_with_stripe_s_reason() {
        let declined = intent(json!({"status": "requires_payment_method",
            "last_payment_error": {"code": "card_declined", "message": "Your card was declined."}}));
        let notice = notice_of(PAYMENT_FAILED, declined);
        assert_eq!(notice.order_id, order());
        assert_eq!(notice.outcome, PaymentOutcome::Failed { reason: "Your card was declined.".into() });

        let silent = notice_of(PAYMENT_FAILED, intent(json!({})));
        assert_eq!(silent.outcome, PaymentOutcome::Failed { reason: FAILED_WITHOUT_REASON.into() });
    }

    #[test]
    fn other_events_are_not_acted_on() {
        for kind in ["payment_intent.created", "payment_intent.canceled", "charge.succeeded", "customer.created"] {
            assert_eq!(notice(&event(kind, json!({"id": "whatever"}))), Ok(None), "{kind}");
        }
    }

    #[test]
    fn a_payment_without_an_order_is_malformed() {
        for metadata in [json!({}), json!({"order_id": "42"}), json!({"order": ORDER})] {
            let object = intent(json!({"metadata": metadata}));
            assert!(matches!(notice(&event(SUCCEEDED, object)), Err(WebhookError::Malformed(_))), "{metadata}");
        }
        let mut bare = intent(json!({}));
        bare.as_object_mut().map(|object| object.remove("metadata"));
        assert!(matches!(notice(&event(PAYMENT_FAILED, bare)), Err(WebhookError::Malformed(_))));
    }

    #[test]
    fn a_body_that_is_not_an_event_is_malformed() {
        for body in [&b"not json"[..], b"{}", br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#] {
            assert!(matches!(notice(body), Err(WebhookError::Malformed(_))));
        }
        let no_amount = json!({"id": "pi_1", "currency": "eur", "metadata": {"order_id": ORDER}});
        assert!(matches!(notice(&event(SUCCEEDED, no_amount)), Err(WebhookError::Malformed(_))));
        let bad_currency = intent(json!({"currency": "euro"}));
        assert!(matches!(notice(&event(SUCCEEDED, bad_currency)), Err(WebhookError::Malformed(_))));
    }
}
