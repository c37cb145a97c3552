//! End-to-end tests of the HTTP API of spec/http.md, over a real socket with a real HTTP client:
//! bad input, tokens, roles, public endpoints, the live tail, and a sweep of hostile requests
//! over every endpoint. Every refusal must be the right 4xx with a clear JSON message, leave
//! the log as it was, and no client input may cause a 5xx.
//!
//! Each test runs its own server (tests/common), over a ledger of the sample history
//! replay/samples/acme-channel.jsonl, so that counters, rate limits and the log of one test
//! are not disturbed by another.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chl_server::endpoints::{Endpoint, In, Method as SpecMethod};
use chl_server::tokens::{Revoke, Role};
use common::*;
use hyper::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// A sale of the sample's flagship store, new order id `order`, at a fixed time in the past.
fn sale(order: &str) -> Value {
    json!({
        "type": "sale_recorded",
        "actor": "platform",
        "effective_at": "2013-07-01T10:00:00Z",
        "data": {
            "order": order,
            "store": "acme-flagship",
            "sku": "ACME-CREAM-50",
            "quantity": 1,
            "unit_price": {"value": 29900, "currency": "CNY"}
        }
    })
}

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON")
}

/// A sale with `field` of `data` replaced by `value` (or removed, for `Value::Null`).
fn sale_with(order: &str, field: &str, value: Value) -> Vec<u8> {
    let mut sale = sale(order);
    if value.is_null() {
        sale["data"].as_object_mut().unwrap().remove(field);
    } else {
        sale["data"][field] = value;
    }
    body(&sale)
}

/// The verdict of `order` as the platform sees it (`unknown_order` for one never recorded).
fn verdict_kind(fx: &Fixture, order: &str) -> String {
    let resp = fx.get(Who::Platform, &format!("/v1/orders/{order}/verdict"));
    resp.expect(200);
    resp.json()["verdict"].as_str().expect("a verdict").to_owned()
}

// ---- malformed submissions ----------------------------------------------------------------

#[test]
fn malformed_json_is_400_and_appends_nothing() {
    let fx = Fixture::start();
    let before = fx.log_state();
    let cases: &[&[u8]] = &[
        b"",
        b"not json",
        b"{",
        br#"{"type": "sale_recorded", "actor": "platform", "data": {"order": "X-1""#,
        br#"{"type": "sale_recorded",}"#,
        br#"{'type': 'sale_recorded'}"#,
        br#"{"type": "sale_recorded", "actor": "platform", "data": {}} trailing"#,
        br#"{"type": "sale_recorded", "actor": "platform", "data": {}}{"type": "x"}"#,
        br#"[{"type": "sale_recorded", "actor": "platform""#,
        b"[",
        b"[1,]",
        b"\xEF\xBB\xBF{}",
    ];
    for case in cases {
        let resp = fx.post(Who::Platform, *case);
        assert_error(&resp, 400, "malformed", &[]);
    }
    // Nesting far beyond any parser's recursion limit is malformed, not a crash.
    let closed = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let deep_data = format!(
        r#"{{"type":"sale_recorded","actor":"platform","data":{{"order":{}{}}}}}"#,
        "[".repeat(30_000),
        "]".repeat(30_000)
    );
    let deep_unknown = format!(r#"{{"type":"sale_recorded","actor":"platform","x":{closed},"data":{{}}}}"#);
    for deep in [
        "[".repeat(60_000),
        "{\"a\":".repeat(10_000),
        format!("[{}", "{\"a\":[".repeat(8_000)),
        closed.clone(),
        format!("[{closed}]"),
        deep_data,
        deep_unknown,
    ] {
        let resp = fx.post(Who::Platform, deep);
        assert_error(&resp, 400, "malformed", &[]);
    }
    fx.assert_unchanged(&before);
}

#[test]
fn json_that_is_not_a_submission_object_is_400() {
    let fx = Fixture::start();
    let before = fx.log_state();
    for case in ["42", "\"sale_recorded\"", "null", "true", "{}", "[[]]", "[1, 2]", "[null]"] {
        let resp = fx.post(Who::Platform, case);
        let body = assert_error(&resp, 400, "malformed", &[]);
        if case.starts_with("[[") || case.starts_with("[1") || case.starts_with("[n") {
            assert_eq!(body["index"], 0, "the refused submission of the batch is named: {body}");
            assert!(body["message"].as_str().unwrap().contains("submission 0"), "{body}");
        }
    }
    fx.assert_unchanged(&before);
}

#[test]
fn wrong_types_are_400_naming_the_field() {
    let fx = Fixture::start();
    let before = fx.log_state();
    let cases = [
        (sale_with("WT-1", "quantity", json!("1")), "data.quantity"),
        (sale_with("WT-2", "quantity", json!(1.5)), "data.quantity"),
        (sale_with("WT-3", "quantity", json!(true)), "data.quantity"),
        (sale_with("WT-4", "unit_price", json!({"value": "29900", "currency": "CNY"})), "data.unit_price"),
        (sale_with("WT-5", "unit_price", json!(29900)), "data.unit_price"),
        (sale_with("WT-6", "store", json!(["acme-flagship"])), "data.store"),
        (sale_with("WT-7", "order", json!({"id": "WT-7"})), "data.order"),
        (sale_with("WT-8", "region", json!(31)), "data.region"),
    ];
    for (case, field) in cases {
        let resp = fx.post(Who::Platform, case);
        let body = assert_refused(&resp, 400, "form", &[field]);
        assert!(body["field"].as_str().is_some_and(|f| f.starts_with(field)), "{body}");
    }
    let mut actor_number = sale("WT-9");
    actor_number["actor"] = json!(7);
    assert_refused(&fx.post(Who::Platform, body(&actor_number)), 400, "form", &["actor"]);
    let mut time_number = sale("WT-10");
    time_number["effective_at"] = json!(1_370_000_000);
    assert_refused(&fx.post(Who::Platform, body(&time_number)), 400, "form", &["effective_at"]);
    let mut bad_time = sale("WT-11");
    bad_time["effective_at"] = json!("2013-02-30T00:00:00Z");
    assert_refused(&fx.post(Who::Platform, body(&bad_time)), 400, "form", &["effective_at"]);
    let mut data_array = sale("WT-12");
    data_array["data"] = json!([]);
    assert_refused(&fx.post(Who::Platform, body(&data_array)), 400, "form", &[]);
    let mut type_number = sale("WT-13");
    type_number["type"] = json!(12);
    assert_refused(&fx.post(Who::Platform, body(&type_number)), 400, "form", &["type"]);
    fx.assert_unchanged(&before);
}

#[test]
fn unknown_fields_and_types_are_400_naming_them() {
    let fx = Fixture::start();
    let before = fx.log_state();
    let mut top = sale("UF-1");
    top["priority"] = json!("high");
    assert_refused(&fx.post(Who::Platform, body(&top)), 400, "form", &["priority"]);

    let resp = fx.post(Who::Platform, sale_with("UF-2", "discount", json!(100)));
    assert_refused(&resp, 400, "form", &["discount"]);

    let mut nested = sale("UF-3");
    nested["data"]["unit_price"]["tax"] = json!(0);
    assert_refused(&fx.post(Who::Platform, body(&nested)), 400, "form", &["tax"]);

    let mut unknown_type = sale("UF-4");
    unknown_type["type"] = json!("sale_teleported");
    let body_json =
        assert_refused(&fx.post(Who::Platform, body(&unknown_type)), 400, "form", &["sale_teleported"]);
    assert_eq!(body_json["field"], "type");

    // The ledger's own record 0 is written by `chl init` only.
    let created = json!({"type": "ledger_created", "actor": "platform",
        "data": {"origin": "evil.example", "public_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}});
    let resp = fx.post(Who::Platform, body(&created));
    assert_refused(&resp, 409, "authority", &["ledger_created"]);
    fx.assert_unchanged(&before);
}

#[test]
fn missing_required_fields_are_400_naming_them() {
    let fx = Fixture::start();
    let before = fx.log_state();
    for field in ["order", "store", "sku", "quantity", "unit_price"] {
        let resp = fx.post(Who::Platform, sale_with("MF-1", field, Value::Null));
        assert_refused(&resp, 400, "form", &[field]);
    }
    for field in ["type", "actor", "data"] {
        let mut case = sale("MF-2");
        case.as_object_mut().unwrap().remove(field);
        assert_refused(&fx.post(Who::Platform, body(&case)), 400, "form", &[field]);
    }
    fx.assert_unchanged(&before);
}

#[test]
fn invalid_utf8_is_400() {
    let fx = Fixture::start();
    let before = fx.log_state();
    let resp = fx.post(Who::Platform, b"\xff\xfe\x00{".to_vec());
    assert_error(&resp, 400, "malformed", &["UTF-8"]);
    // Raw invalid bytes inside an otherwise good submission's string: a broken two-byte
    // sequence, an overlong '/', a lone continuation byte, an encoded surrogate.
    for raw in [b"\xC3\x28".as_slice(), b"\xC0\xAF", b"\x80", b"\xED\xA0\x80"] {
        let resp = fx.post(Who::Platform, with_raw_order(&sale("UTF-1"), "UTF-1", raw));
        assert_error(&resp, 400, "malformed", &["UTF-8", "offset"]);
    }
    // An escaped lone surrogate is valid UTF-8 but not text either.
    let resp = fx.post(Who::Platform, with_raw_order(&sale("UTF-2"), "UTF-2", b"UTF\\ud800"));
    assert_refused(&resp, 400, "form", &["data.order"]);
    fx.assert_unchanged(&before);
}

/// The body of `submission` with the bytes of its order id `order` replaced by `raw`.
fn with_raw_order(submission: &Value, order: &str, raw: &[u8]) -> Vec<u8> {
    let mut bytes = body(submission);
    let at = find(&bytes, order.as_bytes()).expect("the order id in the body");
    bytes.splice(at..at + order.len(), raw.iter().copied());
    bytes
}

#[test]
fn huge_numbers_are_400_not_overflows() {
    let fx = Fixture::start();
    let before = fx.log_state();
    for quantity in ["1e400", "99999999999999999999999", "4294967296", "-1", "0", "-0", "1e2", "NaN"] {
        let text = String::from_utf8(body(&sale("HN-1"))).unwrap();
        let text = text.replace("\"quantity\":1", &format!("\"quantity\":{quantity}"));
        let resp = fx.post(Who::Platform, text);
        assert_error(&resp, 400, "malformed", &[]);
        if quantity != "NaN" {
            assert!(resp.text().contains("quantity"), "quantity {quantity}: {}", resp.text());
        }
    }
    for value in ["1e400", "99999999999999999999999", "-29900", "0", "29900.5"] {
        let text = String::from_utf8(body(&sale("HN-2"))).unwrap();
        let text = text.replace("\"value\":29900", &format!("\"value\":{value}"));
        let resp = fx.post(Who::Platform, text);
        assert_error(&resp, 400, "malformed", &["unit_price"]);
    }
    // Huge numbers in query strings and paths.
    let huge = "99999999999999999999999";
    let max = u64::MAX.to_string();
    for path in [
        format!("/v1/records/{huge}"),
        format!("/v1/records?from={huge}"),
        format!("/v1/records?limit={huge}"),
        "/v1/records/-1".to_owned(),
        format!("/v1/proofs/inclusion?seq={huge}"),
        format!("/v1/proofs/inclusion?seq=1&size={huge}"),
        format!("/v1/proofs/consistency?old={huge}"),
        format!("/v1/proofs/consistency?old=1&new={huge}"),
        format!("/v1/orders/TM-20130601-0001/verdict?known_at_seq={huge}"),
        "/v1/orders/TM-20130601-0001/verdict?known_at_seq=1e3".to_owned(),
        "/v1/orders/TM-20130601-0001/verdict?known_at_seq=-1".to_owned(),
        format!("/v1/brands/acme-beauty/channel?known_at_seq={huge}"),
        format!("/v1/replay?brand=acme-beauty&limit={huge}"),
        format!("/v1/stream?from={huge}"),
    ] {
        let resp = fx.get(Who::Auditor, &path);
        assert_error(&resp, 400, "malformed", &[]);
    }
    // The largest seq there is: beyond the log, so not found or clamped, never an overflow.
    assert_error(&fx.get(Who::Auditor, &format!("/v1/records/{max}")), 404, "not_found", &[&max]);
    let page = fx.get(Who::Auditor, &format!("/v1/records?from={max}&limit=1000"));
    page.expect(200);
    assert_eq!(page.json()["records"], json!([]));
    let verdict = fx.get(Who::Auditor, &format!("/v1/orders/TM-20130601-0001/verdict?known_at_seq={max}"));
    verdict.expect(200);
    assert_eq!(verdict.json()["known_at_seq"], SAMPLE_RECORDS - 1, "known_at_seq is clamped to the head");
    fx.get(Who::Auditor, &format!("/v1/brands/acme-beauty/channel?known_at_seq={max}")).expect(200);
    assert_error(
        &fx.get(Who::Anonymous, &format!("/v1/proofs/inclusion?seq={max}")),
        404,
        "not_found",
        &[&max],
    );
    assert_error(
        &fx.get(Who::Anonymous, &format!("/v1/proofs/consistency?old=1&new={max}")),
        404,
        "not_found",
        &[&max],
    );
    // Times at and beyond the ends of the calendar.
    for at in ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"] {
        let resp = fx.get(Who::Owner, &format!("/v1/brands/acme-beauty/channel?as_of={at}"));
        assert!(resp.status() == 200 || resp.status() == 400, "as_of {at}: {}", resp.text());
    }
    for at in ["10000-01-01T00:00:00Z", "+275760-09-13T00:00:00Z", "2013-13-01T00:00:00Z", "yesterday"] {
        let resp = fx.get(Who::Owner, &format!("/v1/brands/acme-beauty/channel?as_of={at}"));
        assert_error(&resp, 400, "malformed", &[]);
    }
    fx.assert_unchanged(&before);
}

#[test]
fn an_oversize_body_is_413() {
    let fx = Fixture::start();
    let before = fx.log_state();
    // A submission whose payment reference alone is over the limit.
    let big = sale_with("BIG-1", "payment_ref", json!("x".repeat(MAX_BODY)));
    assert!(big.len() > MAX_BODY);
    let resp = fx.post(Who::Platform, big);
    assert_error(&resp, 413, "too_large", &[&MAX_BODY.to_string()]);
    // Garbage over the limit is too large before it is malformed.
    let resp = fx.post(Who::Platform, vec![b'\xff'; MAX_BODY + 1]);
    assert_error(&resp, 413, "too_large", &[]);
    // A body of exactly the limit is read (and judged on its content).
    let mut exact = sale_with("BIG-2", "payment_ref", json!("x"));
    let pad = MAX_BODY - exact.len();
    exact.extend(std::iter::repeat_n(b' ', pad));
    assert_eq!(exact.len(), MAX_BODY);
    let resp = fx.post(Who::Platform, exact);
    resp.expect(201);
    let after = fx.log_state();
    assert_eq!(after.head_seq, before.head_seq + 1);
    // The refusals appended nothing.
    let resp = fx.post(Who::Platform, vec![b' '; MAX_BODY + 1]);
    assert_error(&resp, 413, "too_large", &[]);
    fx.assert_unchanged(&after);
}

/// Writes a request by hand whose Content-Length is far over the limit, sends only part of the
/// body, and reads the answer: the server must refuse it without waiting for the rest.
#[test]
fn a_declared_length_over_the_limit_is_413_without_reading_it_all() {
    let fx = Fixture::start();
    let before = fx.log_state();
    for chunked in [false, true] {
        let mut stream = std::net::TcpStream::connect(fx.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let token = fx.token(Who::Platform).unwrap();
        let length = if chunked {
            "Transfer-Encoding: chunked\r\n".to_owned()
        } else {
            format!("Content-Length: {}\r\n", 100 * MAX_BODY)
        };
        let head = format!(
            "POST /v1/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n{length}\r\n",
            fx.addr
        );
        stream.write_all(head.as_bytes()).unwrap();
        // Twice the limit, then stop sending: the rest never comes.
        let chunk = vec![b'x'; 8 * 1024];
        for _ in 0..(2 * MAX_BODY / chunk.len()) {
            let sent = if chunked {
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                stream.write_all(&framed)
            } else {
                stream.write_all(&chunk)
            };
            if sent.is_err() {
                break; // the server answered and closed: fine
            }
        }
        let started = Instant::now();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if let Some(end) = find(&answer, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok());
                        if length.is_some_and(|l| answer.len() >= end + 4 + l) {
                            break;
                        }
                    }
                }
                Err(e) => panic!("no complete answer within 5 s (chunked: {chunked}): {e}"),
            }
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        let text = String::from_utf8_lossy(&answer).into_owned();
        assert!(text.starts_with("HTTP/1.1 413"), "chunked: {chunked}: {text}");
        let json_start = text.find("\r\n\r\n").unwrap() + 4;
        let error: Value = serde_json::from_str(&text[json_start..]).expect("a JSON error body");
        assert_eq!(error["error"], "too_large", "{error}");
    }
    fx.assert_unchanged(&before);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends the head of a POST /v1/events (platform token) declaring `length` body bytes, then
/// `sent` of them, and reads the first answer: its status line and JSON body.
fn raw_post_answer(fx: &Fixture, length: usize, sent: &[u8]) -> (String, Value, Duration) {
    let mut stream = std::net::TcpStream::connect(fx.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let token = fx.token(Who::Platform).unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n",
        fx.addr
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(sent).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.ends_with(b"}") {
            break;
        }
    }
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null), elapsed)
}

