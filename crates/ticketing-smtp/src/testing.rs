//! The test SMTP sink's mails, for tests of any crate (the `testing`
//! feature). `scripts/services.sh` starts an SMTP server that takes every
//! mail and keeps it as one file in a Maildir, and exports where:
//! `CLOUDBASH_TEST_SMTP_URL` (plain SMTP on the loopback host) and
//! `CLOUDBASH_TEST_MAIL_DIR`. The sink is shared by every test, so a test
//! sends to addresses of its own ([`unique_address`]) and reads back only
//! the mails to them ([`mails_to`], [`wait_for_mails`]).
//!
//! Like the other local services, a missing sink fails the test with a
//! message that says how to start it; it never skips.
//!
//! Mails are parsed with `mail-parser`, which decodes what a mail client
//! would (encoded words in headers, quoted-printable and base64 bodies), so a
//! test compares what it sent with what a recipient would read.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mail_parser::{MessageParser, MimeHeaders};

/// One mail as its recipient reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope's recipients (`RCPT TO`), as the sink recorded them.
    pub recipients: Vec<String>,
    /// The `From` header's address.
    pub from: String,
    /// The decoded subject.
    pub subject: String,
    /// The `Message-ID`, with its angle brackets (`<tickets.1@cloudbash>`).
    pub message_id: String,
    /// The first plain-text part, decoded.
    pub text: String,
    /// The attachments, in order.
    pub attachments: Vec<ReceivedAttachment>,
}

/// An attachment as its recipient saves it.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedAttachment {
    /// Its file name.
    pub file_name: String,
    /// Its media type without parameters (`application/pdf`).
    pub content_type: String,
    /// Its decoded bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for ReceivedAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedAttachment")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

fn required(variable: &str, what: &str) -> String {
    let value = std::env::var(variable).unwrap_or_default();
    assert!(
        !value.is_empty(),
        "{variable} must point at {what}; run the tests through scripts/test.sh, or `. scripts/services.sh` first"
    );
    value
}

/// The sink's URL (`CLOUDBASH_TEST_SMTP_URL`); fails the test if it is not set.
pub fn smtp_url() -> String {
    required("CLOUDBASH_TEST_SMTP_URL", "the test SMTP sink (smtp://127.0.0.1:PORT)")
}

/// The sink's Maildir (`CLOUDBASH_TEST_MAIL_DIR`); fails the test if it is not set.
pub fn mail_dir() -> PathBuf {
    PathBuf::from(required("CLOUDBASH_TEST_MAIL_DIR", "the test SMTP sink's Maildir"))
}

