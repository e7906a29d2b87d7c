//! The message a mail becomes, and the settings a mailer is built from;
//! sending is tested against the SMTP sink in `tests/`.

use ticketing_app::mail::Attachment;

use super::*;

fn mailer() -> SmtpMailer {
    SmtpMailer::new("smtp://127.0.0.1:2525", "Cloudbash <tickets@cloudbash.example>").expect("a mailer")
}

fn mail() -> Mail {
    Mail {
        to: "fan@example.com".to_owned(),
        subject: "Your tickets for Night Shift".to_owned(),
        text: "Hello,\nyour tickets are attached.\n".to_owned(),
        message_id: "<tickets.42@cloudbash>".to_owned(),
        attachments: Vec::new(),
    }
}

fn formatted(mail: &Mail) -> String {
    let message = mailer().message(mail).expect("a message");
    String::from_utf8(message.formatted()).expect("ASCII on the wire")
}

#[test]
fn a_mail_without_attachments_is_one_text_part() {
    let message = formatted(&mail());
    assert!(message.contains("Message-ID: <tickets.42@cloudbash>\r\n"), "{message}");
    assert!(message.contains("Subject: Your tickets for Night Shift\r\n"), "{message}");
    assert!(message.contains("From: Cloudbash <tickets@cloudbash.example>\r\n"), "{message}");
    assert!(message.contains("To: fan@example.com\r\n"), "{message}");
    assert!(message.contains("Content-Type: text/plain; charset=utf-8\r\n"), "{message}");
    assert!(!message.contains("multipart"), "{message}");
}

#[test]
fn attachments_are_parts_of_their_own_type() {
    let mut mail = mail();
    mail.attachments.push(Attachment {
        file_name: "tickets.pdf".to_owned(),
        content_type: "application/pdf".to_owned(),
        bytes: b"%PDF-1.7 \x00\xFF".to_vec(),
    });
    let message = formatted(&mail);
    assert!(message.contains("multipart/mixed"), "{message}");
    assert!(message.contains("Content-Type: application/pdf\r\n"), "{message}");
    assert!(message.contains("filename=\"tickets.pdf\""), "{message}");
    assert!(message.contains("Content-Transfer-Encoding: base64\r\n"), "{message}");
}

#[test]
fn a_line_break_in_the_subject_cannot_add_a_header() {
    let mut mail = mail();
    mail.subject = "Tickets\r\nBcc: someone@example.com".to_owned();
    let message = formatted(&mail);
    assert!(!message.contains("\r\nBcc:"), "{message}");
}

#[test]
fn a_message_id_is_bracketed_printable_ascii_with_an_at() {
    assert_eq!(message_id("<a.b@c>").expect("fits"), "<a.b@c>");
    assert_eq!(message_id("a.b@c").expect("fits"), "<a.b@c>");
    for bad in ["<no-at>", "<a b@c>", "<a@c>\r\nBcc: x@y", "<é@c>", "<>", ""] {
        assert!(matches!(message_id(bad), Err(MailError::Refused(_))), "{bad:?} is refused");
    }
}

#[test]
fn a_malformed_recipient_is_refused_before_any_connection() {
    for to in ["not an address", "fan@", "@example.com", ""] {
        let mut mail = mail();
        mail.to = to.to_owned();
        assert!(matches!(mailer().message(&mail), Err(MailError::Refused(_))), "{to:?} is refused");
    }
}

#[test]
fn an_attachment_without_a_media_type_is_refused() {
    let mut mail = mail();
    mail.attachments.push(Attachment {
        file_name: "tickets.pdf".to_owned(),
        content_type: "not a type".to_owned(),
        bytes: Vec::new(),
    });
    assert!(matches!(mailer().message(&mail), Err(MailError::Refused(_))));
}

#[test]
fn every_url_form_builds_a_mailer() {
    let from = "tickets@cloudbash.example";
    for url in ["smtp://localhost:25", "smtp+starttls://mail.example.com", "smtps://user:pw@mail.example.com:465"] {
        let mailer = SmtpMailer::new(url, from).unwrap_or_else(|error| panic!("{url}: {error}"));
        assert!(!mailer.endpoint().contains("pw"));
        assert!(!format!("{mailer:?}").contains("pw"));
    }
}

#[test]
fn a_sender_that_is_not_an_address_is_a_config_error() {
    let error = SmtpMailer::new("smtp://localhost", "tickets").expect_err("refused");
    assert!(matches!(error, ConfigError::From { .. }), "{error}");
    let error = SmtpMailer::new("https://localhost", "tickets@example.com").expect_err("refused");
    assert!(matches!(error, ConfigError::Url { .. }), "{error}");
}