#[test]

fn a_declared_length_over_the_limit_is_413_at_once() {
    let fx = Fixture::start();
    let before = fx.log_state();
    let (status, body, elapsed) = raw_post_answer(&fx, 100 * MAX_BODY, b"");
    assert!(status.starts_with("HTTP/1.1 413"), "{status} after {elapsed:?}: {body}");
    assert_eq!(body["error"], "too_large", "{body}");
    assert!(elapsed < Duration::from_secs(2), "refused from the header, not after {elapsed:?}");
    fx.assert_unchanged(&before);
}

#[test]

fn a_body_that_never_arrives_is_a_4xx_not_a_503() {
    let mut config = test_config();
    config.request_timeout = Duration::from_millis(500);
    let fx = Fixture::with_config(config);
    let before = fx.log_state();
    let (status, body, _) = raw_post_answer(&fx, 100, b"{\"type\"");
    assert!(status.starts_with("HTTP/1.1 4"), "a 4xx for a stalled upload, not {status}: {body}");
    assert!(status.starts_with("HTTP/1.1 408"), "{status}: {body}");
    assert!(body["error"].is_string() && body["message"].is_string(), "{body}");
    assert!(!body["message"].as_str().unwrap().contains("may still be recorded"), "{body}");
    fx.assert_unchanged(&before);
}

#[test]
fn batches_too_large_or_empty_are_refused_whole() {
    let fx = Fixture::start();
    let before = fx.log_state();
    let batch: Vec<Value> = (0..=MAX_BATCH).map(|i| sale(&format!("OB-{i}"))).collect();
    let resp = fx.post(Who::Platform, body(&Value::Array(batch)));
    assert_error(&resp, 413, "too_large", &[&(MAX_BATCH + 1).to_string(), &MAX_BATCH.to_string()]);
    for empty in ["[]", " [ ] ", "[\n]"] {
        let resp = fx.post(Who::Platform, empty);
        assert_error(&resp, 400, "malformed", &["empty"]);
    }
    fx.assert_unchanged(&before);
    for i in 0..MAX_BATCH {
        assert_eq!(verdict_kind(&fx, &format!("OB-{i}")), "unknown_order");
    }
    // A batch of exactly the limit is accepted.
    let batch: Vec<Value> = (0..MAX_BATCH).map(|i| sale(&format!("OK-{i}"))).collect();
    let resp = fx.post(Who::Platform, body(&Value::Array(batch)));
    resp.expect(201);
    let records = resp.json()["records"].as_array().unwrap().clone();
    assert_eq!(records.len(), MAX_BATCH);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["status"], "appended");
        assert_eq!(r["seq"], SAMPLE_RECORDS + i as u64);
        assert_eq!(r["hash"].as_str().map(str::len), Some(64));
    }
}

#[test]
fn a_batch_refused_at_one_submission_appends_none_of_it() {
    let fx = Fixture::start();
    let before = fx.log_state();
    let mut third = sale("BR-2");
    third["data"]["store"] = json!("no-such-store");
    let batch = json!([sale("BR-0"), sale("BR-1"), third, sale("BR-3")]);
    let resp = fx.post(Who::Platform, body(&batch));
    let error = assert_refused(&resp, 409, "references", &["submission 2", "no-such-store"]);
    assert_eq!(error["index"], 2, "{error}");
    assert_eq!(error["field"], "data.store", "{error}");
    fx.assert_unchanged(&before);
    for order in ["BR-0", "BR-1", "BR-2", "BR-3"] {
        assert_eq!(verdict_kind(&fx, order), "unknown_order", "{order} was not recorded");
    }
    // A malformed submission in a batch is named by its index too.
    let batch = json!([sale("BR-4"), sale("BR-5"), {"type": "sale_recorded"}]);
    let error = assert_refused(&fx.post(Who::Platform, body(&batch)), 400, "form", &["submission 2"]);
    assert_eq!(error["index"], 2);
    // Two submissions of one batch that collide with each other.
    let batch = json!([sale("BR-6"), sale_with_quantity("BR-6", 2)]);
    let error =
        assert_refused(&fx.post(Who::Platform, body(&batch)), 409, "idempotency", &["submission 1", "BR-6"]);
    assert_eq!(error["index"], 1);
    fx.assert_unchanged(&before);
    assert_eq!(verdict_kind(&fx, "BR-6"), "unknown_order");
}

