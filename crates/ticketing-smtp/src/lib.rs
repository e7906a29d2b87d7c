//! The mailer port ([`ticketing_app::mail::Mailer`]) over SMTP, for the
//! hosts: the tickets and the cancellation notices go to whatever server the
//! deployment names in one URL (see [`SmtpMailer::new`] for its forms).
//!
//! Each mail is one message with a plain-text body, its attachments as MIME
//! parts of their own media types, and the `Message-ID` the application
//! chose, so a mail sent again after a crash is recognisably the same mail.
//! Each send opens its own connection: mail is sent by processes that follow
//! the log, one mail at a time, and a connection kept open between them
//! would only go stale.
//!
//! The port has two kinds of failure, and the difference matters to the
//! sender, which retries one and not the other: a 5xx reply or an address
//! that is not one is [`MailError::Refused`]: the same mail will be refused
//! again. Everything else is [`MailError::Unavailable`], with its cause: a
//! 4xx reply, a server that cannot be reached or does not answer within the
//! send's time limit, a TLS failure, and also a 5xx reply to the login
//! (530, 534, 535, 538): wrong credentials refuse every mail until the
//! deployment is fixed, not this one.
//!
//! With the `testing` feature, the `testing` module reads the mails the tests' SMTP
//! sink kept, for any crate's tests (a dev-dependency with that feature).

mod endpoint;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use thiserror::Error;
use ticketing_app::mail::{Mail, MailError, Mailer};

use crate::endpoint::{Endpoint, Security};

/// How long one send may take, connection and TLS included, unless the
/// mailer is built with another limit.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a mailer could not be built: the deployment's settings are wrong.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The server's URL is not one this mailer reads.
    #[error("the SMTP URL is not usable: {reason}")]
    Url {
        /// What is wrong with it.
        reason: String,
    },
    /// The sender's address is not a mailbox.
    #[error("the sender {from:?} is not a mail address (addr@example.com or \"Name <addr@example.com>\")")]
    From {
        /// The address as given.
        from: String,
        /// The parser's words.
        #[source]
        source: lettre::address::AddressError,
    },
    /// The TLS settings could not be built (the platform's roots could not be read).
    #[error("TLS for {endpoint} could not be set up")]
    Tls {
        /// The server, without its password.
        endpoint: String,
        /// What failed.
        #[source]
        source: lettre::transport::smtp::Error,
    },
}

