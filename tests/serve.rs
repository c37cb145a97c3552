//! `chl serve` as a process: it starts on a real socket, answers, and on SIGTERM drains the
//! requests in flight, makes everything acknowledged durable, signs a checkpoint of it and
//! exits 0.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A running `chl serve` on a free port, and the address it printed.
fn start_server(dir: &Path) -> (Child, SocketAddr, BufReader<std::process::ChildStderr>) {
    let mut child = chl_command()
        .args(["--data", dir.to_str().unwrap(), "serve", "--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chl serve");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .parse()
        .unwrap();
    (child, addr, stderr)
}

/// One request on its own connection (`Connection: close`); `(status, body)`.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {response:?}")))?;
    let body = response.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned());
    Ok((status, body))
}

fn sale(order: &str) -> String {
    format!(
        r#"{{"type":"sale_recorded","actor":"platform","data":{{"order":"{order}","store":"acme-flagship","sku":"ACME-CREAM-50","quantity":1,"unit_price":{{"value":29900,"currency":"CNY"}},"payment_ref":"PAY-{order}"}}}}"#
    )
}

fn sigterm(child: &Child) {
    let status =
        std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "chl serve did not exit within {within:?} of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_drains_in_flight_appends_and_every_acknowledged_record_is_kept() {
    let (_scratch, dir) = sample_ledger();
    let token = chl(&dir, &["token", "issue", "--principal", "platform", "--role", "platform"]).ok().stdout;
    let token = token.trim().to_owned();
    let (mut child, addr, mut stderr) = start_server(&dir);

    let (status, body) = request(addr, "POST", "/v1/events", &token, &sale("TM-SERVE-0")).unwrap();
    assert_eq!(status, 201, "{body}");

    // Writers keep appending until the server goes away; each remembers what was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (token, stop) = (token.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let order = format!("TM-SERVE-{w}-{n}");
                    match request(addr, "POST", "/v1/events", &token, &sale(&order)) {
                        Ok((201, body)) => {
                            let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
                            acknowledged.push((order, doc["records"][0]["seq"].as_u64().unwrap()));
                        }
                        Ok((503, _)) | Err(_) => break,
                        Ok((status, body)) => panic!("{status}: {body}"),
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&child);
    let status = wait_exit(&mut child, Duration::from_secs(20));
    stop.store(true, Ordering::Relaxed);
    let acknowledged: Vec<(String, u64)> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "exit {status:?}: {rest}");
    assert!(rest.contains("stopped cleanly"), "{rest}");
    assert!(acknowledged.len() > 10, "the writers got going: {}", acknowledged.len());

    // Every acknowledged sale is in the log at the seq the server named, and the chain and
    // the latest checkpoint (signed on the way out) cover it all.
    chl(&dir, &["verify"]).ok();
    let export = export(&dir);
    let records = parse_lines(&export);
    for (order, seq) in &acknowledged {
        let record = &records[*seq as usize];
        assert_eq!(record["data"]["order"].as_str(), Some(order.as_str()), "seq {seq}");
    }
    let checkpoint = chl(&dir, &["checkpoint"]).ok().stdout;
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(size, records.len() as u64, "the last checkpoint covers every record");
}

#[test]
fn sigterm_ends_live_tails_so_the_server_can_stop() {
    let (_scratch, dir) = sample_ledger();
    let token = chl(&dir, &["token", "issue", "--principal", "audit-co", "--role", "auditor"]).ok().stdout;
    let (mut child, addr, _stderr) = start_server(&dir);
    let mut tail = TcpStream::connect(addr).unwrap();
    write!(
        tail,
        "GET /v1/stream?from=0 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        token.trim()
    )
    .unwrap();
    tail.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut first = [0u8; 512];
    let n = tail.read(&mut first).unwrap();
    let head = String::from_utf8_lossy(&first[..n]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    sigterm(&child);
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_live_tail_that_never_reads_does_not_hold_up_appends() {
    let (_scratch, dir) = sample_ledger();
    let platform =
        chl(&dir, &["token", "issue", "--principal", "platform", "--role", "platform"]).ok().stdout;
    let auditor = chl(&dir, &["token", "issue", "--principal", "audit-co", "--role", "auditor"]).ok().stdout;
    let (platform, auditor) = (platform.trim().to_owned(), auditor.trim().to_owned());
    let (mut child, addr, _stderr) = start_server(&dir);
    // A follower that asks for everything and then reads nothing: its socket buffers fill.
    let mut stalled = TcpStream::connect(addr).unwrap();
    write!(
        stalled,
        "GET /v1/stream?from=0 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {auditor}\r\n\r\n"
    )
    .unwrap();
    let started = Instant::now();
    for batch in 0..60 {
        let sales: Vec<String> = (0..100).map(|n| sale(&format!("TM-STALL-{batch}-{n}"))).collect();
        let (status, body) =
            request(addr, "POST", "/v1/events", &platform, &format!("[{}]", sales.join(","))).unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(20), "6,000 appends took {elapsed:?} beside a stalled follower");
    // The follower is still served once it reads: its first event is record 0.
    stalled.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = [0u8; 4096];
    let n = stalled.read(&mut head).unwrap();
    let text = String::from_utf8_lossy(&head[..n]);
    assert!(text.starts_with("HTTP/1.1 200") && text.contains("id: 0"), "{text}");
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
}