fn sale_with_quantity(order: &str, quantity: u32) -> Value {
    let mut s = sale(order);
    s["data"]["quantity"] = json!(quantity);
    s
}

#[test]
fn a_submission_for_another_actor_is_403_and_appends_nothing() {
    let fx = Fixture::start();
    let before = fx.log_state();
    // The platform may not act as acme, nor acme as the platform.
    let product = json!({"type": "product_registered", "actor": "acme", "data": {
        "sku": "ACME-MASK-1", "brand": "acme-beauty", "name": "Acme Mask", "category": "skincare"}});
    assert_error(&fx.post(Who::Platform, body(&product)), 403, "forbidden", &["acme", "platform"]);
    assert_error(&fx.post(Who::Owner, body(&sale("AC-1"))), 403, "forbidden", &["platform", "acme"]);
    // A party may not act as another party.
    assert_error(&fx.post(Who::Distributor, body(&product)), 403, "forbidden", &["acme", "agent-east"]);
    // One foreign actor in a batch refuses the batch, naming it.
    let batch = json!([sale("AC-2"), product, sale("AC-3")]);
    let error = assert_error(&fx.post(Who::Platform, body(&batch)), 403, "forbidden", &["submission 1"]);
    assert!(error.get("index").is_none() || error["index"] == 1, "{error}");
    // Actor ids differing only in case or spacing are other actors.
    let mut shouting = sale("AC-4");
    shouting["actor"] = json!("PLATFORM");
    assert_error(&fx.post(Who::Platform, body(&shouting)), 403, "forbidden", &["PLATFORM"]);
    fx.assert_unchanged(&before);
    for order in ["AC-1", "AC-2", "AC-3", "AC-4"] {
        assert_eq!(verdict_kind(&fx, order), "unknown_order");
    }
}

#[test]
fn a_rule_refusal_is_409_naming_the_rule_and_ids() {
    let fx = Fixture::start();
    let before = fx.log_state();
    let mut unknown_store = sale("RR-1");
    unknown_store["data"]["store"] = json!("ghost-store");
    let error =
        assert_refused(&fx.post(Who::Platform, body(&unknown_store)), 409, "references", &["ghost-store"]);
    assert_eq!(error["field"], "data.store");
    assert!(error.get("index").is_none(), "a single submission has no index: {error}");

    let mut unknown_sku = sale("RR-2");
    unknown_sku["data"]["sku"] = json!("ACME-GHOST");
    assert_refused(&fx.post(Who::Platform, body(&unknown_sku)), 409, "references", &["ACME-GHOST"]);

    // A grant issued by a party that owns nothing.
    let grant = json!({"type": "grant_issued", "actor": "seller-li", "data": {
        "grant": "g-rogue", "brand": "acme-beauty", "grantor": "seller-li", "grantee": "grey-trader",
        "scope": {}, "channels": ["taobao"], "exclusive": false, "sublicensable": false,
        "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"}});
    let resp = fx.post(Who::Seller, body(&grant));
    let error = assert_refused(&resp, 409, "grants", &["seller-li", "acme-beauty"]);
    assert_eq!(error["field"], "data.grantor");

    // An effective_at far in the future.
    let mut future = sale("RR-3");
    future["effective_at"] = json!("2999-01-01T00:00:00Z");
    assert_refused(&fx.post(Who::Platform, body(&future)), 400, "form", &["effective_at"]);

    // Revoking a revoked grant.
    let revoke = json!({"type": "grant_revoked", "actor": "agent-east",
        "data": {"grant": "g-east-li", "reason": "again"}});
    assert_refused(&fx.post(Who::Distributor, body(&revoke)), 409, "grants", &["g-east-li"]);
    fx.assert_unchanged(&before);
}

#[test]
fn an_exact_repeat_is_200_naming_the_existing_seq() {
    let fx = Fixture::start();
    let first = fx.post(Who::Platform, body(&sale("IR-1")));
    first.expect(201);
    let first = first.json();
    let record = &first["records"][0];
    assert_eq!(record["status"], "appended");
    let seq = record["seq"].as_u64().unwrap();
    assert_eq!(seq, SAMPLE_RECORDS);
    let after = fx.log_state();

    let again = fx.post(Who::Platform, body(&sale("IR-1")));
    again.expect(200);
    assert_eq!(again.json(), json!({"records": [{"status": "repeat", "seq": seq}]}));
    // The repeat of a sample record, and a batch of repeats, name their seqs too.
    let line = SAMPLE.lines().nth(24).unwrap();
    assert!(line.contains("TM-20130601-0001"));
    let repeat = fx.post(Who::Platform, line);
    repeat.expect(200);
    assert_eq!(repeat.json()["records"][0]["seq"], 25);
    let batch = format!("[{line}, {}]", String::from_utf8(body(&sale("IR-1"))).unwrap());
    let repeat = fx.post(Who::Platform, batch);
    repeat.expect(200);
    assert_eq!(
        repeat.json()["records"],
        json!([{"status": "repeat", "seq": 25}, {"status": "repeat", "seq": seq}])
    );
    // Key order and spacing do not matter: the same submission is the same.
    let reordered = r#"{ "data": {"unit_price": {"currency": "CNY", "value": 29900}, "quantity": 1,
        "sku": "ACME-CREAM-50", "store": "acme-flagship", "order": "IR-1"},
        "effective_at": "2013-07-01T18:00:00+08:00", "actor": "platform", "type": "sale_recorded" }"#;
    let repeat = fx.post(Who::Platform, reordered);
    repeat.expect(200);
    assert_eq!(repeat.json()["records"][0]["seq"], seq);
    fx.assert_unchanged(&after);
    assert_eq!(fx.metric("chl_repeats_total"), 5.0);
    assert_eq!(fx.metric("chl_appended_records_total"), 1.0);
}

#[test]
fn reusing_an_order_id_with_other_content_is_409() {
    let fx = Fixture::start();
    fx.post(Who::Platform, body(&sale("OC-1"))).expect(201);
    let error = assert_refused(
        &fx.post(Who::Platform, body(&sale_with_quantity("OC-1", 2))),
        409,
        "idempotency",
        &["OC-1", &SAMPLE_RECORDS.to_string()],
    );
    assert_eq!(error["field"], "data.order");
    // A sample order, resubmitted with another price.
    let line = SAMPLE.lines().nth(24).unwrap().replace("29900", "30900");
    assert_refused(&fx.post(Who::Platform, line), 409, "idempotency", &["TM-20130601-0001", "25"]);
    // Without an effective_at, a resubmission is not an exact repeat: effective_at defaults to
    // the time of recording, which differs. It is a conflict naming the seq that holds the order.
    let mut undated = sale("OC-2");
    undated.as_object_mut().unwrap().remove("effective_at");
    let first = fx.post(Who::Platform, body(&undated));
    first.expect(201);
    let held = first.json()["records"][0]["seq"].as_u64().unwrap();
    assert_eq!(held, SAMPLE_RECORDS + 1);
    let after = fx.log_state();
    assert_refused(&fx.post(Who::Platform, body(&undated)), 409, "idempotency", &["OC-2", &held.to_string()]);
    // The same content at another effective_at is another submission, so a conflict as well.
    let mut later = sale("OC-1");
    later["effective_at"] = json!("2013-07-02T10:00:00Z");
    assert_refused(&fx.post(Who::Platform, body(&later)), 409, "idempotency", &["OC-1"]);
    fx.assert_unchanged(&after);
}

#[test]
fn duplicate_keys_are_400() {
    let fx = Fixture::start();
    let before = fx.log_state();
    let text = String::from_utf8(body(&sale("DK-1"))).unwrap();
    let cases = [
        ("\"type\":\"sale_recorded\"", ",\"type\":\"sale_refunded\"", "type"),
        ("\"actor\":\"platform\"", ",\"actor\":\"acme\"", "actor"),
        ("\"order\":\"DK-1\"", ",\"order\":\"DK-2\"", "order"),
        ("\"quantity\":1", ",\"quantity\":1", "quantity"),
        ("\"value\":29900", ",\"value\":1", "value"),
    ];
    for (at, duplicate, field) in cases {
        let case = text.replacen(at, &format!("{at}{duplicate}"), 1);
        assert_ne!(case, text);
        let resp = fx.post(Who::Platform, case);
        assert_refused(&resp, 400, "form", &["duplicate", field]);
    }
    fx.assert_unchanged(&before);
}

#[test]
fn the_same_submission_twice_in_one_batch_is_appended_once() {
    let fx = Fixture::start();
    let resp = fx.post(Who::Platform, body(&json!([sale("DB-1"), sale("DB-1")])));
    resp.expect(201);
    let records = resp.json()["records"].clone();
    assert_eq!(records[0]["status"], "appended");
    assert_eq!(records[0]["seq"], SAMPLE_RECORDS);
    assert_eq!(records[1], json!({"status": "repeat", "seq": SAMPLE_RECORDS}));
    assert_eq!(fx.head_seq(), SAMPLE_RECORDS);
}

// ---- tokens -----------------------------------------------------------------------------

/// Requests that need a token, one per endpoint that does.
fn guarded_requests() -> Vec<Req> {
    vec![
        Req::post("/v1/events", body(&sale("TK-1"))),
        Req::get("/v1/records"),
        Req::get("/v1/records/1"),
        Req::get("/v1/orders/TM-20130601-0001/verdict"),
        Req::get("/v1/orders/TM-20130601-0001/bundle"),
        Req::get("/v1/brands/acme-beauty/channel"),
        Req::get("/v1/replay?brand=acme-beauty"),
        Req::get("/v1/stream"),
    ]
}

