//! How `serve` delivers tickets: drawn as PDF always (`GET
//! /orders/{orderId}/tickets.pdf`), and mailed to buyers when given an SMTP
//! server. Mail is sent by a process that follows the log
//! (`ticketing_app::TicketDelivery`), so it runs where the log's other
//! followers run: one process of a shared log is enough.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use ticketing_app::mail::Mailer;
use ticketing_smtp::SmtpMailer;

/// Options of ticket mail.
#[derive(Debug, Args)]
pub(crate) struct MailArgs {
    /// Mail each paid order's tickets through this SMTP server: `smtp://host:port` (no TLS: a relay on this
    /// machine), `smtp+starttls://host:port`, or `smtps://host:port`; `user:password@` before the host logs in.
    #[arg(long, env = "CLOUDBASH_SMTP_URL", requires = "mail_from", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The sender of the shop's mail: `tickets@example.com` or `Cloudbash <tickets@example.com>`.
    #[arg(long, env = "CLOUDBASH_MAIL_FROM", requires = "smtp_url")]
    mail_from: Option<String>,
}

impl MailArgs {
    /// The mailer the options name; `None`: no mail is sent.
    pub(crate) fn mailer(&self) -> anyhow::Result<Option<Mail>> {
        let (Some(url), Some(from)) = (&self.smtp_url, &self.mail_from) else { return Ok(None) };
        let mailer = SmtpMailer::new(url, from).context("configuring the SMTP server")?;
        Ok(Some(Mail(Arc::new(mailer))))
    }
}

/// A mailer, as a host is configured with it.
#[derive(Clone)]
pub(crate) struct Mail(pub(crate) Arc<dyn Mailer>);

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mail(..)")
    }
}
