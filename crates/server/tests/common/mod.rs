//! Helpers of the end-to-end tests of the HTTP API (tests/http.rs): a server over a ledger
//! holding the sample channel history, started in-process on a loopback port, one bearer token
//! per kind of caller, a small HTTP client over hyper's own client connection, a reader of
//! server-sent events, and assertions on error bodies and on the log.

#![allow(dead_code)]

use chl_ledger::{Ledger, LedgerConfig};
use chl_model::event::OriginName;
use chl_server::tokens::{Issued, Revoke, Role, TokenEntry, TokenFile};
use chl_server::{ServeConfig, Server};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::runtime::Runtime;

/// The sample channel history: parties, the brand acme-beauty (owner `acme`), its products,
/// grants, stores, agreements and sales.
pub const SAMPLE: &str = include_str!("../../../../replay/samples/acme-channel.jsonl");
/// The origin of every test ledger (the first line of its checkpoints).
pub const ORIGIN: &str = "http.example";
/// Records of a fresh fixture: `ledger_created` and the sample's 40.
pub const SAMPLE_RECORDS: u64 = 41;
/// The limits the test server runs with.
pub const MAX_BODY: usize = 64 * 1024;
pub const MAX_BATCH: usize = 10;
pub const RATE_PER_SECOND: f64 = 2.0;
pub const BURST: f64 = 3.0;
/// How long any one answer may take before a test fails (a hang is a failure, not a wait).
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// The kinds of caller a test speaks as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    /// No Authorization header at all.
    Anonymous,
    /// Principal `platform`, role platform.
    Platform,
    /// Party `acme`, the owner of brand acme-beauty.
    Owner,
    /// Party `agent-east`: an admitted supplier holding grants of acme-beauty, not its owner.
    Distributor,
    /// Party `seller-li`: a seller whose grant was revoked and store closed.
    Seller,
    /// Party `tp-hosting`: acme-beauty's channel host until it was dismissed in 2014.
    FormerHost,
    /// Principal `audit-co`, role auditor.
    Auditor,
    /// Principal `probe-co`, role investigator.
    Investigator,
    /// A token of party `grey-trader`, revoked before the server started.
    Revoked,
    /// A well-formed token that was never issued.
    Forged,
}

impl Who {
    pub const ALL: [Who; 10] = [
        Who::Anonymous,
        Who::Platform,
        Who::Owner,
        Who::Distributor,
        Who::Seller,
        Who::FormerHost,
        Who::Auditor,
        Who::Investigator,
        Who::Revoked,
        Who::Forged,
    ];

    /// The principal a token of this kind names (`None`: no valid token).
    pub fn principal(self) -> Option<&'static str> {
        match self {
            Who::Platform => Some("platform"),
            Who::Owner => Some("acme"),
            Who::Distributor => Some("agent-east"),
            Who::Seller => Some("seller-li"),
            Who::FormerHost => Some("tp-hosting"),
            Who::Auditor => Some("audit-co"),
            Who::Investigator => Some("probe-co"),
            Who::Revoked => Some("grey-trader"),
            Who::Anonymous | Who::Forged => None,
        }
    }

    /// Whether a request as this caller is authenticated.
    pub fn authenticated(self) -> bool {
        !matches!(self, Who::Anonymous | Who::Revoked | Who::Forged)
    }
}

/// A token that has the form of an issued one but was never issued.
pub const FORGED_TOKEN: &str = "chl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// One answer, read to its end.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics (with the body) when it is not.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {} {}", self.status, self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// Panics with the whole answer unless its status is `status`.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Resp {
        assert_eq!(self.status(), status, "unexpected answer: {}", self.text());
        self
    }
}

/// One request, as sent.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn new(method: Method, path: impl Into<String>) -> Req {
        Req { method, path: path.into(), headers: Vec::new(), body: Vec::new() }
    }

    pub fn get(path: impl Into<String>) -> Req {
        Req::new(Method::GET, path)
    }

    pub fn post(path: impl Into<String>, body: impl Into<Vec<u8>>) -> Req {
        Req::new(Method::POST, path).body(body).header("content-type", "application/json")
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Req {
        self.headers.push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = body.into();
        self
    }

    /// Adds the Authorization header of `who` (`fixture`'s tokens).
    pub fn auth(self, fixture: &Fixture, who: Who) -> Req {
        match fixture.token(who) {
            Some(token) => self.header("authorization", format!("Bearer {token}")),
            None => self,
        }
    }
}

/// Opens a connection to `addr` and sends `req`; the answer's head and its body unread.
pub async fn open(addr: SocketAddr, req: &Req) -> Result<hyper::Response<Incoming>, String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut builder = Request::builder().method(req.method.clone()).uri(&req.path);
    builder = builder.header(header::HOST, addr.to_string());
    for (name, value) in &req.headers {
        let value = HeaderValue::from_bytes(value).map_err(|e| format!("header {name}: {e}"))?;
        builder = builder.header(name.as_str(), value);
    }
    let request =
        builder.body(Full::new(Bytes::from(req.body.clone()))).map_err(|e| format!("request: {e}"))?;
    sender.ready().await.map_err(|e| e.to_string())?;
    tokio::time::timeout(ANSWER_WITHIN, sender.send_request(request))
        .await
        .map_err(|_| format!("no answer to {} {} within {ANSWER_WITHIN:?}", req.method, req.path))?
        .map_err(|e| format!("{} {}: {e}", req.method, req.path))
}

