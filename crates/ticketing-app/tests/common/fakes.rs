//! Stand-ins for the outside services the shop talks to: a payment
//! provider that keeps its payments in memory and counts every call, a
//! mailer that keeps what it is given (or is down), and ticket documents
//! drawn as the list of their codes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use es_core::async_trait;
use ticketing::Money;
use ticketing_app::payments::{
    PaymentError, PaymentNotice, PaymentProvider, PaymentRequest, PaymentSession, PaymentStatus, WebhookError,
};

/// A provider that keeps its payments in memory and counts what it is asked.
#[derive(Default)]
pub(crate) struct FakeProvider {
    state: Mutex<FakeState>,
    /// While set, refunds fail as unavailable.
    pub(crate) down: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
pub(crate) struct FakeState {
    /// Payments by idempotency key of their creation.
    pub(crate) created: BTreeMap<String, PaymentSession>,
    pub(crate) cancelled: Vec<String>,
    /// Refunds by idempotency key.
    pub(crate) refunds: BTreeMap<String, String>,
    pub(crate) refund_calls: usize,
    /// What each refund paid back, by payment (`None`: all of it).
    pub(crate) refunded: Vec<(String, Option<Money>)>,
}

impl FakeProvider {
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().expect("not poisoned")
    }
}

#[async_trait]
impl PaymentProvider for FakeProvider {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn create_payment(&self, request: &PaymentRequest) -> Result<PaymentSession, PaymentError> {
        let mut state = self.state();
        let count = state.created.len();
        let session = state.created.entry(request.idempotency_key.clone()).or_insert_with(|| PaymentSession {
            payment_id: format!("pay_{count}"),
            client_secret: format!("pay_{count}_secret"),
            status: PaymentStatus::AwaitingBuyer,
        });
        Ok(session.clone())
    }

    async fn payment(&self, payment_id: &str) -> Result<PaymentSession, PaymentError> {
        let state = self.state();
        let found = state.created.values().find(|session| session.payment_id == payment_id).cloned();
        found.ok_or_else(|| PaymentError::Refused { message: format!("no payment {payment_id}") })
    }

    async fn cancel_payment(&self, payment_id: &str, _idempotency_key: &str) -> Result<(), PaymentError> {
        self.state().cancelled.push(payment_id.to_owned());
        Ok(())
    }

    async fn refund(
        &self,
        payment_id: &str,
        amount: Option<Money>,
        idempotency_key: &str,
    ) -> Result<String, PaymentError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(PaymentError::Unavailable(Arc::new(std::io::Error::other("down"))));
        }
        let mut state = self.state();
        state.refund_calls += 1;
        if !state.refunds.contains_key(idempotency_key) {
            state.refunded.push((payment_id.to_owned(), amount));
        }
        let count = state.refunds.len();
        let refund =
            state.refunds.entry(idempotency_key.to_owned()).or_insert_with(|| format!("re_{count}_{payment_id}"));
        Ok(refund.clone())
    }

    fn verify_notice(
        &self,
        _signature: Option<&str>,
        _body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<Option<PaymentNotice>, WebhookError> {
        Err(WebhookError::BadSignature)
    }
}

/// A mailer that keeps what it is given, or refuses everything for now.
#[derive(Default)]
pub(crate) struct FakeMailer {
    pub(crate) sent: Mutex<Vec<ticketing_app::mail::Mail>>,
    pub(crate) down: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl ticketing_app::mail::Mailer for FakeMailer {
    async fn send(&self, mail: &ticketing_app::mail::Mail) -> Result<(), ticketing_app::mail::MailError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ticketing_app::mail::MailError::Unavailable(Arc::new(std::io::Error::other("down"))));
        }
        self.sent.lock().expect("not poisoned").push(mail.clone());
        Ok(())
    }
}

/// Draws a sheet as the list of its codes.
pub(crate) struct CodeList;

impl ticketing_app::documents::TicketDocuments for CodeList {
    fn tickets_pdf(
        &self,
        sheet: &ticketing_app::documents::TicketSheet,
    ) -> Result<Vec<u8>, ticketing_app::documents::DocumentError> {
        let codes: Vec<&str> = sheet.tickets.iter().map(|ticket| ticket.code.as_str()).collect();
        Ok(codes.join("\n").into_bytes())
    }
}