#[test]
fn without_a_valid_bearer_token_every_guarded_endpoint_is_401() {
    let fx = Fixture::start();
    let before = fx.log_state();
    let platform = fx.token(Who::Platform).unwrap().to_owned();
    let mut altered = platform.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let cases: Vec<(Option<Vec<u8>>, &str)> = vec![
        (None, "no bearer token"),
        (Some(format!("Basic {}", BASE64.encode("platform:secret")).into_bytes()), "not Bearer"),
        (Some(b"Bearer".to_vec()), "not Bearer"),
        (Some(b"Bearer ".to_vec()), "not Bearer"),
        (Some(b"Bearer    ".to_vec()), "not Bearer"),
        (Some(format!("Token {platform}").into_bytes()), "not Bearer"),
        (Some(format!("Bearer{platform}").into_bytes()), "not Bearer"),
        (Some(platform.clone().into_bytes()), "not Bearer"),
        (Some(b"Bearer \xff\xfe".to_vec()), "not Bearer"),
        (Some(format!("Bearer {FORGED_TOKEN}").into_bytes()), "not known"),
        (Some(format!("Bearer {altered}").into_bytes()), "not known"),
        (Some(format!("Bearer {}", &platform[..platform.len() - 1]).into_bytes()), "not known"),
        (Some(format!("Bearer {platform}{platform}").into_bytes()), "not known"),
        (Some(format!("Bearer {}", "A".repeat(10_000)).into_bytes()), "not known"),
        (Some(format!("Bearer {}", fx.token(Who::Revoked).unwrap()).into_bytes()), "revoked"),
    ];
    for req in guarded_requests() {
        for (authorization, needle) in &cases {
            let mut req = req.clone();
            if let Some(value) = authorization {
                req = req.header("authorization", value);
            }
            let resp = fx.send(req.clone());
            assert_error(&resp, 401, "unauthorized", &[needle]);
            assert_eq!(resp.header("www-authenticate"), Some("Bearer"), "{} {}", req.method, req.path);
        }
    }
    fx.assert_unchanged(&before);
}

