//! Abuse: bodies far too large, clients that send a byte at a time, and strangers
//! probing for consent IDs. Each is refused early, and other clients keep being
//! served. (The flood of one client against the rate limit: `ops.rs`.)

use std::time::{Duration, Instant};

use futures_util::{StreamExt as _, stream};
use keksdose_tests::TestServer;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::api::{decide, get_json};

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.base_url().trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads an HTTP answer: until its JSON body is complete or the peer closes,
/// for at most `patience`.
async fn read_answer(rd: &mut (impl AsyncReadExt + Unpin), patience: Duration) -> String {
    let mut buf = Vec::new();
    let deadline = Instant::now() + patience;
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), rd.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
        let text = String::from_utf8_lossy(&buf);
        if let Some(i) = text.find("\r\n\r\n")
            && text[i..].trim_end().ends_with('}')
        {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The server still records a decision from an ordinary client.
async fn still_serves(http: &reqwest::Client, server: &TestServer) {
    decide(http, server, "saas", "reject_all").await;
}

#[tokio::test]
async fn a_100_mb_body_is_refused_without_being_read() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();

    // Declared: 100 MB. The answer comes before a byte of the body is sent.
    let (mut rd, mut wr) = connect(&server).await.into_split();
    wr.write_all(
        b"POST /v1/sites/saas/consents HTTP/1.1\r\nHost: t\r\n\
          Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n",
    )
    .await
    .unwrap();
    let answer = read_answer(&mut rd, Duration::from_secs(15)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "declared: {answer}");
    assert!(
        answer.contains("\"payload_too_large\""),
        "declared: {answer}"
    );
    drop((rd, wr));

    // Not declared (chunked): the client sends 100 MB at 10 MB/s; the server
    // answers once its limit is passed and closes the connection (after a short
    // linger that lets the answer arrive), so the client gets nowhere near
    // 100 MB out. (Left to itself, actix would read a dropped chunked body to its
    // end to keep the connection.)
    let (mut rd, mut wr) = connect(&server).await.into_split();
    wr.write_all(
        b"POST /v1/sites/saas/consents HTTP/1.1\r\nHost: t\r\n\
          Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await
    .unwrap();
    let writer = tokio::spawn(async move {
        let mut framed = format!("{:x}\r\n", 64 * 1024).into_bytes();
        framed.extend_from_slice(&[b' '; 64 * 1024]);
        framed.extend_from_slice(b"\r\n");
        let mut sent = 0usize;
        while sent < 100 << 20 {
            match tokio::time::timeout(Duration::from_secs(2), wr.write_all(&framed)).await {
                Ok(Ok(())) => sent += 64 * 1024,
                _ => break, // refused or no longer read
            }
            if sent.is_multiple_of(1 << 20) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        sent
    });
    let answer = read_answer(&mut rd, Duration::from_secs(30)).await;
    let sent = writer.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "chunked: {answer}");
    assert!(
        answer.contains("\"payload_too_large\""),
        "chunked: {answer}"
    );
    assert!(
        sent < 32 << 20,
        "{sent} bytes of the 100 MB got out before the server stopped reading"
    );
    still_serves(&http, &server).await;
}

#[tokio::test]
async fn slow_loris_connections_are_cut_off_while_others_are_served() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();

    // 64 connections sending their request head a byte every half second, and
    // 8 sending a declared 200-byte body the same way.
    let mut heads = Vec::new();
    for _ in 0..64 {
        let mut c = connect(&server).await;
        c.write_all(b"POST /v1/sites/saas/consents HTTP/1.1\r\nHost: t\r\n")
            .await
            .unwrap();
        heads.push(c);
    }
    let mut bodies = Vec::new();
    for _ in 0..8 {
        let mut c = connect(&server).await;
        c.write_all(
            b"POST /v1/sites/saas/consents HTTP/1.1\r\nHost: t\r\n\
              Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{",
        )
        .await
        .unwrap();
        bodies.push(c);
    }
    still_serves(&http, &server).await;

    // The head timeout is 5 s, the body timeout 10 s: within 30 s every slow
    // connection must have been answered 408 or closed.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut open_heads: Vec<TcpStream> = heads;
    let mut open_bodies: Vec<(TcpStream, String)> =
        bodies.into_iter().map(|c| (c, String::new())).collect();
    let mut body_answers = Vec::new();
    while !(open_heads.is_empty() && open_bodies.is_empty()) {
        assert!(
            Instant::now() < deadline,
            "{} slow heads and {} slow bodies still open after 30 s",
            open_heads.len(),
            open_bodies.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut still = Vec::new();
        for mut c in open_heads {
            if c.write_all(b"X").await.is_ok() && !closed(&mut c, &mut String::new()).await {
                still.push(c);
            }
        }
        open_heads = still;
        let mut still = Vec::new();
        for (mut c, mut got) in open_bodies {
            if c.write_all(b" ").await.is_ok() && !closed(&mut c, &mut got).await {
                still.push((c, got));
            } else {
                body_answers.push(got);
            }
        }
        open_bodies = still;
        still_serves(&http, &server).await;
    }
    for answer in &body_answers {
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    assert!(
        body_answers
            .iter()
            .any(|a| a.contains("\"request_timeout\"")),
        "a slow body is answered with the JSON error: {body_answers:?}"
    );
}

/// Whether the peer answered or closed; what it sent is appended to `got`.
async fn closed(c: &mut TcpStream, got: &mut String) -> bool {
    let mut buf = [0u8; 4096];
    match tokio::time::timeout(Duration::from_millis(20), c.read(&mut buf)).await {
        Err(_) => false, // nothing yet: still open
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(n)) => {
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
            // An answer (408) ends the exchange; read on until the close.
            got.contains("\r\n\r\n") && got.trim_end().ends_with('}')
        }
    }
}

/// A well-formed consent ID nobody was given (the real ones are 16 random bytes,
/// base64url).
fn random_id(i: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(i);
    let a = h.finish();
    h.write_u64(a);
    format!("{a:016x}{:06x}", h.finish() & 0xff_ffff)
}

#[tokio::test]
async fn ten_thousand_probed_consent_ids_reveal_nothing_and_the_prober_is_limited() {
    // Without a limit: 10,000 guesses, 10,000 identical 404s.
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let real = decide(&http, &server, "saas", "accept_all").await;
    let answers: Vec<(StatusCode, Value)> = stream::iter(0..10_000u64)
        .map(|i| {
            let (http, url) = (
                http.clone(),
                server.url(&format!("/v1/consents/{}", random_id(i))),
            );
            async move {
                let resp = http.get(url).send().await.unwrap();
                (resp.status(), resp.json().await.unwrap_or(Value::Null))
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let first = &answers[0].1;
    assert!(
        answers
            .iter()
            .all(|(s, body)| *s == StatusCode::NOT_FOUND && body == first),
        "every guess gets the same 404: {first}"
    );
    assert_eq!(first["error"]["code"], "not_found");
    let id = real["consent_id"].as_str().unwrap();
    let resp = http
        .get(server.url(&format!("/v1/consents/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the real ID is found");
    drop(server);

    // With the default limit for visitors' histories (60 a minute, 20 at once):
    // the prober is stopped after its burst; other routes still answer it.
    let server = TestServer::start_with(|c| {
        c.env("KEKSDOSE_RATE_HISTORY", "60:20");
    })
    .await
    .unwrap();
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..200u64 {
        let resp = http
            .get(server.url(&format!("/v1/consents/{}", random_id(i))))
            .send()
            .await
            .unwrap();
        *statuses.entry(resp.status().as_u16()).or_insert(0) += 1;
    }
    assert_eq!(statuses.keys().copied().collect::<Vec<_>>(), [404, 429]);
    assert!(
        statuses[&404] <= 25,
        "at most the burst (and what refilled) gets through: {statuses:?}"
    );
    get_json(&http, &server, "/v1/sites/saas/config", None).await;
}