/// Sends `req` on a new connection and reads the whole answer.
pub async fn send(addr: SocketAddr, req: &Req) -> Result<Resp, String> {
    let response = open(addr, req).await?;
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(ANSWER_WITHIN, body.collect())
        .await
        .map_err(|_| format!("the body of {} {} did not end within {ANSWER_WITHIN:?}", req.method, req.path))?
        .map_err(|e| format!("read the body of {} {}: {e}", req.method, req.path))?
        .to_bytes();
    Ok(Resp { status: parts.status, headers: parts.headers, body })
}

/// A server over a ledger of the sample history in a temporary directory, with its runtime
/// and a token of every kind of caller. Stopped and drained when dropped.
pub struct Fixture {
    pub rt: Runtime,
    pub addr: SocketAddr,
    server: Option<Server>,
    tokens: HashMap<Who, String>,
    root: PathBuf,
    _dir: TempDir,
}

/// The configuration of the test servers: small limits, so that their tests are quick.
pub fn test_config() -> ServeConfig {
    ServeConfig {
        max_body_bytes: MAX_BODY,
        max_batch: MAX_BATCH,
        public_rate_per_second: RATE_PER_SECOND,
        public_burst: BURST,
        keep_alive: Duration::from_secs(1),
        ..ServeConfig::default()
    }
}

impl Fixture {
    pub fn start() -> Fixture {
        Fixture::with_config(test_config())
    }

    pub fn with_config(config: ServeConfig) -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path().join("ledger");
        let origin = OriginName::parse(ORIGIN).expect("a valid origin");
        let mut ledger = Ledger::init(&root, origin, LedgerConfig::default()).expect("init a ledger");
        ledger.import(SAMPLE.as_bytes(), &mut |_| {}).expect("import the sample history");
        assert_eq!(ledger.record_count(), SAMPLE_RECORDS);

        let file = TokenFile::new(&root);
        let mut tokens = HashMap::new();
        for who in Who::ALL {
            let role = match who {
                Who::Anonymous | Who::Forged => continue,
                Who::Platform => Role::Platform,
                Who::Auditor => Role::Auditor,
                Who::Investigator => Role::Investigator,
                _ => Role::Party,
            };
            let issued = file.issue(who.principal().expect("a principal"), role, "test").expect("issue");
            tokens.insert(who, issued.token);
        }
        file.revoke(&Revoke::Principal("grey-trader".into()), "test").expect("revoke");
        tokens.insert(Who::Forged, FORGED_TOKEN.to_owned());

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let server = rt
            .block_on(Server::start(ledger, "127.0.0.1:0".parse().expect("an address"), config))
            .expect("start the server");
        Fixture { rt, addr: server.addr, server: Some(server), tokens, root, _dir: dir }
    }

    /// The ledger directory (and token file) the server runs on.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("the server runs")
    }

    /// The bearer token of `who` (`None` for an anonymous caller).
    pub fn token(&self, who: Who) -> Option<&str> {
        self.tokens.get(&who).map(String::as_str)
    }

    /// Issues a token while the server runs.
    pub fn issue(&self, principal: &str, role: Role) -> Issued {
        TokenFile::new(&self.root).issue(principal, role, "test").expect("issue a token")
    }

    /// Revokes a token while the server runs.
    pub fn revoke(&self, which: Revoke) -> Vec<TokenEntry> {
        TokenFile::new(&self.root).revoke(&which, "test").expect("revoke a token")
    }

    /// Sends `req` and reads the answer; panics if there is none (a dropped connection is a
    /// failure: client input must always be answered).
    #[track_caller]
    pub fn send(&self, req: Req) -> Resp {
        match self.rt.block_on(send(self.addr, &req)) {
            Ok(resp) => resp,
            Err(e) => panic!("no answer to {} {}: {e}", req.method, req.path),
        }
    }

    #[track_caller]
    pub fn get(&self, who: Who, path: &str) -> Resp {
        self.send(Req::get(path).auth(self, who))
    }

    #[track_caller]
    pub fn post(&self, who: Who, body: impl Into<Vec<u8>>) -> Resp {
        self.send(Req::post("/v1/events", body).auth(self, who))
    }

    /// The seq of the last durable record, from `/healthz`.
    #[track_caller]
    pub fn head_seq(&self) -> u64 {
        let resp = self.get(Who::Anonymous, "/healthz");
        resp.expect(200);
        resp.json()["head_seq"].as_u64().expect("head_seq")
    }

    /// What the log holds now, as an auditor and the public see it. Waits (briefly) for the
    /// checkpoint to cover the durable head: checkpoints are signed at most once a second.
    #[track_caller]
    pub fn log_state(&self) -> LogState {
        let head_seq = self.head_seq();
        let page = self.get(Who::Auditor, &format!("/v1/records?from={head_seq}&limit=1"));
        page.expect(200);
        let page = page.json();
        let records_in_log = page["records_in_log"].as_u64().expect("records_in_log");
        let last_hash = page["records"][0]["hash"].as_str().expect("the last record's hash").to_owned();
        let deadline = Instant::now() + Duration::from_secs(5);
        let checkpoint = loop {
            let note = self.get(Who::Anonymous, "/v1/checkpoint");
            note.expect(200);
            let text = note.text();
            let size: Option<u64> = text.lines().nth(1).and_then(|l| l.parse().ok());
            if size == Some(records_in_log) || Instant::now() > deadline {
                break text;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        LogState { head_seq, records_in_log, last_hash, checkpoint }
    }

    /// Panics unless the log is exactly as `before` (nothing appended, nothing changed).
    #[track_caller]
    pub fn assert_unchanged(&self, before: &LogState) {
        let now = self.log_state();
        assert_eq!(now.head_seq, before.head_seq, "the head moved: something was appended");
        assert_eq!(now.records_in_log, before.records_in_log, "records were appended");
        assert_eq!(now.last_hash, before.last_hash, "the last record changed");
        assert_eq!(now.checkpoint, before.checkpoint, "the checkpoint changed");
    }

    /// The value of one series of `/metrics` (0 when absent).
    #[track_caller]
    pub fn metric(&self, series: &str) -> f64 {
        let text = self.get(Who::Anonymous, "/metrics").text();
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .map_or(0.0, |v| v.trim().parse().expect("a metric value"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let finished = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(5), server.finish()).await });
            if !std::thread::panicking() {
                let finished = finished.expect("the server stops within 5 s");
                finished.expect("the server stops cleanly");
            }
        }
    }
}