#[test]
fn a_token_revoked_while_the_server_runs_is_refused_at_once() {
    let fx = Fixture::start();
    let issued = fx.issue("acme", Role::Party);
    let channel = Req::get("/v1/brands/acme-beauty/channel")
        .header("authorization", format!("Bearer {}", issued.token));
    fx.send(channel.clone()).expect(200);
    fx.revoke(Revoke::Id(issued.entry.id.clone()));
    assert_error(&fx.send(channel.clone()), 401, "unauthorized", &["revoked"]);
    // The owner's other token still works.
    fx.get(Who::Owner, "/v1/brands/acme-beauty/channel").expect(200);

    // Revoked by principal and by the token itself, in the middle of a keep-alive connection.
    let issued = fx.issue("audit-co", Role::Auditor);
    let auth = format!("Bearer {}", issued.token);
    fx.rt.block_on(async {
        let stream = tokio::net::TcpStream::connect(fx.addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        let request = || {
            hyper::Request::get("/v1/records/0")
                .header("host", fx.addr.to_string())
                .header("authorization", &auth)
                .body(http_body_util::Empty::<hyper::body::Bytes>::new())
                .unwrap()
        };
        let ok = sender.send_request(request()).await.unwrap();
        assert_eq!(ok.status(), 200);
        drop(http_body_util::BodyExt::collect(ok.into_body()).await.unwrap());
        fx.revoke(Revoke::Token(issued.token.clone()));
        sender.ready().await.unwrap();
        let refused = sender.send_request(request()).await.unwrap();
        assert_eq!(refused.status(), 401, "the same connection's next request is refused");
    });
    fx.get(Who::Auditor, "/v1/records/0").expect(200);
    let before = fx.log_state();
    // A revoked party token cannot write.
    let issued = fx.issue("seller-li", Role::Party);
    fx.revoke(Revoke::Principal("seller-li".into()));
    let resp = fx.send(
        Req::post("/v1/events", body(&sale("RV-1")))
            .header("authorization", format!("Bearer {}", issued.token)),
    );
    assert_error(&resp, 401, "unauthorized", &["revoked"]);
    assert_error(&fx.get(Who::Seller, "/v1/orders/RV-1/verdict"), 401, "unauthorized", &["revoked"]);
    fx.assert_unchanged(&before);
}

#[test]
fn a_token_issued_while_the_server_runs_works_at_once() {
    let fx = Fixture::start();
    let issued = fx.issue("probe-2", Role::Investigator);
    let resp = fx.send(
        Req::get("/v1/replay?order=TM-20130601-0001")
            .header("authorization", format!("Bearer {}", issued.token)),
    );
    resp.expect(200);
    let issued = fx.issue("platform", Role::Platform);
    let resp = fx.send(
        Req::post("/v1/events", body(&sale("NT-1")))
            .header("authorization", format!("Bearer {}", issued.token)),
    );
    resp.expect(201);
    assert_eq!(resp.json()["records"][0]["seq"], SAMPLE_RECORDS);
}

// ---- roles ------------------------------------------------------------------------------

#[test]
fn readers_may_not_write() {
    let fx = Fixture::start();
    let before = fx.log_state();
    for who in [Who::Auditor, Who::Investigator] {
        let principal = who.principal().unwrap();
        let role = if who == Who::Auditor { "auditor" } else { "investigator" };
        let mut own = sale("RW-1");
        own["actor"] = json!(principal);
        for submission in [sale("RW-1"), own.clone(), json!([own])] {
            let resp = fx.post(who, body(&submission));
            assert_error(&resp, 403, "forbidden", &[principal, role, "POST /v1/events"]);
        }
        // Even a malformed body is refused for the role first.
        assert_error(&fx.post(who, "not json"), 403, "forbidden", &[role]);
    }
    fx.assert_unchanged(&before);
}

/// Well-formed submissions that `actor` may not make: each refers only to ids that exist (and
/// takes only new ones), so that authority is the rule that refuses it.
fn forbidden_writes(actor: &str) -> Vec<Value> {
    let platform_only = vec![
        json!({"type": "party_registered", "data": {"party": "new-party", "legal_name": "New Co."}}),
        json!({"type": "supplier_admitted", "data": {"supplier": "seller-li",
            "qualifications": [{"kind": "business_license", "reference": "BL-1"}]}}),
        json!({"type": "supplier_suspended", "data": {"supplier": "agent-east", "reason": "review"}}),
        json!({"type": "supplier_expelled", "data": {"supplier": "agent-east", "reason": "fraud"}}),
        json!({"type": "margin_deposited", "data": {"supplier": "acme",
            "amount": {"value": 100, "currency": "CNY"}}}),
        json!({"type": "margin_deducted", "data": {"supplier": "acme",
            "amount": {"value": 100, "currency": "CNY"}, "reason": "penalty"}}),
        json!({"type": "margin_refunded", "data": {"supplier": "acme",
            "amount": {"value": 100, "currency": "CNY"}}}),
        json!({"type": "policy_set", "data": {"min_margin": {"value": 1, "currency": "CNY"}}}),
        json!({"type": "brand_registered", "data": {"brand": "new-brand", "name": "New",
            "owner": "acme", "trademark_no": "TM-1"}}),
        json!({"type": "store_opened", "data": {"store": "new-store", "operator": "seller-li",
            "channel": "taobao", "name": "New Store"}}),
        json!({"type": "store_closed", "data": {"store": "acme-flagship", "reason": "closing"}}),
        json!({"type": "sale_recorded", "data": {"order": "FW-1", "store": "acme-flagship",
            "sku": "ACME-CREAM-50", "quantity": 1, "unit_price": {"value": 29900, "currency": "CNY"}}}),
        json!({"type": "sale_refunded", "data": {"order": "TM-20130601-0001", "reason": "refund"}}),
        json!({"type": "dispute_opened", "data": {"dispute": "D-NEW", "order": "TM-20130601-0001",
            "claim": "counterfeit"}}),
    ];
    let owner_only = vec![
        json!({"type": "product_registered", "data": {"sku": "ACME-NEW", "brand": "acme-beauty",
            "name": "New", "category": "skincare"}}),
        json!({"type": "channel_host_appointed", "data": {"brand": "acme-beauty", "host": "grey-trader",
            "powers": ["grants", "agreements"], "valid_from": "2020-01-01T00:00:00Z",
            "valid_until": "2099-01-01T00:00:00Z"}}),
        json!({"type": "channel_host_dismissed", "data": {"brand": "acme-beauty", "host": "tp-hosting"}}),
        json!({"type": "grant_issued", "data": {"grant": "g-new", "brand": "acme-beauty",
            "grantor": "acme", "grantee": "grey-trader", "scope": {}, "channels": ["taobao"],
            "exclusive": false, "sublicensable": false,
            "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"}}),
        json!({"type": "grant_revoked", "data": {"grant": "g-east", "reason": "revoked"}}),
        json!({"type": "agreement_signed", "data": {"agreement": "agr-new", "supplier": "acme",
            "distributor": "grey-trader", "brand": "acme-beauty", "mode": "wholesale", "scope": {},
            "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"}}),
        json!({"type": "agreement_terminated", "data": {"agreement": "agr-acme-li", "reason": "ended"}}),
    ];
    let mut writes = match actor {
        "platform" => owner_only
            .into_iter()
            .filter(|w| w["type"] != "grant_revoked" && w["type"] != "agreement_terminated")
            .collect(),
        "acme" => platform_only,
        // seller-li is the distributor of agr-acme-li, so it may terminate that one.
        "seller-li" => platform_only
            .into_iter()
            .chain(owner_only.into_iter().filter(|w| w["type"] != "agreement_terminated"))
            .collect(),
        _ => platform_only.into_iter().chain(owner_only).collect::<Vec<_>>(),
    };
    for w in &mut writes {
        w["actor"] = json!(actor);
    }
    writes
}

#[test]
fn every_role_trying_every_write_it_may_not_do_is_refused() {
    let fx = Fixture::start();
    let before = fx.log_state();
    let writers = [Who::Platform, Who::Owner, Who::Distributor, Who::Seller, Who::FormerHost];
    let mut tried = 0;
    for who in writers {
        let actor = who.principal().unwrap();
        for write in forbidden_writes(actor) {
            let resp = fx.post(who, body(&write));
            let what = format!("{actor} submitting {}", write["type"]);
            assert_eq!(resp.status(), 409, "{what}: {}", resp.text());
            let error = assert_refused(&resp, 409, "authority", &[actor]);
            assert_eq!(error["field"], "actor", "{what}: {error}");
            tried += 1;
        }
    }
    assert!(tried > 60, "{tried} writes tried");
    // Nor may any of them act as another writer.
    for who in writers {
        for other in writers.iter().filter(|o| **o != who) {
            let mut write = sale("FW-2");
            write["actor"] = json!(other.principal().unwrap());
            assert_error(&fx.post(who, body(&write)), 403, "forbidden", &[other.principal().unwrap()]);
        }
    }
    // And readers, the revoked and the anonymous may not write at all.
    for who in [Who::Auditor, Who::Investigator] {
        assert_error(&fx.post(who, body(&sale("FW-3"))), 403, "forbidden", &[]);
    }
    for who in [Who::Anonymous, Who::Revoked, Who::Forged] {
        assert_error(&fx.post(who, body(&sale("FW-3"))), 401, "unauthorized", &[]);
    }
    fx.assert_unchanged(&before);
    assert_eq!(fx.metric("chl_refusals_total{rule=\"authority\"}"), tried as f64);
}

#[test]
fn parties_may_not_read_records_stream_or_replay() {
    let fx = Fixture::start();
    for who in [Who::Owner, Who::Distributor, Who::FormerHost] {
        let principal = who.principal().unwrap();
        for (path, endpoint) in [
            ("/v1/records", "GET /v1/records"),
            ("/v1/records?from=0&limit=1", "GET /v1/records"),
            ("/v1/records/0", "GET /v1/records/{seq}"),
            ("/v1/records/99999", "GET /v1/records/{seq}"),
            ("/v1/stream", "GET /v1/stream"),
            ("/v1/replay", "GET /v1/replay"),
            ("/v1/replay?brand=acme-beauty", "GET /v1/replay"),
            ("/v1/replay?party=acme", "GET /v1/replay"),
        ] {
            let resp = fx.get(who, path);
            assert_error(&resp, 403, "forbidden", &[principal, "party", endpoint]);
        }
    }
    // Readers may.
    for who in [Who::Platform, Who::Auditor, Who::Investigator] {
        fx.get(who, "/v1/records?limit=5").expect(200);
        fx.get(who, "/v1/records/0").expect(200);
        fx.get(who, "/v1/replay?brand=acme-beauty").expect(200);
    }
}

#[test]
fn only_the_owner_and_readers_see_a_brands_channel_and_verdicts() {
    let fx = Fixture::start();
    let orders = ["TM-20130601-0001", "TM-20130601-0002", "TB-20130602-0003", "TB-20130603-0004"];
    for who in [Who::Distributor, Who::Seller, Who::FormerHost] {
        let principal = who.principal().unwrap();
        let resp = fx.get(who, "/v1/brands/acme-beauty/channel");
        assert_error(&resp, 403, "forbidden", &[principal, "acme-beauty"]);
        let resp = fx.get(who, "/v1/brands/acme-beauty/channel?as_of=2013-06-01T00:00:00Z&known_at_seq=30");
        assert_error(&resp, 403, "forbidden", &[principal, "acme-beauty"]);
        for order in orders {
            let resp = fx.get(who, &format!("/v1/orders/{order}/verdict"));
            assert_error(&resp, 403, "forbidden", &[principal, order]);
            let resp = fx.get(who, &format!("/v1/orders/{order}/verdict?known_at_seq=40"));
            assert_error(&resp, 403, "forbidden", &[principal, order]);
            let resp = fx.get(who, &format!("/v1/orders/{order}/bundle"));
            assert_error(&resp, 403, "forbidden", &[principal, order]);
        }
        // An order no record knows is refused like another brand's: a party cannot probe
        // which orders exist.
        let resp = fx.get(who, "/v1/orders/NO-SUCH-ORDER/verdict");
        assert_error(&resp, 403, "forbidden", &[principal, "NO-SUCH-ORDER"]);
    }
    // The seller's own store's sale is still acme-beauty's order: not the seller's to see.
    assert_error(&fx.get(Who::Seller, "/v1/orders/TB-20130602-0003/verdict"), 403, "forbidden", &[]);

    for who in [Who::Owner, Who::Platform, Who::Auditor, Who::Investigator] {
        let channel = fx.get(who, "/v1/brands/acme-beauty/channel");
        channel.expect(200);
        assert!(channel.text().contains("acme-flagship"), "{}", channel.text());
        fx.get(who, "/v1/brands/acme-beauty/channel?as_of=2013-06-01T00:00:00Z&since=2013-01-01T00:00:00Z")
            .expect(200);
        for order in orders {
            let verdict = fx.get(who, &format!("/v1/orders/{order}/verdict"));
            verdict.expect(200);
            assert_eq!(verdict.json()["order"], order);
            fx.get(who, &format!("/v1/orders/{order}/bundle")).expect(200);
        }
    }
    let grey = fx.get(Who::Owner, "/v1/orders/TB-20130603-0004/verdict");
    assert_eq!(grey.json()["verdict"], "unauthorized");
    // Unknown brands and bad ids: a party gets 403, as for another brand (no probing).
    assert_error(
        &fx.get(Who::Owner, "/v1/brands/no-such-brand/channel"),
        403,
        "forbidden",
        &["no-such-brand"],
    );
    assert_error(
        &fx.get(Who::Auditor, "/v1/brands/no-such-brand/channel"),
        404,
        "not_found",
        &["no-such-brand"],
    );
    assert_error(&fx.get(Who::Owner, "/v1/brands/bad%20id/channel"), 400, "malformed", &["brand id"]);
    assert_error(&fx.get(Who::Owner, "/v1/orders/bad%20id/verdict"), 400, "malformed", &["order id"]);
    assert_error(&fx.get(Who::Owner, "/v1/orders/bad%20id/bundle"), 400, "malformed", &["order id"]);
}

#[test]
fn a_party_may_not_read_another_brands_channel() {
    let fx = Fixture::start();
    // A second brand, owned by agent-east, with a product, a store and a sale.
    let writes = [
        (
            Who::Platform,
            json!({"type": "brand_registered", "actor": "platform", "data": {
            "brand": "east-label", "name": "East Label", "owner": "agent-east", "trademark_no": "TM-2"}}),
        ),
        (
            Who::Distributor,
            json!({"type": "product_registered", "actor": "agent-east", "data": {
            "sku": "EAST-TONER", "brand": "east-label", "name": "East Toner", "category": "skincare"}}),
        ),
        (
            Who::Platform,
            json!({"type": "sale_recorded", "actor": "platform", "data": {
            "order": "TB-EAST-1", "store": "grey-taobao", "sku": "EAST-TONER", "quantity": 1,
            "unit_price": {"value": 100, "currency": "CNY"}}}),
        ),
    ];
    for (who, write) in writes {
        fx.post(who, body(&write)).expect(201);
    }
    let before = fx.log_state();
    fx.get(Who::Distributor, "/v1/brands/east-label/channel").expect(200);
    fx.get(Who::Distributor, "/v1/orders/TB-EAST-1/verdict").expect(200);
    fx.get(Who::Distributor, "/v1/orders/TB-EAST-1/bundle").expect(200);
    assert_error(
        &fx.get(Who::Owner, "/v1/brands/east-label/channel"),
        403,
        "forbidden",
        &["acme", "east-label"],
    );
    assert_error(
        &fx.get(Who::Owner, "/v1/orders/TB-EAST-1/verdict"),
        403,
        "forbidden",
        &["acme", "TB-EAST-1"],
    );
    assert_error(
        &fx.get(Who::Owner, "/v1/orders/TB-EAST-1/bundle"),
        403,
        "forbidden",
        &["acme", "TB-EAST-1"],
    );
    assert_error(
        &fx.get(Who::Distributor, "/v1/brands/acme-beauty/channel"),
        403,
        "forbidden",
        &["agent-east", "acme-beauty"],
    );
    assert_error(
        &fx.get(Who::Distributor, "/v1/orders/TM-20130601-0001/verdict"),
        403,
        "forbidden",
        &["TM-20130601-0001"],
    );
    // Nor may it write into the other brand's channel.
    let product = json!({"type": "product_registered", "actor": "acme", "data": {
        "sku": "ACME-IN-EAST", "brand": "east-label", "name": "Intruder", "category": "skincare"}});
    assert_refused(&fx.post(Who::Owner, body(&product)), 409, "authority", &["acme", "east-label"]);
    fx.assert_unchanged(&before);
}

#[test]
fn a_channel_host_sees_the_channel_only_while_appointed() {
    let fx = Fixture::start();
    // The sample's host was dismissed in 2014 (and its window ended): it is no host now.
    assert_error(
        &fx.get(Who::FormerHost, "/v1/brands/acme-beauty/channel"),
        403,
        "forbidden",
        &["tp-hosting"],
    );
    let appoint = json!({"type": "channel_host_appointed", "actor": "acme", "data": {
        "brand": "acme-beauty", "host": "tp-hosting", "powers": ["agreements"],
        "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"}});
    fx.post(Who::Owner, body(&appoint)).expect(201);
    let channel = fx.get(Who::FormerHost, "/v1/brands/acme-beauty/channel");
    channel.expect(200);
    assert!(channel.text().contains("tp-hosting"));
    // A host sees the channel, not the verdicts of the brand's orders, nor the records.
    assert_error(
        &fx.get(Who::FormerHost, "/v1/orders/TM-20130601-0001/verdict"),
        403,
        "forbidden",
        &["tp-hosting"],
    );
    assert_error(&fx.get(Who::FormerHost, "/v1/records"), 403, "forbidden", &["tp-hosting"]);
    let dismiss = json!({"type": "channel_host_dismissed", "actor": "acme", "data": {
        "brand": "acme-beauty", "host": "tp-hosting"}});
    fx.post(Who::Owner, body(&dismiss)).expect(201);
    assert_error(
        &fx.get(Who::FormerHost, "/v1/brands/acme-beauty/channel"),
        403,
        "forbidden",
        &["tp-hosting"],
    );
    // A host appointed only from the future is no host yet.
    let later = json!({"type": "channel_host_appointed", "actor": "acme", "data": {
        "brand": "acme-beauty", "host": "seller-li", "powers": ["grants"],
        "valid_from": "2098-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"}});
    fx.post(Who::Owner, body(&later)).expect(201);
    assert_error(&fx.get(Who::Seller, "/v1/brands/acme-beauty/channel"), 403, "forbidden", &["seller-li"]);
}

// ---- public endpoints ---------------------------------------------------------------------

#[test]
fn the_checkpoint_is_public_signed_text() {
    let fx = Fixture::start();
    let resp = fx.get(Who::Anonymous, "/v1/checkpoint");
    resp.expect(200);
    assert!(resp.content_type().starts_with("text/plain"), "{}", resp.content_type());
    let text = resp.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], ORIGIN, "{text}");
    assert_eq!(lines[1], SAMPLE_RECORDS.to_string(), "{text}");
    assert_eq!(BASE64.decode(lines[2]).expect("a base64 root hash").len(), 32, "{text}");
    let blank = lines.iter().position(|l| l.is_empty()).expect("a blank line before the signatures");
    let signature = lines[blank + 1];
    assert!(signature.starts_with(&format!("\u{2014} {ORIGIN} ")), "{text}");
    // Tokens change nothing about it.
    for who in [Who::Platform, Who::Owner, Who::Revoked, Who::Forged] {
        let other = fx.get(who, "/v1/checkpoint");
        other.expect(200);
        assert_eq!(other.text(), text);
    }
}

