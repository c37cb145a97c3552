//! Crash test: writers append through `chl serve` (and `chl import` runs) while the harness
//! kills the process with SIGKILL at random moments. After every kill, once the next command
//! has opened the ledger (recovery runs on open):
//!
//! - every acknowledged record is there, at the seq it was acknowledged with and with the same
//!   hash, and nothing before it changed (the record the last check ended on keeps its hash,
//!   and the chain continues from it);
//! - the log holds whole batches only: its last record ends a batch, and every batch in it is
//!   exactly one batch that was sent, whole, in order. A batch whose answer never arrived may
//!   be there (it was written, then the process died before answering) or not, never in part;
//! - every few kills, `chl verify` (the server stopped) checks the chain, the Merkle root and
//!   the signature of the latest checkpoint;
//! - sending again a batch whose answer never arrived gives 200 with the seqs it already has,
//!   or 201 if it was not recorded (docs/api.md 2.3);
//! - an import killed midway left all of its records or none, and running it again either
//!   appends them all or answers that every line is an exact repeat.
//!
//! `CHL_CRASH_KILLS` sets the number of kills (default 50); `CHL_CRASH_SEED` replays the
//! random choices of a run (delays, batch shapes), whose seed is printed. Timing is real, so
//! a replay takes the same decisions but not necessarily at the same moments.

mod common;

use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStderr, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const DEFAULT_KILLS: usize = 50;
/// Threads posting sales.
const WRITERS: u64 = 4;
/// The server is killed this many milliseconds (at least, at most) after the writers start.
const KILL_AFTER_MS: (u64, u64) = (5, 200);
/// Every kill of an even number is followed by a `chl export` (the server stopped); every odd
/// one by a restart of the server and a read through its API. Of the even ones, every
/// `VERIFY_EVERY`th runs `chl verify` and every `VERIFY_EVERY`th (offset by 2) an import that
/// is killed too.
const VERIFY_EVERY: usize = 4;
/// Sales in each import. It is killed at a random moment up to 1.3 times as long after its
/// start as the last import took to run whole (this long before the first), so that some
/// imports die before they write, some while they write and some after.
const IMPORT_LINES: usize = 3000;
const FIRST_IMPORT_ESTIMATE_MS: u64 = 150;
/// Every sale takes effect at this time, so that a sale sent again is an exact repeat.
const EFFECTIVE_AT: &str = "2024-06-01T12:00:00Z";

fn sale(order: &str) -> String {
    format!(
        r#"{{"type":"sale_recorded","actor":"platform","effective_at":"{EFFECTIVE_AT}","data":{{"order":"{order}","store":"acme-flagship","sku":"ACME-CREAM-50","quantity":1,"unit_price":{{"value":29900,"currency":"CNY"}}}}}}"#
    )
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")))
}

// ---- the server and HTTP ------------------------------------------------------------------

struct Server {
    child: Child,
    addr: SocketAddr,
    /// Kept open so that the server's later lines to stderr do not fail.
    stderr: BufReader<ChildStderr>,
    /// What it said before it served: recovery reports.
    said: Vec<String>,
}

