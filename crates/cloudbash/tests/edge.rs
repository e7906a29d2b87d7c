//! The HTTP edge of the real `cloudbash serve`, met over raw TCP where HTTP
//! clients would hide what matters: an oversized upload always reads its 413
//! (never a connection reset), silent connections neither keep others out
//! nor stay open past the header timeout, and a caller past its command rate
//! gets a 429 while another caller is served.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use support::{Backend, Caller, Server, token, user};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// `ticketing_api::limits::REQUEST_BODY_BYTES_MAX`.
const BODY_LIMIT: usize = 64 * 1024;

/// How long a test client waits for any one answer.
const ANSWER_WAIT_MAX: Duration = Duration::from_secs(10);

fn address(server: &Server) -> String {
    server.base.strip_prefix("http://").expect("an http address").to_owned()
}

/// A response read off the wire: status, headers (lower-case names) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// Parses a whole response, read until the server closed the connection.
fn parse_answer(bytes: &[u8]) -> Answer {
    let split = bytes.windows(4).position(|window| window == b"\r\n\r\n").expect("a complete response head");
    let head = std::str::from_utf8(&bytes[..split]).expect("a response head is text");
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|line| line.split(' ').nth(1)).and_then(|code| code.parse().ok());
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Answer { status: status.expect("a status line"), headers, body: bytes[split + 4..].to_vec() }
}

/// Sends a command with a body three times the limit on a fresh connection and reads the answer. The client's send
/// buffer is small, so that it is still sending when the server answers, as a client on a real network is.
async fn upload_too_much(addr: SocketAddr) -> std::io::Result<Answer> {
    let socket = TcpSocket::new_v4()?;
    socket.set_send_buffer_size(4 * 1024)?;
    let mut stream = socket.connect(addr).await?;
    let body = vec![b' '; 3 * BODY_LIMIT];
    let head = format!(
        "POST /venues HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(ANSWER_WAIT_MAX, stream.read_to_end(&mut answer)).await??;
    Ok(parse_answer(&answer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_oversized_upload_reads_its_413_rather_than_a_reset() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A command rate the uploads stay within: all fifty come from one address.
    let flags = ["--commands-per-second", "1000", "--command-burst", "1000"];
    let server = Server::start_with(dir.path(), &Backend::Embedded, &flags);
    let addr: SocketAddr = address(&server).parse().expect("an address");

    // Fifty uploads, ten at a time, each on its own connection.
    for _ in 0..5 {
        let uploads: Vec<_> = (0..10).map(|_| tokio::spawn(upload_too_much(addr))).collect();
        for upload in uploads {
            let answer = upload.await.expect("an upload task");
            let answer = answer.unwrap_or_else(|error| panic!("an oversized upload lost its answer: {error}"));
            assert_eq!(answer.status, 413);
            assert_eq!(answer.header("content-type"), Some("application/problem+json"));
            let problem: Value = serde_json::from_slice(&answer.body).expect("a problem is JSON");
            assert_eq!(problem["status"], 413);
        }
    }
    server.stop();
}

/// Whether the server has neither closed nor reset `stream`: a read would wait.
fn is_open(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("non-blocking");
    let open = matches!(stream.peek(&mut [0; 1]), Err(error) if error.kind() == ErrorKind::WouldBlock);
    stream.set_nonblocking(false).expect("blocking again");
    open
}

#[test]
fn silent_connections_neither_keep_others_out_nor_stay_open_past_the_header_timeout() {
    const SILENT: usize = 1_000;
    // Long enough that all of them are still open when the other client asks, even when a loaded machine takes
    // seconds to open them.
    let header_timeout = Duration::from_secs(8);
    let dir = tempfile::tempdir().expect("temp dir");
    let millis = header_timeout.as_millis().to_string();
    let server = Server::start_with(dir.path(), &Backend::Embedded, &["--header-timeout-ms", &millis]);
    let addr = address(&server);
    let opened = Instant::now();
    let mut silent: Vec<TcpStream> =
        (0..SILENT).map(|_| TcpStream::connect(&addr).expect("the server accepts a connection")).collect();

    let asked = Instant::now();
    let mut other = TcpStream::connect(&addr).expect("the server accepts another client");
    other.set_read_timeout(Some(ANSWER_WAIT_MAX)).expect("a timeout");
    write!(other, "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("the request is sent");
    let mut answer = Vec::new();
    other.read_to_end(&mut answer).expect("the other client is answered");
    let answer = parse_answer(&answer);

    assert_eq!(answer.status, 200);
    assert!(asked.elapsed() < Duration::from_secs(1), "answered promptly, not after {:?}", asked.elapsed());
    let open = silent.iter().filter(|stream| is_open(stream)).count();
    assert_eq!(open, SILENT, "the silent connections were all open meanwhile");
    let deadline = opened + header_timeout + Duration::from_secs(5);
    for (index, stream) in silent.iter_mut().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        stream.set_read_timeout(Some(left)).expect("a timeout");
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
            Err(error) => panic!("silent connection {index} is still open after the header timeout: {error}"),
        }
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_past_its_command_rate_gets_a_429_while_another_is_served() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flags = ["--commands-per-second", "1", "--command-burst", "2"];
    let server = Server::start_with(dir.path(), &Backend::Embedded, &flags);
    let http = Client::new();
    let eager = Caller { http: http.clone(), base: server.base.clone(), token: Some(token(dir.path(), &user(), true)) };
    let patient = Caller { token: Some(token(dir.path(), &user(), true)), ..eager.clone() };
    let venue = || json!({"name": "Hall", "address": "Main Street 1", "city": "Leiden", "capacity": 100});
    for _ in 0..2 {
        eager.expect(Method::POST, "/venues", Some(venue()), StatusCode::CREATED).await;
    }

    let refused = http
        .post(format!("{}/venues", server.base))
        .bearer_auth(eager.token.as_deref().expect("a token"))
        .json(&venue())
        .send()
        .await
        .expect("the server answers");

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(refused.headers()["content-type"], "application/problem+json");
    patient.expect(Method::POST, "/venues", Some(venue()), StatusCode::CREATED).await;
    eager.expect(Method::GET, "/venues", None, StatusCode::OK).await;
    server.stop();
}