/// RFC 9162 §2.1.3.2: the root an inclusion proof leads to.
fn root_from_inclusion(leaf: [u8; 32], index: u64, size: u64, path: &[[u8; 32]]) -> Option<[u8; 32]> {
    if index >= size {
        return None;
    }
    let node = |l: &[u8; 32], r: &[u8; 32]| -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(l);
        h.update(r);
        h.finalize().into()
    };
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = leaf;
    for p in path {
        if s_n == 0 {
            return None;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    (s_n == 0).then_some(r)
}

fn hash32(text: &str) -> [u8; 32] {
    BASE64.decode(text).expect("base64").try_into().expect("32 bytes")
}

#[test]
fn proofs_are_public_and_check_their_parameters() {
    let fx = Fixture::start();
    let checkpoint = fx.get(Who::Anonymous, "/v1/checkpoint").text();
    let root = hash32(checkpoint.lines().nth(2).unwrap());
    for seq in [0, 7, 25, SAMPLE_RECORDS - 1] {
        let resp = fx.get(Who::Anonymous, &format!("/v1/proofs/inclusion?seq={seq}"));
        resp.expect(200);
        let proof = resp.json();
        let keys: BTreeSet<&str> = proof.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["seq", "tree_size", "leaf_hash", "hashes"]));
        assert_eq!(proof["seq"], seq);
        assert_eq!(proof["tree_size"], SAMPLE_RECORDS);
        let path: Vec<[u8; 32]> =
            proof["hashes"].as_array().unwrap().iter().map(|h| hash32(h.as_str().unwrap())).collect();
        let leaf = hash32(proof["leaf_hash"].as_str().unwrap());
        assert_eq!(
            root_from_inclusion(leaf, seq, SAMPLE_RECORDS, &path),
            Some(root),
            "the proof of {seq} leads to the checkpoint's root"
        );
    }
    fx.get(Who::Anonymous, "/v1/proofs/inclusion?seq=3&size=5").expect(200);
    let consistency = fx.get(Who::Anonymous, &format!("/v1/proofs/consistency?old=1&new={SAMPLE_RECORDS}"));
    consistency.expect(200);
    let proof = consistency.json();
    let keys: BTreeSet<&str> = proof.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["old_size", "new_size", "hashes"]));
    fx.get(Who::Anonymous, "/v1/proofs/consistency?old=17").expect(200);
    fx.get(Who::Anonymous, &format!("/v1/proofs/consistency?old={SAMPLE_RECORDS}")).expect(200);

    let beyond = SAMPLE_RECORDS + 1;
    for (path, status, needle) in [
        ("/v1/proofs/inclusion".to_owned(), 400, "seq"),
        ("/v1/proofs/inclusion?seq=".to_owned(), 400, "seq"),
        ("/v1/proofs/inclusion?seq=abc".to_owned(), 400, "seq"),
        ("/v1/proofs/inclusion?seq=1&size=x".to_owned(), 400, "size"),
        ("/v1/proofs/inclusion?seq=1&extra=1".to_owned(), 400, "extra"),
        ("/v1/proofs/inclusion?seq=1&seq=2".to_owned(), 400, "seq"),
        ("/v1/proofs/inclusion?seq=5&size=5".to_owned(), 400, "seq 5"),
        ("/v1/proofs/inclusion?seq=0&size=0".to_owned(), 400, "seq 0"),
        (format!("/v1/proofs/inclusion?seq=1&size={beyond}"), 404, &beyond.to_string()),
        ("/v1/proofs/consistency".to_owned(), 400, "old"),
        ("/v1/proofs/consistency?old=0".to_owned(), 400, "old 0"),
        ("/v1/proofs/consistency?old=5&new=4".to_owned(), 400, "old 5"),
        ("/v1/proofs/consistency?old=-5".to_owned(), 400, "old"),
        ("/v1/proofs/consistency?old=1&new=abc".to_owned(), 400, "new"),
        ("/v1/proofs/consistency?old=1&bogus=2".to_owned(), 400, "bogus"),
        (format!("/v1/proofs/consistency?old=1&new={beyond}"), 404, &beyond.to_string()),
    ] {
        let resp = fx.get(Who::Anonymous, &path);
        let code = if status == 400 { "malformed" } else { "not_found" };
        assert_error(&resp, status, code, &[needle]);
    }
}

#[test]

fn proofs_beyond_the_log_are_404() {
    let fx = Fixture::start();
    let beyond = SAMPLE_RECORDS.to_string();
    assert_error(&fx.get(Who::Auditor, &format!("/v1/records/{beyond}")), 404, "not_found", &[&beyond]);
    let resp = fx.get(Who::Anonymous, &format!("/v1/proofs/inclusion?seq={beyond}"));
    assert_error(&resp, 404, "not_found", &[&beyond]);
    let resp = fx.get(Who::Anonymous, &format!("/v1/proofs/consistency?old={}", SAMPLE_RECORDS + 1));
    assert_error(&resp, 404, "not_found", &[&(SAMPLE_RECORDS + 1).to_string()]);
}

#[test]
fn the_authorization_check_discloses_only_its_answer_and_is_rate_limited() {
    let fx = Fixture::start();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    let expected: BTreeSet<String> = ["authorized", "verdict", "grant_chain"].map(String::from).into();
    // Three checks fit the burst.
    let resp = fx.get(
        Who::Anonymous,
        "/v1/authorization?store=jingan-franchise&sku=ACME-SERUM-30&at=2013-06-01T06:10:00Z",
    );
    resp.expect(200);
    let answer = resp.json();
    assert_eq!(keys(&answer), expected, "{answer}");
    assert_eq!(
        answer,
        json!({"authorized": true, "verdict": "authentic", "grant_chain": ["g-east", "g-east-franchise"]})
    );
    let resp = fx.get(Who::Anonymous, "/v1/authorization?store=grey-taobao&sku=ACME-SERUM-30");
    resp.expect(200);
    assert_eq!(resp.json(), json!({"authorized": false, "verdict": "unauthorized", "grant_chain": []}));
    let resp = fx.get(Who::Anonymous, "/v1/authorization?store=no-such-store&sku=ACME-SERUM-30");
    assert_error(&resp, 404, "not_found", &["no-such-store"]);
    // The burst is spent: the next check is refused until the bucket refills.
    let resp = fx.get(Who::Anonymous, "/v1/authorization?store=acme-flagship&sku=ACME-CREAM-50");
    assert_error(&resp, 429, "rate_limited", &["retry"]);
    let retry: u64 = resp.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    // Neither a token nor a claimed forwarding address lifts the limit.
    let resp = fx.get(Who::Platform, "/v1/authorization?store=acme-flagship&sku=ACME-CREAM-50");
    assert_error(&resp, 429, "rate_limited", &[]);
    let resp = fx.send(
        Req::get("/v1/authorization?store=acme-flagship&sku=ACME-CREAM-50")
            .header("x-forwarded-for", "203.0.113.9")
            .header("forwarded", "for=203.0.113.9"),
    );
    assert_error(&resp, 429, "rate_limited", &[]);
    assert!(fx.metric("chl_rate_limited_total") >= 3.0);

    // Bad parameters are 400 once allowed through (one refill: 1 / 2 per second).
    for path in [
        "/v1/authorization",
        "/v1/authorization?store=acme-flagship",
        "/v1/authorization?sku=ACME-CREAM-50",
        "/v1/authorization?store=acme-flagship&sku=ACME-CREAM-50&at=tomorrow",
        "/v1/authorization?store=acme-flagship&sku=ACME-CREAM-50&known_at_seq=3",
        "/v1/authorization?store=%FF&sku=ACME-CREAM-50",
    ] {
        std::thread::sleep(Duration::from_millis(520));
        let resp = fx.get(Who::Anonymous, path);
        assert_error(&resp, 400, "malformed", &[]);
    }
    std::thread::sleep(Duration::from_millis(520));
    let resp = fx.get(Who::Anonymous, "/v1/authorization?store=acme-flagship&sku=NO-SUCH-SKU");
    assert_error(&resp, 404, "not_found", &["NO-SUCH-SKU"]);
    // Hammering it is refused, quickly and with the same answer every time.
    let mut limited = 0;
    for _ in 0..20 {
        let resp = fx.get(Who::Anonymous, "/v1/authorization?store=acme-flagship&sku=ACME-CREAM-50");
        match resp.status() {
            200 => {}
            429 => {
                assert_error(&resp, 429, "rate_limited", &[]);
                assert!(resp.header("retry-after").is_some());
                limited += 1;
            }
            other => panic!("status {other}: {}", resp.text()),
        }
    }
    assert!(limited >= 15, "{limited} of 20 rate limited");
}

