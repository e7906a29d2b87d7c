//! The mailer against a real SMTP server: the sink `scripts/services.sh`
//! starts (`CLOUDBASH_TEST_SMTP_URL`), which keeps each mail as a file in a
//! Maildir (`CLOUDBASH_TEST_MAIL_DIR`). Each test sends to addresses of its
//! own and reads back only the mails to them.

use std::time::Duration;

use ticketing::{Currency, Money, OrderId, TicketCode};
use ticketing_app::documents::{PrintedTicket, TicketDocuments, TicketSheet};
use ticketing_app::mail::{Attachment, Mail, MailError, Mailer};
use ticketing_pdf::PdfTickets;
use ticketing_smtp::SmtpMailer;
use ticketing_smtp::testing::{smtp_url, unique_address, wait_for_mails};

const FROM: &str = "Cloudbash <tickets@cloudbash.example>";

fn mail(to: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Your tickets for Café Olé – Night Shift".to_owned(),
        text: "Hello,\n\nyour tickets for Night Shift are attached.\nSee you at the door!\n".to_owned(),
        message_id: format!("<tickets.{}@cloudbash>", to.split('@').next().unwrap_or_default()),
        attachments: Vec::new(),
    }
}

/// Two tickets, drawn as the shop mails them.
fn tickets_pdf() -> Vec<u8> {
    let ticket = |code: &str| PrintedTicket {
        code: TicketCode::new(code).expect("a ticket code"),
        concert: "Café Olé".to_owned(),
        venue: "Paradiso".to_owned(),
        city: "Amsterdam".to_owned(),
        starts_at: "Sat 14 March 2026, 20:00 CET".to_owned(),
        ticket_type: "Standing".to_owned(),
        price: Money::new(4500, Currency::new("EUR").expect("a currency")),
    };
    let sheet = TicketSheet {
        order_id: OrderId(uuid::Uuid::from_u128(42)),
        tickets: vec![ticket("AAAABBBBCCCCDDDD"), ticket("EEEEFFFFGGGGHHHH")],
    };
    PdfTickets::new().tickets_pdf(&sheet).expect("drawn")
}

/// Bytes that break a careless encoder: every byte value, CRs and LFs alone,
/// a line starting with a dot, and a "From " line.
fn awkward_bytes() -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n.\r\n.hidden\rFrom here\n".to_vec();
    bytes.extend((0..=255u8).cycle().take(70_000));
    bytes
}

#[tokio::test]
async fn a_mail_with_a_pdf_arrives_whole() {
    let to = unique_address("tickets");
    let mut sent = mail(&to);
    sent.attachments.push(Attachment {
        file_name: "tickets.pdf".to_owned(),
        content_type: "application/pdf".to_owned(),
        bytes: tickets_pdf(),
    });
    sent.attachments.push(Attachment {
        file_name: "every byte.bin".to_owned(),
        content_type: "application/octet-stream".to_owned(),
        bytes: awkward_bytes(),
    });
    sent.attachments.push(Attachment {
        file_name: "Zürich notes.txt".to_owned(),
        content_type: "text/plain; charset=utf-8".to_owned(),
        bytes: "ß and €\n".as_bytes().to_vec(),
    });
    let mailer = SmtpMailer::new(&smtp_url(), FROM).expect("a mailer for the sink");
    mailer.send(&sent).await.expect("the sink takes the mail");

    let received = wait_for_mails(&to, 1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    let received = &received[0];
    assert_eq!(received.from, "tickets@cloudbash.example");
    assert_eq!(received.subject, sent.subject);
    assert_eq!(received.message_id, sent.message_id);
    assert_eq!(received.text.replace("\r\n", "\n"), sent.text);
    assert_eq!(received.attachments.len(), 3);
    let pdf = &received.attachments[0];
    assert_eq!((pdf.file_name.as_str(), pdf.content_type.as_str()), ("tickets.pdf", "application/pdf"));
    assert!(pdf.bytes == sent.attachments[0].bytes, "the PDF's bytes round-trip exactly");
    let binary = &received.attachments[1];
    assert_eq!(binary.content_type, "application/octet-stream");
    assert!(binary.bytes == sent.attachments[1].bytes, "every byte value round-trips");
    let notes = &received.attachments[2];
    assert_eq!((notes.file_name.as_str(), notes.content_type.as_str()), ("Zürich notes.txt", "text/plain"));
    assert_eq!(notes.bytes, sent.attachments[2].bytes);
}

#[tokio::test]
async fn the_same_mail_sent_twice_carries_the_same_message_id() {
    let to = unique_address("again");
    let mailer = SmtpMailer::new(&smtp_url(), FROM).expect("a mailer for the sink");
    let sent = mail(&to);
    mailer.send(&sent).await.expect("sent");
    mailer.send(&sent).await.expect("sent again");
    let received = wait_for_mails(&to, 2, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|mail| mail.message_id == sent.message_id));
}