/// The log as a test saw it, to check that refused requests left it alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    pub head_seq: u64,
    pub records_in_log: u64,
    pub last_hash: String,
    pub checkpoint: String,
}

/// The keys an error body may hold: `error` and `message` always; for a refused submission
/// the rule, field and batch index.
const ERROR_KEYS: [&str; 5] = ["error", "message", "rule", "field", "index"];

/// Checks that `resp` is the error of spec/http.md: `status`, a JSON body
/// `{"error": code, "message": one sentence}` whose message names each of `needles`.
/// Returns the body for further checks.
#[track_caller]
pub fn assert_error(resp: &Resp, status: u16, code: &str, needles: &[&str]) -> Value {
    assert_eq!(resp.status(), status, "expected {status} {code}; got: {}", resp.text());
    assert!(
        resp.content_type().starts_with("application/json"),
        "an error is JSON; content-type {:?}: {}",
        resp.content_type(),
        resp.text()
    );
    let body = resp.json();
    let object = body.as_object().unwrap_or_else(|| panic!("an error body is an object: {body}"));
    for key in object.keys() {
        assert!(ERROR_KEYS.contains(&key.as_str()), "unexpected key {key:?} in the error body {body}");
    }
    assert_eq!(body["error"].as_str(), Some(code), "the error code of {body}");
    let message = body["message"].as_str().unwrap_or_else(|| panic!("a message string in {body}"));
    assert!(!message.trim().is_empty(), "an empty message in {body}");
    assert!(!message.contains('\n'), "a message is one sentence, on one line: {message:?}");
    for needle in needles {
        assert!(message.contains(needle), "the message {message:?} does not mention {needle:?}");
    }
    body
}

/// Like `assert_error` for a submission refused by a rule of spec/events.md: also checks the
/// `rule` named in the body.
#[track_caller]
pub fn assert_refused(resp: &Resp, status: u16, rule: &str, needles: &[&str]) -> Value {
    let code = if status == 400 { "malformed" } else { "refused" };
    let body = assert_error(resp, status, code, needles);
    assert_eq!(body["rule"].as_str(), Some(rule), "the rule of {body}");
    body
}

/// One event of a server-sent event stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// Reads server-sent events from a response body as they arrive, frame by frame.
pub struct SseReader {
    body: Incoming,
    buffer: String,
}

impl SseReader {
    pub fn new(body: Incoming) -> SseReader {
        SseReader { body, buffer: String::new() }
    }

    /// The next event that carries data (comments and keep-alives skipped), or `None` if none
    /// arrives within `wait` or the stream ends.
    pub async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent::default();
                let mut has_data = false;
                for line in block.lines() {
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => event.id = Some(value.to_owned()),
                        "event" => event.event = Some(value.to_owned()),
                        "data" => {
                            if has_data {
                                event.data.push('\n');
                            }
                            event.data.push_str(value);
                            has_data = true;
                        }
                        _ => {}
                    }
                }
                if has_data {
                    return Some(event);
                }
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame()).await.ok()??.ok()?;
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&data).expect("an event stream is UTF-8"));
            }
        }
    }
}