/// Why a send failed for now; kept whole as the cause of
/// [`MailError::Unavailable`].
#[derive(Debug, Error)]
pub enum SendError {
    /// The server answered with an error, could not be reached, or the
    /// connection failed.
    #[error("sending through {endpoint} failed")]
    Smtp {
        /// The server, without its password.
        endpoint: String,
        /// What the SMTP client reported.
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// The send took longer than its limit.
    #[error("sending through {endpoint} took longer than {limit:?}")]
    TimedOut {
        /// The server, without its password.
        endpoint: String,
        /// The limit.
        limit: Duration,
    },
}

/// Sends mail over SMTP, one connection per mail.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    endpoint: String,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("endpoint", &self.endpoint)
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SmtpMailer {
    /// A mailer for the server at `url`, sending as `from`
    /// (`tickets@example.com` or `Cloudbash <tickets@example.com>`), each
    /// send limited to [`SEND_TIMEOUT`].
    ///
    /// `url` is `smtp://host[:port]` (plain, no TLS, port 25),
    /// `smtp+starttls://host[:port]` (STARTTLS required, port 587; also
    /// `submission://`) or `smtps://host[:port]` (implicit TLS, port 465),
    /// with `user:password@` before the host for AUTH; a password is sent
    /// over plain SMTP only to the loopback host. The client greets the
    /// server (EHLO) with the sender's domain.
    pub fn new(url: &str, from: &str) -> Result<Self, ConfigError> {
        Self::with_timeout(url, from, SEND_TIMEOUT)
    }

    /// [`SmtpMailer::new`] with another limit on each send.
    pub fn with_timeout(url: &str, from: &str, timeout: Duration) -> Result<Self, ConfigError> {
        let endpoint = Endpoint::parse(url)?;
        let from: Mailbox = from.parse().map_err(|source| ConfigError::From { from: from.to_owned(), source })?;
        let tls = |endpoint: &Endpoint| {
            TlsParameters::new(endpoint.host.clone())
                .map_err(|source| ConfigError::Tls { endpoint: endpoint.to_string(), source })
        };
        let tls = match endpoint.security {
            Security::Plain => Tls::None,
            Security::StartTls => Tls::Required(tls(&endpoint)?),
            Security::Implicit => Tls::Wrapper(tls(&endpoint)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(endpoint.host.clone())
            .port(endpoint.port)
            .tls(tls)
            .timeout(Some(timeout))
            .hello_name(ClientId::Domain(from.email.domain().to_owned()));
        if let Some(login) = &endpoint.login {
            builder = builder.credentials(Credentials::new(login.user.clone(), login.password.clone()));
        }
        Ok(Self { transport: builder.build(), from, endpoint: endpoint.to_string(), timeout })
    }

    /// The server, without its password (for logs).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `mail` as a MIME message from this mailer's sender.
    fn message(&self, mail: &Mail) -> Result<Message, MailError> {
        let to: Mailbox = mail.to.parse().map_err(|error| {
            MailError::Refused(format!("the recipient {:?} is not a mail address: {error}", mail.to))
        })?;
        let message_id = message_id(&mail.message_id)?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(one_line(&mail.subject))
            .message_id(Some(message_id));
        let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(mail.text.clone());
        let built = if mail.attachments.is_empty() {
            builder.singlepart(text)
        } else {
            let mut parts = MultiPart::mixed().singlepart(text);
            for attachment in &mail.attachments {
                let content_type = ContentType::parse(&attachment.content_type).map_err(|error| {
                    MailError::Refused(format!(
                        "the attachment {:?} has no valid media type ({:?}): {error}",
                        attachment.file_name, attachment.content_type
                    ))
                })?;
                parts = parts.singlepart(
                    MimeAttachment::new(one_line(&attachment.file_name)).body(attachment.bytes.clone(), content_type),
                );
            }
            builder.multipart(parts)
        };
        built.map_err(|error| MailError::Refused(format!("the mail could not be put together: {error}")))
    }
}

/// `text` on one line: a header cannot hold a line break.
fn one_line(text: &str) -> String {
    text.chars().map(|character| if character.is_control() { ' ' } else { character }).collect()
}

/// The `Message-ID` header's value: `<id@domain>` in printable ASCII; angle
/// brackets are added if the id has none.
fn message_id(id: &str) -> Result<String, MailError> {
    let bracketed = if id.starts_with('<') && id.ends_with('>') { id.to_owned() } else { format!("<{id}>") };
    let inner = &bracketed[1..bracketed.len() - 1];
    let fits = inner.contains('@')
        && inner.bytes().all(|byte| byte.is_ascii_graphic() && !matches!(byte, b'<' | b'>' | b'"' | b'\\'));
    if !fits {
        return Err(MailError::Refused(format!("{id:?} is not a Message-ID (<left@right> in printable ASCII)")));
    }
    Ok(bracketed)
}

/// 5xx replies that refuse the login, not the mail.
const LOGIN_REFUSED: [&str; 4] = ["530", "534", "535", "538"];

/// The port's error for what the SMTP client reported.
fn classify(endpoint: &str, error: lettre::transport::smtp::Error) -> MailError {
    let login_refused = error.status().is_some_and(|code| LOGIN_REFUSED.contains(&code.to_string().as_str()));
    if error.is_permanent() && !login_refused {
        return MailError::Refused(format!("{endpoint} answered: {error}"));
    }
    MailError::Unavailable(Arc::new(SendError::Smtp { endpoint: endpoint.to_owned(), source: error }))
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = self.message(mail)?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(error)) => Err(classify(&self.endpoint, error)),
            Err(_elapsed) => Err(MailError::Unavailable(Arc::new(SendError::TimedOut {
                endpoint: self.endpoint.clone(),
                limit: self.timeout,
            }))),
        }
    }
}

#[cfg(test)]
mod tests;
