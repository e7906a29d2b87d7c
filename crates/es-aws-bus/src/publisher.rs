//! The forwarder's target, chosen by configuration: Kinesis (the seed's
//! choice) or SQS FIFO queues, one per subscriber.

use async_trait::async_trait;
use es_core::RecordedEvent;

use crate::BusError;
use crate::kinesis::KinesisPublisher;

/// Puts events on the bus, in order per aggregate as far as the bus keeps
/// it; all of them or an error (then the whole batch is retried).
#[async_trait]
pub trait Publisher: Send + Sync + 'static {
    /// Publishes `events`.
    async fn publish(&self, events: &[RecordedEvent]) -> Result<(), BusError>;
}

#[async_trait]
impl Publisher for KinesisPublisher {
    async fn publish(&self, events: &[RecordedEvent]) -> Result<(), BusError> {
        KinesisPublisher::publish(self, events).await
    }
}