#[test]
fn health_metrics_openapi_and_docs_are_public() {
    let fx = Fixture::start();
    let health = fx.get(Who::Anonymous, "/healthz");
    health.expect(200);
    assert_eq!(health.json(), json!({"status": "ok", "head_seq": SAMPLE_RECORDS - 1}));

    let metrics = fx.get(Who::Anonymous, "/metrics");
    metrics.expect(200);
    assert!(metrics.content_type().starts_with("text/plain"), "{}", metrics.content_type());
    let text = metrics.text();
    for series in
        ["chl_appended_records_total 0", "chl_head_seq 40", "chl_refusals_total{rule=\"references\"} 0"]
    {
        assert!(text.lines().any(|l| l == series), "{series} in {text}");
    }

    let openapi = fx.get(Who::Anonymous, "/openapi.json");
    openapi.expect(200);
    assert!(openapi.content_type().starts_with("application/json"));
    let doc = openapi.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().expect("paths");
    let spec_md = [
        ("post", "/v1/events"),
        ("get", "/v1/records"),
        ("get", "/v1/records/{seq}"),
        ("get", "/v1/checkpoint"),
        ("get", "/v1/proofs/inclusion"),
        ("get", "/v1/proofs/consistency"),
        ("get", "/v1/orders/{id}/verdict"),
        ("get", "/v1/orders/{id}/bundle"),
        ("get", "/v1/authorization"),
        ("get", "/v1/brands/{id}/channel"),
        ("get", "/v1/replay"),
        ("get", "/v1/stream"),
        ("get", "/healthz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ];
    for (method, path) in spec_md {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} in /openapi.json");
    }
    for endpoint in Endpoint::ALL {
        let spec = endpoint.spec();
        let method = match spec.method {
            SpecMethod::Get => "get",
            SpecMethod::Post => "post",
        };
        assert!(paths[spec.path].get(method).is_some(), "{method} {} in /openapi.json", spec.path);
    }
    // Every $ref resolves within the document.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("a local $ref: {r}"));
        assert!(doc.pointer(pointer).is_some(), "$ref {r} resolves");
    }

    let docs = fx.get(Who::Anonymous, "/docs");
    docs.expect(200);
    assert!(docs.content_type().starts_with("text/html"));
    let page = docs.text();
    assert!(page.contains("<html"));
    for (_, path) in spec_md {
        assert!(page.contains(path), "{path} on /docs");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                out.push(r.clone());
            }
            o.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn metrics_count_appends_and_refusals_by_rule() {
    let fx = Fixture::start();
    fx.post(Who::Platform, body(&sale("MT-1"))).expect(201);
    fx.post(Who::Platform, body(&sale("MT-1"))).expect(200);
    let mut ghost = sale("MT-2");
    ghost["data"]["store"] = json!("ghost");
    fx.post(Who::Platform, body(&ghost)).expect(409);
    fx.post(Who::Platform, body(&ghost)).expect(409);
    fx.post(Who::Platform, body(&sale_with_quantity("MT-1", 3))).expect(409);
    let store = json!({"type": "store_opened", "actor": "acme", "data": {"store": "acme-2",
        "operator": "acme", "channel": "taobao", "name": "Acme 2"}});
    fx.post(Who::Owner, body(&store)).expect(409);
    let text = fx.get(Who::Anonymous, "/metrics").text();
    for (series, value) in [
        ("chl_appended_records_total", 1),
        ("chl_appended_batches_total", 2),
        ("chl_repeats_total", 1),
        ("chl_refusals_total{rule=\"references\"}", 2),
        ("chl_refusals_total{rule=\"idempotency\"}", 1),
        ("chl_refusals_total{rule=\"authority\"}", 1),
        ("chl_refusals_total{rule=\"grants\"}", 0),
        ("chl_head_seq", SAMPLE_RECORDS),
        ("chl_http_responses_total{endpoint=\"post_events\",status=\"409\"}", 4),
        ("chl_http_responses_total{endpoint=\"post_events\",status=\"201\"}", 1),
    ] {
        let line = format!("{series} {value}");
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
}

#[test]

fn metrics_count_form_refusals_too() {
    let fx = Fixture::start();
    let resp = fx.post(Who::Platform, sale_with("MF-1", "quantity", json!("1")));
    assert_refused(&resp, 400, "form", &["quantity"]);
    let batch = json!([sale("MF-2"), {"type": "sale_recorded"}]);
    assert_refused(&fx.post(Who::Platform, body(&batch)), 400, "form", &[]);
    assert_eq!(fx.metric("chl_refusals_total{rule=\"form\"}"), 2.0);
    let created = json!({"type": "ledger_created", "actor": "platform",
        "data": {"origin": "evil.example", "public_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}});
    assert_refused(&fx.post(Who::Platform, body(&created)), 409, "authority", &["ledger_created"]);
    assert_eq!(fx.metric("chl_refusals_total{rule=\"authority\"}"), 1.0);
}

// ---- routing ------------------------------------------------------------------------------

#[test]
fn unknown_paths_are_404_and_wrong_methods_405_in_json() {
    let fx = Fixture::start();
    for path in [
        "/",
        "/v1",
        "/v1/",
        "/v2/events",
        "/v1/events/1",
        "/v1/records/1/2",
        "/v1/orders/x",
        "/etc/passwd",
        "/v1/brands/acme-beauty",
        "/V1/EVENTS",
        "/v1/records/",
        "/healthz/",
        "/%FF",
    ] {
        for who in [Who::Anonymous, Who::Platform] {
            let resp = fx.get(who, path);
            assert_error(&resp, 404, "not_found", &[]);
        }
    }
    let cases = [
        (Method::DELETE, "/v1/events"),
        (Method::GET, "/v1/events"),
        (Method::PUT, "/v1/events"),
        (Method::PATCH, "/v1/events"),
        (Method::POST, "/v1/records"),
        (Method::DELETE, "/v1/records/1"),
        (Method::POST, "/v1/checkpoint"),
        (Method::PUT, "/healthz"),
        (Method::POST, "/v1/authorization"),
        (Method::POST, "/v1/stream"),
        (Method::OPTIONS, "/v1/events"),
        (Method::from_bytes(b"BREW").unwrap(), "/v1/events"),
    ];
    let before = fx.log_state();
    for (method, path) in cases {
        for who in [Who::Anonymous, Who::Platform, Who::Auditor] {
            let resp = fx.send(Req::new(method.clone(), path).body(body(&sale("WM-1"))).auth(&fx, who));
            assert_error(&resp, 405, "method_not_allowed", &[path, method.as_str()]);
        }
    }
    fx.assert_unchanged(&before);
}

#[test]
fn a_405_names_the_allowed_methods() {
    let fx = Fixture::start();
    let resp = fx.send(Req::new(Method::DELETE, "/v1/events"));
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.header("allow"), Some("POST"));
    let resp = fx.send(Req::new(Method::POST, "/v1/records"));
    assert!(resp.header("allow").is_some_and(|a| a.contains("GET")));
}

#[test]
fn records_are_paged_and_check_their_parameters() {
    let fx = Fixture::start();
    let page = fx.get(Who::Auditor, "/v1/records?from=0&limit=10");
    page.expect(200);
    let page = page.json();
    assert_eq!(page["records"].as_array().unwrap().len(), 10);
    assert_eq!(page["next"], 10);
    assert_eq!(page["records_in_log"], SAMPLE_RECORDS);
    assert_eq!(page["records"][0]["type"], "ledger_created");
    let last = fx.get(Who::Investigator, &format!("/v1/records?from={}&limit=5", SAMPLE_RECORDS - 1)).json();
    assert_eq!(last["records"].as_array().unwrap().len(), 1);
    assert_eq!(last["next"], Value::Null);
    let record = fx.get(Who::Platform, "/v1/records/25");
    record.expect(200);
    assert_eq!(record.json()["data"]["order"], "TM-20130601-0001");
    let empty = fx.get(Who::Auditor, &format!("/v1/records?from={}", SAMPLE_RECORDS + 5)).json();
    assert_eq!(empty["records"], json!([]));

    let beyond = SAMPLE_RECORDS.to_string();
    assert_error(&fx.get(Who::Auditor, &format!("/v1/records/{beyond}")), 404, "not_found", &[&beyond]);
    assert_error(&fx.get(Who::Auditor, "/v1/records/1000000"), 404, "not_found", &["1000000"]);
    for (path, needle) in [
        ("/v1/records?limit=0", "limit 0"),
        ("/v1/records?limit=1001", "limit 1001"),
        ("/v1/records?limit=-1", "limit"),
        ("/v1/records?limit=ten", "limit"),
        ("/v1/records?from=abc", "from"),
        ("/v1/records?bogus=1", "bogus"),
        ("/v1/records?from=0&from=1", "from"),
        ("/v1/records/abc", "seq"),
        ("/v1/records/1.0", "seq"),
        ("/v1/records/%FF", "seq"),
        ("/v1/records/0x10", "seq"),
    ] {
        assert_error(&fx.get(Who::Auditor, path), 400, "malformed", &[needle]);
    }
    // The same answers for every reader role, and 401 before 400 for a caller without a token.
    assert_error(&fx.get(Who::Anonymous, "/v1/records?limit=0"), 401, "unauthorized", &[]);
    assert_error(&fx.get(Who::Owner, "/v1/records?limit=0"), 403, "forbidden", &[]);
    // Replay's parameters.
    for path in [
        "/v1/replay?limit=0",
        "/v1/replay?limit=10001",
        "/v1/replay?order=bad%20id",
        "/v1/replay?from=yesterday",
        "/v1/replay?bogus=1",
        "/v1/replay?brand=%FF",
    ] {
        assert_error(&fx.get(Who::Investigator, path), 400, "malformed", &[]);
    }
    let replay = fx.get(Who::Investigator, "/v1/replay?order=TB-20130603-0004");
    replay.expect(200);
    assert!(replay.text().contains("D-2013-0001"), "{}", replay.text());
    fx.get(Who::Investigator, "/v1/replay?order=NO-SUCH-ORDER").expect(200);
}

// ---- the live tail ------------------------------------------------------------------------

#[test]
fn the_stream_resumes_after_last_event_id_and_follows_new_records() {
    let fx = Fixture::start();
    let addr = fx.addr;
    let auth = format!("Bearer {}", fx.token(Who::Auditor).unwrap());
    let platform = format!("Bearer {}", fx.token(Who::Platform).unwrap());
    fx.rt.block_on(async {
        let wait = Duration::from_secs(5);
        // Resume after seq 35: the next events are 36.. 40, in order.
        let req = Req::get("/v1/stream").header("authorization", &auth).header("last-event-id", "35");
        let resp = open(addr, &req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let content_type = resp.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        let mut resumed = SseReader::new(resp.into_body());
        for seq in 36..SAMPLE_RECORDS {
            let event = resumed.next(wait).await.expect("an event");
            assert_eq!(event.id.as_deref(), Some(seq.to_string().as_str()));
            let record: Value = serde_json::from_str(&event.data).expect("a record");
            assert_eq!(record["seq"], seq);
            assert_eq!(event.event.as_deref(), record["type"].as_str());
        }
        // `from` starts at that seq.
        let req = Req::get("/v1/stream?from=38").header("authorization", &auth);
        let mut from = SseReader::new(open(addr, &req).await.unwrap().into_body());
        assert_eq!(from.next(wait).await.unwrap().id.as_deref(), Some("38"));
        // Without either, the tail starts after the head: nothing until something is appended.
        let req = Req::get("/v1/stream").header("authorization", &auth);
        let mut live = SseReader::new(open(addr, &req).await.unwrap().into_body());
        assert_eq!(live.next(Duration::from_millis(300)).await, None);

        let post = Req::post("/v1/events", body(&sale("ST-1"))).header("authorization", &platform);
        let appended = send(addr, &post).await.unwrap();
        assert_eq!(appended.status(), 201, "{}", appended.text());
        let new_seq = SAMPLE_RECORDS.to_string();
        for reader in [&mut resumed, &mut live] {
            let event = reader.next(wait).await.expect("the new record arrives");
            assert_eq!(event.id.as_deref(), Some(new_seq.as_str()));
            assert_eq!(event.event.as_deref(), Some("sale_recorded"));
            assert!(event.data.contains("ST-1"));
        }
        assert_eq!(from.next(wait).await.unwrap().id.as_deref(), Some("39"));
        // A refused submission sends nothing.
        let refused = send(
            addr,
            &Req::post("/v1/events", body(&sale_with_quantity("ST-1", 5))).header("authorization", &platform),
        )
        .await
        .unwrap();
        assert_eq!(refused.status(), 409);
        assert_eq!(live.next(Duration::from_millis(300)).await, None);
        // Resuming from the last id seen gives what followed it, and nothing twice.
        let req = Req::get("/v1/stream").header("authorization", &auth).header("last-event-id", "40");
        let mut again = SseReader::new(open(addr, &req).await.unwrap().into_body());
        assert_eq!(again.next(wait).await.unwrap().id.as_deref(), Some(new_seq.as_str()));
        assert_eq!(again.next(Duration::from_millis(300)).await, None);
    });
    // Bad resumption points.
    for id in ["abc", "-1", "1.5", "99999999999999999999999", ""] {
        let resp = fx.send(Req::get("/v1/stream").auth(&fx, Who::Auditor).header("last-event-id", id));
        assert_error(&resp, 400, "malformed", &["Last-Event-ID"]);
    }
    let resp = fx.send(Req::get("/v1/stream").auth(&fx, Who::Auditor).header("last-event-id", b"\xff"));
    assert_error(&resp, 400, "malformed", &["Last-Event-ID"]);
    assert_error(&fx.get(Who::Auditor, "/v1/stream?from=x"), 400, "malformed", &["from"]);
    assert_error(&fx.get(Who::Auditor, "/v1/stream?bogus=1"), 400, "malformed", &["bogus"]);
    assert_error(&fx.get(Who::Owner, "/v1/stream"), 403, "forbidden", &["acme"]);
}

#[test]

fn a_revoked_token_stops_its_open_stream() {
    let fx = Fixture::start();
    let issued = fx.issue("audit-2", Role::Auditor);
    let auth = format!("Bearer {}", issued.token);
    let platform = format!("Bearer {}", fx.token(Who::Platform).unwrap());
    let addr = fx.addr;
    fx.rt.block_on(async {
        let req = Req::get("/v1/stream").header("authorization", &auth);
        let resp = open(addr, &req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let mut tail = SseReader::new(resp.into_body());
        let post = Req::post("/v1/events", body(&sale("RS-1"))).header("authorization", &platform);
        assert_eq!(send(addr, &post).await.unwrap().status(), 201);
        assert!(tail.next(Duration::from_secs(5)).await.is_some_and(|e| e.data.contains("RS-1")));

        fx.revoke(Revoke::Id(issued.entry.id.clone()));
        let refused = send(addr, &Req::get("/v1/stream").header("authorization", &auth)).await.unwrap();
        assert_eq!(refused.status(), 401, "a new stream is refused");
        let post = Req::post("/v1/events", body(&sale("RS-2"))).header("authorization", &platform);
        assert_eq!(send(addr, &post).await.unwrap().status(), 201);
        let leaked = tail.next(Duration::from_secs(3)).await;
        assert!(leaked.is_none(), "a revoked token still receives new records: {leaked:?}");
    });
}

// ---- a sweep of hostile requests ------------------------------------------------------------

/// A tiny deterministic generator of garbage.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Every endpoint, every kind of caller, garbage in paths, queries, headers, methods and
/// bodies: whatever is sent, the answer is never a 5xx, an error is always the JSON of
/// spec/http.md, and nothing is appended.
#[test]
fn no_hostile_request_gets_a_5xx() {
    let fx = Fixture::start();
    let before = fx.log_state();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let long = "x".repeat(10_000);
    let long_id = format!("a{}", "b".repeat(10_000));
    let path_values: Vec<&str> = vec![
        "1",
        "0",
        "TM-20130601-0001",
        "acme-beauty",
        "%FF",
        "%00",
        "%C0%AF",
        "a%2Fb",
        "a/b",
        "..",
        "%2E%2E",
        ".",
        "-1",
        "99999999999999999999999",
        "18446744073709551615",
        "%E2%80%AE",
        "%20",
        "%25",
        "%",
        "%%",
        "%zz",
        "x%FFy",
        "%F0%9F%92%A9",
        "a:b",
        "_",
        "*",
        "'or'1'='1",
        &long,
        &long_id,
    ];
    let query_values: Vec<&str> = vec![
        "",
        "%FF",
        "%00",
        "-1",
        "0",
        "1",
        "1e400",
        "99999999999999999999999",
        "18446744073709551615",
        "abc",
        "2013-02-30T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "%2B275760-09-13T00:00:00Z",
        "2013-06-01T00:00:00%2B99:00",
        "acme-beauty",
        "TM-20130601-0001",
        &long,
        "a&b",
        "[]",
    ];
    let generic_queries = ["", "?", "?&&&", "?=", "?=x", "?%FF=%FF", "?a[b]=c", "?a=1&a=2", "?x", "?;"];

    let mut requests: Vec<(Req, Who)> = Vec::new();
    let mut who_cycle = Who::ALL.iter().copied().cycle();
    for endpoint in Endpoint::ALL {
        let spec = endpoint.spec();
        let method = match spec.method {
            SpecMethod::Get => Method::GET,
            SpecMethod::Post => Method::POST,
        };
        let has_path_param = spec.path.contains('{');
        let fill = |value: &str| -> String {
            let mut path = spec.path.to_owned();
            while let (Some(open), Some(close)) = (path.find('{'), path.find('}')) {
                path.replace_range(open..=close, value);
            }
            path
        };
        let canonical = fill(if spec.path.contains("{seq}") {
            "1"
        } else if spec.path.contains("orders") {
            "TM-20130601-0001"
        } else {
            "acme-beauty"
        });
        // Every caller on the canonical path, with a garbage body.
        for who in Who::ALL {
            let body = rng.bytes(256);
            requests.push((Req::new(method.clone(), canonical.clone()).body(body), who));
        }
        // Garbage path ids, as every caller.
        if has_path_param {
            for value in &path_values {
                for who in Who::ALL {
                    requests.push((Req::new(method.clone(), fill(value)), who));
                }
            }
        }
        // Garbage queries, callers in turn.
        for query in generic_queries {
            requests
                .push((Req::new(method.clone(), format!("{canonical}{query}")), who_cycle.next().unwrap()));
        }
        for param in spec.params.iter().filter(|p| p.location == In::Query) {
            for value in &query_values {
                let path = format!("{canonical}?{}={value}", param.name);
                requests.push((Req::new(method.clone(), path), who_cycle.next().unwrap()));
                let path = format!("{canonical}?{}={value}&{}={value}", param.name, param.name);
                requests.push((Req::new(method.clone(), path), who_cycle.next().unwrap()));
            }
        }
        // Garbage headers.
        for (name, value) in [
            ("last-event-id", b"\xff\xfe".as_slice()),
            ("last-event-id", b"-1"),
            ("last-event-id", b"18446744073709551615"),
            ("content-type", b"application/x-evil"),
            ("content-length", b"0"),
            ("accept", b"*/*;q=\xff"),
            ("x-forwarded-for", b"256.256.256.256"),
            ("host", b"[::1]:99999"),
        ] {
            for who in [Who::Platform, Who::Auditor, Who::Anonymous] {
                requests.push((Req::new(method.clone(), canonical.clone()).header(name, value), who));
            }
        }
        // Wrong methods and bodies, callers in turn.
        let bodies: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"{}".to_vec(),
            b"[]".to_vec(),
            b"null".to_vec(),
            "[".repeat(5000).into_bytes(),
            rng.bytes(1024),
            body(&sale("SW-1")),
        ];
        for m in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "CONNECTX"] {
            for b in &bodies {
                let m = Method::from_bytes(m.as_bytes()).unwrap();
                requests.push((Req::new(m, canonical.clone()).body(b.clone()), who_cycle.next().unwrap()));
            }
        }
    }
    let total = requests.len();
    let started = Instant::now();
    let addr = fx.addr;
    let tokens: Vec<(Who, Option<String>)> =
        Who::ALL.iter().map(|w| (*w, fx.token(*w).map(String::from))).collect();
    let (statuses, failures) = fx.rt.block_on(async move {
        let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
        let mut tasks = Vec::new();
        for (req, who) in requests {
            let mut req = req;
            if let Some(token) = tokens.iter().find(|(w, _)| *w == who).and_then(|(_, t)| t.clone()) {
                req = req.header("authorization", format!("Bearer {token}"));
            }
            let permit = std::sync::Arc::clone(&semaphore).acquire_owned().await.unwrap();
            tasks.push(tokio::spawn(async move {
                let _permit = permit;
                check_hostile(addr, &req, who).await
            }));
        }
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        let mut failures = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(Some(status)) => *statuses.entry(status).or_default() += 1,
                Ok(None) => {}
                Err(failure) => failures.push(failure),
            }
        }
        (statuses, failures)
    });
    assert!(
        failures.is_empty(),
        "{} of {total} hostile requests failed; the first ones:\n{}",
        failures.len(),
        failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    // The sweep reached every kind of answer, so it did test something.
    for status in [200, 400, 401, 403, 404, 405, 429] {
        assert!(statuses.get(&status).is_some_and(|n| *n > 0), "no {status} among {statuses:?}");
    }
    let answered: usize = statuses.values().sum();
    assert!(answered * 10 >= total * 9, "{answered} of {total} sent: {statuses:?}");
    eprintln!("{total} hostile requests ({statuses:?}) in {:?}", started.elapsed());
    fx.assert_unchanged(&before);
    // The server still serves.
    fx.get(Who::Anonymous, "/healthz").expect(200);
    fx.get(Who::Owner, "/v1/brands/acme-beauty/channel").expect(200);
}

/// Sends one hostile request; its status (`None` for a request no client can send), or what
/// was wrong with the answer.
async fn check_hostile(addr: std::net::SocketAddr, req: &Req, who: Who) -> Result<Option<u16>, String> {
    let what = || {
        let path: String = req.path.chars().take(120).collect();
        format!("{} {path} as {who:?} (body {} bytes)", req.method, req.body.len())
    };
    if hyper::Uri::try_from(req.path.as_str()).is_err() {
        return Ok(None); // not a request a client library can send
    }
    let response = open(addr, req).await.map_err(|e| format!("{}: no answer: {e}", what()))?;
    let status = response.status().as_u16();
    let event_stream = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if status >= 500 {
        let body = http_body_util::BodyExt::collect(response.into_body()).await.map(|b| b.to_bytes());
        let body = body.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        return Err(format!("{}: {status}: {body}", what()));
    }
    if event_stream || req.method == Method::HEAD {
        return Ok(Some(status)); // a live tail does not end; a HEAD answer has no body
    }
    let body = tokio::time::timeout(ANSWER_WITHIN, http_body_util::BodyExt::collect(response.into_body()))
        .await
        .map_err(|_| format!("{}: the body did not end", what()))?
        .map_err(|e| format!("{}: read the body: {e}", what()))?
        .to_bytes();
    if status >= 400 {
        let error: Value = serde_json::from_slice(&body)
            .map_err(|_| format!("{}: {status} is not JSON: {}", what(), String::from_utf8_lossy(&body)))?;
        if !error["error"].is_string() || error["message"].as_str().is_none_or(str::is_empty) {
            return Err(format!("{}: {status} is not an error body: {error}", what()));
        }
        if status == 401 && who.authenticated() {
            return Err(format!("{}: 401 for a valid token: {error}", what()));
        }
    } else if !who.authenticated() && req.method == Method::POST {
        return Err(format!("{}: {status} without a valid token", what()));
    }
    Ok(Some(status))
}