impl Drop for Server {
    /// A test that fails midway leaves no server behind (a no-op once it was killed and reaped).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `chl serve` on a free port; recovery runs as it opens the ledger.
fn start_server(dir: &Path) -> Server {
    let mut child = chl_command()
        .args(["--data", dir.to_str().unwrap(), "serve", "--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chl serve");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    // Owned by a `Server` at once, so that it is killed and reaped whatever happens next.
    let mut server = Server { child, addr: SocketAddr::from(([0, 0, 0, 0], 0)), stderr, said: Vec::new() };
    loop {
        let mut line = String::new();
        if server.stderr.read_line(&mut line).unwrap() == 0 {
            let status = server.child.wait().unwrap();
            panic!("chl serve exited ({status}) before serving: {:#?}", server.said);
        }
        if let Some(rest) = line.split("http://").nth(1) {
            server.addr = rest.split_whitespace().next().unwrap().parse().unwrap();
            return server;
        }
        server.said.push(line.trim_end().to_owned());
    }
}

/// SIGKILL (what `kill -KILL pid` sends), then reap.
fn kill(child: &mut Child) {
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
}

/// One request on its own connection; `(status, body)`.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
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

/// Every record from `from` on, through `GET /v1/records`.
fn records_through_api(addr: SocketAddr, token: &str, from: u64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(from);
    while let Some(from) = next {
        let (status, body) =
            request(addr, "GET", &format!("/v1/records?from={from}&limit=1000"), token, "").unwrap();
        assert_eq!(status, 200, "GET /v1/records?from={from}: {body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        out.extend(page["records"].as_array().unwrap().iter().cloned());
        next = page["next"].as_u64();
    }
    out
}

/// The answer to an append of `size` submissions: `(seq, hash, appended)` of each.
fn answer_records(body: &str, size: usize) -> Option<Vec<(u64, String, bool)>> {
    let doc: Value = serde_json::from_str(body).ok()?;
    let records = doc["records"].as_array()?;
    if records.len() != size {
        return None;
    }
    records
        .iter()
        .map(|r| {
            let appended = match r["status"].as_str()? {
                "appended" => true,
                "repeat" => false,
                _ => return None,
            };
            Some((r["seq"].as_u64()?, r["hash"].as_str().unwrap_or_default().to_owned(), appended))
        })
        .collect()
}

// ---- what was sent ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Server,
    Import,
}

#[derive(Debug)]
struct Batch {
    origin: Origin,
    /// The kill it was sent before.
    kill: usize,
    orders: Vec<String>,
    body: String,
    /// Seq and hash (when known) of each record, once acknowledged.
    acked: Option<Vec<(u64, Option<String>)>>,
    /// Its first seq once found in the log.
    found: Option<u64>,
    /// Looked for at least once since it was sent.
    checked: bool,
    retried: bool,
}

/// A batch a writer sent, and the answer if one came.
struct Sent {
    orders: Vec<String>,
    body: String,
    acked: Option<Vec<(u64, Option<String>)>>,
}

/// Posts sales until told to stop or the server goes away.
fn writer(
    addr: SocketAddr,
    token: String,
    kill: usize,
    w: u64,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> Vec<Sent> {
    let mut rng = SplitMix(seed);
    let mut out = Vec::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let size = if rng.below(2) == 0 { 1 } else { 2 + rng.below(4) as usize };
        let orders: Vec<String> = (0..size).map(|j| format!("CR-{kill}-{w}-{n}-{j}")).collect();
        let body = if size == 1 && rng.below(2) == 0 {
            sale(&orders[0])
        } else {
            format!("[{}]", orders.iter().map(|o| sale(o)).collect::<Vec<_>>().join(","))
        };
        let answer = request(addr, "POST", "/v1/events", &token, &body);
        let (acked, go_on) = match &answer {
            Ok((201, text)) => match answer_records(text, size) {
                Some(records) => {
                    assert!(records.iter().all(|r| r.2), "a new order was answered as a repeat: {text}");
                    (Some(records.into_iter().map(|(seq, hash, _)| (seq, Some(hash))).collect()), true)
                }
                // The answer was cut off by the kill: not an acknowledgement.
                None => (None, false),
            },
            // Not known to be durable in time, or the server is going away.
            Ok((503, _)) => (None, true),
            Ok((status, text)) => panic!("POST /v1/events answered {status}: {text}"),
            Err(_) => (None, false),
        };
        out.push(Sent { orders, body, acked });
        if !go_on {
            break;
        }
    }
    out
}

// ---- the model of the log -----------------------------------------------------------------

#[derive(Default)]
struct Stats {
    acked_batches: u64,
    acked_records: u64,
    unanswered_present: u64,
    unanswered_absent: u64,
    retried_present: u64,
    retried_absent: u64,
    recoveries: u64,
    imports_absent: u64,
    imports_present_killed: u64,
    imports_completed: u64,
    early_verify_failures: u64,
}

struct Model {
    batches: Vec<Batch>,
    by_order: HashMap<String, (usize, usize)>,
    /// Records checked so far, and the hash of the last.
    records: u64,
    head_hash: String,
    /// The highest seq ever acknowledged.
    max_acked: Option<u64>,
    stats: Stats,
}

impl Model {
    fn new(base_export: &str) -> Model {
        let lines = parse_lines(base_export);
        let head = lines.last().unwrap();
        Model {
            batches: Vec::new(),
            by_order: HashMap::new(),
            records: lines.len() as u64,
            head_hash: head["hash"].as_str().unwrap().to_owned(),
            max_acked: None,
            stats: Stats::default(),
        }
    }

    fn add(&mut self, origin: Origin, kill: usize, sent: Sent) -> usize {
        let id = self.batches.len();
        for (i, order) in sent.orders.iter().enumerate() {
            assert!(self.by_order.insert(order.clone(), (id, i)).is_none(), "order {order} sent twice");
        }
        self.batches.push(Batch {
            origin,
            kill,
            orders: sent.orders,
            body: sent.body,
            acked: None,
            found: None,
            checked: false,
            retried: false,
        });
        if let Some(acked) = sent.acked {
            self.acknowledge(id, acked);
        }
        id
    }

    fn acknowledge(&mut self, id: usize, acked: Vec<(u64, Option<String>)>) {
        assert_eq!(acked.len(), self.batches[id].orders.len());
        let last = acked.last().unwrap().0;
        self.max_acked = Some(self.max_acked.map_or(last, |m| m.max(last)));
        self.stats.acked_batches += 1;
        self.stats.acked_records += acked.len() as u64;
        self.batches[id].acked = Some(acked);
    }

    /// Checks the log from the last checked record on (`suffix` starts with it).
    fn check(&mut self, suffix: &[Value], when: &str) {
        let first = &suffix[0];
        assert_eq!(first["seq"].as_u64(), Some(self.records - 1), "{when}: the first record read");
        assert_eq!(
            first["hash"].as_str(),
            Some(self.head_hash.as_str()),
            "{when}: record {} changed: the log before it cannot be the one checked before",
            self.records - 1
        );
        let last = suffix.last().unwrap();
        assert_eq!(last["ends_batch"], true, "{when}: the log ends inside a batch: {last}");
        let mut prev = self.head_hash.clone();
        let mut group: Vec<&Value> = Vec::new();
        for (k, line) in suffix[1..].iter().enumerate() {
            let seq = self.records + k as u64;
            assert_eq!(line["seq"].as_u64(), Some(seq), "{when}: seqs run without gaps: {line}");
            assert_eq!(
                line["prev"].as_str(),
                Some(prev.as_str()),
                "{when}: seq {seq} links to the one before"
            );
            prev = line["hash"].as_str().unwrap().to_owned();
            group.push(line);
            if line["ends_batch"] == true {
                self.check_batch(&group, when);
                group.clear();
            }
        }
        assert!(group.is_empty());
        self.records += suffix.len() as u64 - 1;
        self.head_hash = prev;
        // Acknowledged batches are all there; the others are now known to be there or not.
        for batch in &mut self.batches {
            if let Some(acked) = &batch.acked {
                assert_eq!(
                    batch.found,
                    Some(acked[0].0),
                    "{when}: an acknowledged batch is missing (sent before kill {}, acknowledged at seq {}): {:?}",
                    batch.kill,
                    acked[0].0,
                    batch.orders
                );
            }
            if !batch.checked && batch.acked.is_none() && batch.origin == Origin::Server {
                match batch.found {
                    Some(_) => self.stats.unanswered_present += 1,
                    None => self.stats.unanswered_absent += 1,
                }
            }
            batch.checked = true;
        }
    }

    /// One batch of the log (its records, the last ending it) must be exactly one batch sent.
    fn check_batch(&mut self, records: &[&Value], when: &str) {
        let seq = records[0]["seq"].as_u64().unwrap();
        let orders: Vec<&str> = records
            .iter()
            .map(|r| {
                assert_eq!(r["type"], "sale_recorded", "{when}: a record nobody sent: {r}");
                r["data"]["order"].as_str().unwrap()
            })
            .collect();
        let Some(&(id, 0)) = self.by_order.get(orders[0]) else {
            panic!("{when}: the batch at seq {seq} does not start where a sent batch starts: {orders:?}");
        };
        let batch = &mut self.batches[id];
        assert_eq!(
            orders, batch.orders,
            "{when}: the batch at seq {seq} is not exactly the batch sent (a part of it, or more)"
        );
        assert_eq!(batch.found, None, "{when}: the batch at seq {seq} is in the log twice: {orders:?}");
        assert!(records[..records.len() - 1].iter().all(|r| r["ends_batch"] == false), "{when}: seq {seq}");
        batch.found = Some(seq);
        if let Some(acked) = &batch.acked {
            for (record, (seq, hash)) in records.iter().zip(acked) {
                assert_eq!(record["seq"].as_u64(), Some(*seq), "{when}: acknowledged at seq {seq}: {record}");
                if let Some(hash) = hash {
                    assert_eq!(
                        record["hash"].as_str(),
                        Some(hash.as_str()),
                        "{when}: seq {seq} changed its hash"
                    );
                }
            }
        }
    }

    /// Sends again the server batches whose answer never came: an exact repeat of a recorded
    /// batch is answered 200 with its seqs; one that was not recorded is appended now.
    fn retry_unanswered(&mut self, addr: SocketAddr, token: &str) {
        for id in 0..self.batches.len() {
            let batch = &self.batches[id];
            if batch.origin != Origin::Server || batch.acked.is_some() || !batch.checked || batch.retried {
                continue;
            }
            let (status, body) = request(addr, "POST", "/v1/events", token, &batch.body).unwrap();
            let records = answer_records(&body, batch.orders.len()).unwrap_or_else(|| {
                panic!("sent again, batch {:?} was answered {status}: {body}", batch.orders)
            });
            match batch.found {
                Some(first) => {
                    assert_eq!(status, 200, "a recorded batch sent again: {body}");
                    let seqs: Vec<u64> = records.iter().map(|r| r.0).collect();
                    let want: Vec<u64> = (first..first + seqs.len() as u64).collect();
                    assert_eq!(seqs, want, "a recorded batch sent again names its seqs");
                    assert!(records.iter().all(|r| !r.2), "{body}");
                    self.stats.retried_present += 1;
                }
                None => {
                    assert_eq!(status, 201, "an unrecorded batch sent again is appended: {body}");
                    assert!(records.iter().all(|r| r.2), "{body}");
                    let acked = records.into_iter().map(|(seq, hash, _)| (seq, Some(hash))).collect();
                    self.acknowledge(id, acked);
                    self.stats.retried_absent += 1;
                }
            }
            self.batches[id].retried = true;
        }
    }

    /// `chl verify` run before anything recovered the log may report an unfinished tail, but
    /// never anything at or before an acknowledged record.
    fn check_early_verify(&mut self, dir: &Path, when: &str) {
        let early = chl(dir, &["verify"]);
        if early.code == 0 {
            return;
        }
        self.stats.early_verify_failures += 1;
        assert_eq!(early.code, 1, "{when}: {early:#?}");
        let seq = first_named_seq(&early.stderr);
        assert!(
            seq.is_some_and(|s| self.max_acked.is_none_or(|m| s > m)),
            "{when}: verify before recovery names seq {seq:?}, at or before the last acknowledged one ({:?}): {early:#?}",
            self.max_acked
        );
    }
}

/// Reads the log from the last checked record on with `chl export` (which opens the ledger,
/// so recovery runs); counts the recoveries it reports.
fn export_suffix(dir: &Path, model: &mut Model) -> Vec<Value> {
    let run = chl(dir, &["export", "--from", &(model.records - 1).to_string()]).ok();
    model.stats.recoveries += run.stderr.matches("recovered:").count() as u64;
    parse_lines(&run.stdout)
}

fn verify_all(dir: &Path, model: &Model, when: &str) {
    let run = chl(dir, &["verify"]);
    assert_eq!(run.code, 0, "{when}: {run:#?}");
    let records = model.records;
    assert!(run.stdout.contains(&format!("verified {records} records")), "{when}: {run:#?}");
    assert!(
        run.stdout.contains(&format!(
            "the Merkle root of its first {records} records matches the latest signed checkpoint"
        )),
        "{when}: the checkpoint signed on open covers every record: {run:#?}"
    );
}

/// An import of `IMPORT_LINES` sales killed after a random delay: all or none of it is there;
/// then the same import again completes, or finds every line an exact repeat.
fn killed_import(
    dir: &Path,
    scratch: &Path,
    model: &mut Model,
    rng: &mut SplitMix,
    kill_no: usize,
    estimate_ms: &mut u64,
) {
    let orders: Vec<String> = (0..IMPORT_LINES).map(|k| format!("IM-{kill_no}-{k}")).collect();
    let text: String = orders.iter().map(|o| format!("{}\n", sale(o))).collect();
    let file = scratch.join(format!("import-{kill_no}.jsonl"));
    std::fs::write(&file, &text).unwrap();
    let id = model.add(Origin::Import, kill_no, Sent { orders, body: text, acked: None });

    let mut child = chl_command()
        .arg("--data")
        .arg(dir)
        .arg("import")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chl import");
    std::thread::sleep(Duration::from_millis(rng.below(*estimate_ms * 13 / 10 + 1)));
    let _ = child.kill(); // fails only if it has already exited
    let output = child.wait_with_output().unwrap();
    let completed = output.status.success();
    let when = format!("import killed at kill {kill_no} (exit {})", output.status);
    if completed {
        // It answered before the kill: acknowledged, with the seqs it names.
        let stdout = String::from_utf8(output.stdout).unwrap();
        let (first, last) = appended_range(&stdout).unwrap_or_else(|| panic!("{when}: {stdout}"));
        assert_eq!(last + 1 - first, IMPORT_LINES as u64, "{stdout}");
        model.acknowledge(id, (first..=last).map(|s| (s, None)).collect());
    }
    model.check_early_verify(dir, &when);
    let suffix = export_suffix(dir, model);
    model.check(&suffix, &when);
    let present = model.batches[id].found.is_some();
    match (completed, present) {
        (true, _) => model.stats.imports_completed += 1,
        (false, true) => model.stats.imports_present_killed += 1,
        (false, false) => model.stats.imports_absent += 1,
    }

    // The same import again, timed for the next one's kill.
    let timer = Instant::now();
    let again = chl(dir, &["import", file.to_str().unwrap()]).ok();
    *estimate_ms = timer.elapsed().as_millis() as u64;
    if present {
        assert!(
            again.stdout.starts_with(&format!(
                "appended 0 records, {IMPORT_LINES} exact repeats of recorded submissions accepted without appending"
            )),
            "{when}, run again: {again:#?}"
        );
    } else {
        let (first, last) = appended_range(&again.stdout).unwrap_or_else(|| panic!("{when}: {again:#?}"));
        assert_eq!((first, last + 1 - first), (model.records, IMPORT_LINES as u64), "{again:#?}");
        model.acknowledge(id, (first..=last).map(|s| (s, None)).collect());
        let suffix = export_suffix(dir, model);
        model.check(&suffix, &format!("{when}, run again"));
    }
}

/// `(first, last)` of "appended N records (seq FIRST to LAST)".
fn appended_range(stdout: &str) -> Option<(u64, u64)> {
    let rest = stdout.split("(seq ").nth(1)?;
    let (first, rest) = rest.split_once(" to ")?;
    let last = rest.split(')').next()?;
    Some((first.parse().ok()?, last.parse().ok()?))
}

#[test]
fn every_acknowledged_record_survives_sigkill_and_no_batch_is_left_in_part() {
    let kills = env_u64("CHL_CRASH_KILLS").map_or(DEFAULT_KILLS, |n| n as usize);
    let seed = env_u64("CHL_CRASH_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        SplitMix(now.as_nanos() as u64 ^ u64::from(std::process::id())).next_u64()
    });
    eprintln!("crash test: {kills} kills, CHL_CRASH_SEED={seed} (set it to replay the random choices)");
    let started = Instant::now();
    let mut rng = SplitMix(seed);

    let (scratch, dir) = sample_ledger();
    let token = chl(&dir, &["token", "issue", "--principal", "platform", "--role", "platform"]).ok().stdout;
    let token = token.trim().to_owned();
    let mut model = Model::new(&export(&dir));

    let mut server: Option<Server> = None;
    let mut import_estimate_ms = FIRST_IMPORT_ESTIMATE_MS;
    for kill_no in 0..kills {
        let mut running = server.take().unwrap_or_else(|| start_server(&dir));
        model.stats.recoveries += running.said.iter().filter(|l| l.contains("recovered:")).count() as u64;
        model.retry_unanswered(running.addr, &token);

        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (token, stop, seed, addr) =
                    (token.clone(), Arc::clone(&stop), rng.next_u64(), running.addr);
                std::thread::spawn(move || writer(addr, token, kill_no, w, seed, stop))
            })
            .collect();
        let delay = KILL_AFTER_MS.0 + rng.below(KILL_AFTER_MS.1 - KILL_AFTER_MS.0 + 1);
        std::thread::sleep(Duration::from_millis(delay));
        kill(&mut running.child);
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            for sent in w.join().expect("a writer panicked") {
                model.add(Origin::Server, kill_no, sent);
            }
        }
        let when = format!("kill {kill_no} (after {delay} ms)");
        model.check_early_verify(&dir, &when);

        if kill_no % 2 == 0 {
            let suffix = export_suffix(&dir, &mut model);
            model.check(&suffix, &format!("{when}, read by chl export"));
            if kill_no % VERIFY_EVERY == 0 {
                verify_all(&dir, &model, &when);
            }
            if kill_no % VERIFY_EVERY == 2 {
                killed_import(&dir, scratch.path(), &mut model, &mut rng, kill_no, &mut import_estimate_ms);
            }
        } else {
            let restarted = start_server(&dir);
            model.stats.recoveries +=
                restarted.said.iter().filter(|l| l.contains("recovered:")).count() as u64;
            let suffix = records_through_api(restarted.addr, &token, model.records - 1);
            model.check(&suffix, &format!("{when}, read through the restarted server"));
            server = Some(restarted);
        }
    }

    // Last: the server stopped cleanly if one runs, then the whole log once more.
    if let Some(mut last) = server.take() {
        let status =
            std::process::Command::new("kill").args(["-TERM", &last.child.id().to_string()]).status();
        assert!(status.unwrap().success());
        assert!(last.child.wait().unwrap().success(), "chl serve stops cleanly on SIGTERM");
    }
    let suffix = export_suffix(&dir, &mut model);
    model.check(&suffix, "at the end");
    verify_all(&dir, &model, "at the end");
    let all = parse_lines(&export(&dir));
    assert_eq!(all.len() as u64, model.records);
    for batch in &model.batches {
        for (seq, hash) in batch.acked.iter().flatten() {
            let record = &all[*seq as usize];
            let order = &batch.orders[(*seq - batch.found.unwrap()) as usize];
            assert_eq!(record["data"]["order"].as_str(), Some(order.as_str()), "at the end: seq {seq}");
            if let Some(hash) = hash {
                assert_eq!(record["hash"].as_str(), Some(hash.as_str()), "at the end: seq {seq}");
            }
        }
    }

    let s = &model.stats;
    eprintln!(
        "crash test: {kills} kills in {:.1} s (seed {seed}); {} records; acknowledged {} batches ({} records); \
         unanswered batches found whole {} / absent {}; sent again: already there {}, appended {}; \
         recoveries reported {}; verify before recovery failed {} times (past the acknowledged records); \
         imports: killed before commit {}, killed after commit {}, completed {}",
        started.elapsed().as_secs_f64(),
        model.records,
        s.acked_batches,
        s.acked_records,
        s.unanswered_present,
        s.unanswered_absent,
        s.retried_present,
        s.retried_absent,
        s.recoveries,
        s.early_verify_failures,
        s.imports_absent,
        s.imports_present_killed,
        s.imports_completed,
    );
    assert!(s.acked_records > 0, "the writers got going");
}
