//! The mail port. Mail is sent by processes that follow the log (tickets
//! when an order is paid, notices when a concert is cancelled), never from
//! inside an HTTP request: a request must not wait for a mail server, and a
//! mail must not be lost because a request was. Those processes send at
//! least once and record what they sent in the log; each mail carries a
//! `Message-ID` derived from what it is about, so a mail sent again after a
//! crash is recognisably the same mail.

use es_core::async_trait;
use thiserror::Error;

use crate::error::Cause;

/// A file sent with a mail.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its name, as the recipient sees it (`tickets.pdf`).
    pub file_name: String,
    /// Its media type (`application/pdf`).
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// One mail to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The body, as plain text.
    pub text: String,
    /// Stable for what the mail is about (`<tickets.ORDER@cloudbash>`), the
    /// same when sent again: the recipient's software can drop the repeat.
    pub message_id: String,
    /// Files sent with it.
    pub attachments: Vec<Attachment>,
}

/// Why a mail was not sent.
#[derive(Debug, Error)]
pub enum MailError {
    /// The server refused this mail for good (a bad address, a 5xx reply):
    /// sending it again will not help.
    #[error("the mail server refused the mail: {0}")]
    Refused(String),
    /// The server could not be reached or failed for now: send it again
    /// later.
    #[error("the mail server is unavailable")]
    Unavailable(#[source] Cause),
}

/// Sends mail: SMTP on a host, Amazon SES on AWS.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Sends one mail; returns once the server has taken it.
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// Sends `mail`: a server that is down is `Unavailable` (try again later), a
/// mail it refuses for good is a refusal (`Rejected`: sending it again would
/// not help).
pub(crate) async fn send(mailer: &dyn Mailer, mail: &Mail) -> Result<(), crate::AppError> {
    mailer.send(mail).await.map_err(|error| match error {
        MailError::Unavailable(cause) => crate::AppError::Unavailable(cause),
        refused @ MailError::Refused(_) => {
            crate::AppError::Rejected { kind: ticketing::RefusalKind::Invalid, message: refused.to_string() }
        }
    })
}