#[tokio::test]
async fn a_malformed_recipient_is_refused() {
    let mailer = SmtpMailer::new(&smtp_url(), FROM).expect("a mailer for the sink");
    for to in ["not an address", "fan@@example.com", "fan@example.com>, other@example.com"] {
        match mailer.send(&mail(to)).await {
            Err(MailError::Refused(reason)) => assert!(reason.contains("recipient"), "{reason}"),
            other => panic!("{to:?} is refused, not {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_server_that_is_not_there_is_unavailable() {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("bound").port();
    let mailer = SmtpMailer::new(&format!("smtp://127.0.0.1:{port}"), FROM).expect("a mailer");
    match mailer.send(&mail(&unique_address("nowhere"))).await {
        Err(MailError::Unavailable(cause)) => {
            let chain = std::iter::successors(Some(&*cause as &dyn std::error::Error), |error| error.source())
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(": ");
            assert!(chain.contains(&format!("127.0.0.1:{port}")), "{chain}");
        }
        other => panic!("an absent server is unavailable, not {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_unavailable_after_the_limit() {
    // Accepts the connection and never greets.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a listener");
    let port = listener.local_addr().expect("bound").port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let limit = Duration::from_millis(300);
    let mailer = SmtpMailer::with_timeout(&format!("smtp://127.0.0.1:{port}"), FROM, limit).expect("a mailer");
    let started = std::time::Instant::now();
    let outcome = mailer.send(&mail(&unique_address("silent"))).await;
    assert!(matches!(outcome, Err(MailError::Unavailable(_))), "{outcome:?}");
    assert!(started.elapsed() < limit * 10, "gave up after {:?}", started.elapsed());
    silent.abort();
}

/// A server that greets, takes EHLO and MAIL FROM, and answers RCPT TO (or
/// AUTH, which it offers) with `reply`: the replies a real server gives a
/// mail it will not take, now or ever.
async fn scripted_server(reply: &'static str) -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a listener");
    let port = listener.local_addr().expect("bound").port();
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            if write.write_all(b"220 scripted ESMTP\r\n").await.is_err() {
                continue;
            }
            while let Ok(Some(line)) = lines.next_line().await {
                let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                let answer = match verb.as_str() {
                    "EHLO" => "250-scripted\r\n250 AUTH PLAIN LOGIN\r\n".to_owned(),
                    "MAIL" | "RSET" | "NOOP" => "250 OK\r\n".to_owned(),
                    "RCPT" | "AUTH" => format!("{reply}\r\n"),
                    "QUIT" => "221 Bye\r\n".to_owned(),
                    _ => "502 Not implemented\r\n".to_owned(),
                };
                if write.write_all(answer.as_bytes()).await.is_err() || verb == "QUIT" {
                    break;
                }
            }
        }
    });
    (port, server)
}

#[tokio::test]
async fn a_permanent_reply_refuses_the_mail() {
    let (port, server) = scripted_server("550 5.1.1 No such user here").await;
    let mailer = SmtpMailer::new(&format!("smtp://127.0.0.1:{port}"), FROM).expect("a mailer");
    match mailer.send(&mail(&unique_address("nosuchuser"))).await {
        Err(MailError::Refused(reason)) => assert!(reason.contains("No such user"), "{reason}"),
        other => panic!("a 550 refuses the mail, not {other:?}"),
    }
    server.abort();
}

#[tokio::test]
async fn a_transient_reply_is_unavailable_with_the_servers_words() {
    let (port, server) = scripted_server("451 4.3.0 Try again later").await;
    let mailer = SmtpMailer::new(&format!("smtp://127.0.0.1:{port}"), FROM).expect("a mailer");
    match mailer.send(&mail(&unique_address("later"))).await {
        Err(MailError::Unavailable(cause)) => {
            let source = std::error::Error::source(&*cause).map(ToString::to_string).unwrap_or_default();
            assert!(source.contains("451") && source.contains("Try again later"), "{source}");
        }
        other => panic!("a 451 is unavailable, not {other:?}"),
    }
    server.abort();
}

#[tokio::test]
async fn a_refused_login_is_unavailable_not_a_refused_mail() {
    let (port, server) = scripted_server("535 5.7.8 Authentication credentials invalid").await;
    let mailer = SmtpMailer::new(&format!("smtp://shop:wrong@127.0.0.1:{port}"), FROM).expect("a mailer");
    match mailer.send(&mail(&unique_address("login"))).await {
        Err(MailError::Unavailable(cause)) => {
            let source = std::error::Error::source(&*cause).map(ToString::to_string).unwrap_or_default();
            assert!(source.contains("535"), "{source}");
        }
        other => panic!("a 535 to the login is unavailable, not {other:?}"),
    }
    server.abort();
}
