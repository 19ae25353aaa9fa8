//! A create whose first attempt reached the server but lost its answer, then was told "already
//! exists" on the retry: the resource is ours and is taken over without `adopt`.
//!
//! The emulator drops connections before handling them, so this case is played by a loopback
//! server that answers a fixed script of responses.

use athanor_cloudflare::{Auth, Client, ClientConfig, CloudflareProvider};
use athanor_core::stack::KvNamespace;
use athanor_core::{Output, Provider};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::{Decl, fast_retry};

/// Serves one response per connection, in order; `None` reads the request and hangs up.
async fn scripted_server(
    responses: Vec<Option<(u16, String)>>,
) -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        for response in responses {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head and the body (Content-Length).
            loop {
                let n = socket.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len || n == 0 {
                        seen.push(text.lines().next().unwrap_or("").to_owned());
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            match response {
                None => drop(socket),
                Some((status, body)) => {
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    socket.write_all(head.as_bytes()).await.unwrap();
                    socket.write_all(body.as_bytes()).await.unwrap();
                    socket.shutdown().await.ok();
                }
            }
        }
        seen
    });
    (format!("http://{addr}/client/v4"), task)
}

#[tokio::test]
async fn a_conflict_after_a_lost_answer_is_our_own_create() {
    let exists = r#"{"success":false,"errors":[{"code":10014,"message":"a namespace with this account ID and title already exists"}],"messages":[],"result":null}"#;
    let list = r#"{"success":true,"errors":[],"messages":[],"result":[{"id":"0123456789abcdef0123456789abcdef","title":"lost-answer"}],"result_info":{"page":1,"per_page":100,"count":1,"total_count":1}}"#;
    let (base, server) = scripted_server(vec![
        None,
        Some((400, exists.to_owned())),
        Some((200, list.to_owned())),
    ])
    .await;
    let mut config = ClientConfig::new(base, Auth::Token(SecretString::from("t")));
    config.account_id = Some("a".repeat(32));
    config.retry = fast_retry();
    let provider = CloudflareProvider::new(Client::connect(config).await.unwrap());
    let decl = Decl::new("kv", "lost-answer", KvNamespace::default());
    let out = provider.create(&decl.desired()).await.unwrap();
    assert!(matches!(&out, Output::KvNamespace(o) if o.id == "0123456789abcdef0123456789abcdef"));
    let seen = server.await.unwrap();
    assert!(
        seen[0].starts_with("POST ") && seen[1].starts_with("POST ") && seen[2].starts_with("GET "),
        "{seen:?}"
    );
}