/// An address no other test uses: `{label}.{random}@example.com`.
pub fn unique_address(label: &str) -> String {
    format!("{label}.{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Every mail in the Maildir at `dir` to `recipient` (compared without regard
/// to case), oldest first by file name. Fails the test if the Maildir cannot
/// be read or a mail in it cannot be parsed.
pub fn mails_to(dir: &Path, recipient: &str) -> Vec<ReceivedMail> {
    let mut files = Vec::new();
    for folder in ["new", "cur"] {
        let folder = dir.join(folder);
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries {
            let entry = entry.unwrap_or_else(|error| panic!("{} lists its mails: {error}", folder.display()));
            files.push(entry.path());
        }
    }
    files.sort();
    let mut mails = Vec::new();
    for file in files {
        let raw = std::fs::read(&file).unwrap_or_else(|error| panic!("{} is readable: {error}", file.display()));
        // Cheap filter first: only files that name the recipient are parsed.
        if !contains_ignoring_case(&raw, recipient.as_bytes()) {
            continue;
        }
        let mail = parse(&raw).unwrap_or_else(|| panic!("{} is a mail", file.display()));
        if mail.recipients.iter().any(|to| to.eq_ignore_ascii_case(recipient)) {
            mails.push(mail);
        }
    }
    mails
}

/// The mails to `recipient` once there are at least `count`, polling the
/// sink's Maildir ([`mail_dir`]) for up to `limit`; fails the test if they
/// do not all arrive in time.
pub async fn wait_for_mails(recipient: &str, count: usize, limit: Duration) -> Vec<ReceivedMail> {
    let dir = mail_dir();
    let deadline = Instant::now() + limit;
    loop {
        let mails = mails_to(&dir, recipient);
        if mails.len() >= count {
            return mails;
        }
        assert!(
            Instant::now() < deadline,
            "{count} mails to {recipient} within {limit:?}; {} arrived in {}",
            mails.len(),
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|window| window.eq_ignore_ascii_case(needle))
}

/// One stored mail, or `None` if it is not a mail.
pub fn parse(raw: &[u8]) -> Option<ReceivedMail> {
    let message = MessageParser::default().parse(raw)?;
    let addresses = |address: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        address
            .map(|list| list.iter().filter_map(|addr| addr.address()).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    // The sink records the envelope's recipients in X-RcptTo; a mail stored
    // by anything else falls back to its To header.
    let recipients = match message.header_raw("X-RcptTo") {
        Some(list) => list.split(',').map(|to| to.trim().to_owned()).filter(|to| !to.is_empty()).collect(),
        None => addresses(message.to()),
    };
    let attachments = message
        .attachments()
        .map(|part| ReceivedAttachment {
            file_name: part.attachment_name().unwrap_or_default().to_owned(),
            content_type: part
                .content_type()
                .map(|kind| match kind.subtype() {
                    Some(subtype) => format!("{}/{subtype}", kind.ctype()),
                    None => kind.ctype().to_owned(),
                })
                .unwrap_or_default(),
            bytes: part.contents().to_vec(),
        })
        .collect();
    Some(ReceivedMail {
        recipients,
        from: addresses(message.from()).into_iter().next().unwrap_or_default(),
        subject: message.subject().unwrap_or_default().to_owned(),
        message_id: message.message_id().map(|id| format!("<{id}>")).unwrap_or_default(),
        text: message.body_text(0).map(|text| text.into_owned()).unwrap_or_default(),
        attachments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORED: &[u8] = b"Subject: =?utf-8?q?Caf=C3=A9?=\r\nFrom: Shop <shop@example.com>\r\n\
        To: Fan <Fan@Example.com>\r\nMessage-ID: <t.1@cloudbash>\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b\"\r\nX-RcptTo: fan@example.com\r\n\r\n\
        --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n\
        --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"t.pdf\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nJVBERgD/\r\n--b--\r\n";

    #[test]
    fn a_stored_mail_reads_as_its_recipient_sees_it() {
        let mail = parse(STORED).expect("a mail");
        assert_eq!(mail.recipients, ["fan@example.com"]);
        assert_eq!(mail.from, "shop@example.com");
        assert_eq!(mail.subject, "Café");
        assert_eq!(mail.message_id, "<t.1@cloudbash>");
        assert_eq!(mail.text.trim_end(), "Hello");
        assert_eq!(mail.attachments.len(), 1);
        assert_eq!(mail.attachments[0].file_name, "t.pdf");
        assert_eq!(mail.attachments[0].content_type, "application/pdf");
        assert_eq!(mail.attachments[0].bytes, b"%PDF\x00\xFF");
    }

    #[test]
    fn only_the_recipients_mails_are_read() {
        let dir = std::env::temp_dir().join(format!("cloudbash-maildir-{}", unique_address("t")));
        std::fs::create_dir_all(dir.join("new")).expect("a Maildir");
        std::fs::write(dir.join("new").join("1"), STORED).expect("stored");
        let other = String::from_utf8_lossy(STORED).replace("fan@example.com", "other@example.com");
        std::fs::write(dir.join("new").join("2"), other).expect("stored");
        assert_eq!(mails_to(&dir, "FAN@example.com").len(), 1);
        assert_eq!(mails_to(&dir, "other@example.com").len(), 1);
        assert!(mails_to(&dir, "nobody@example.com").is_empty());
        std::fs::remove_dir_all(&dir).expect("removed");
    }

    #[test]
    fn unique_addresses_differ() {
        assert_ne!(unique_address("a"), unique_address("a"));
        assert!(unique_address("tickets").starts_with("tickets."));
    }
}
