//! `chl-load`: the load benchmark of the HTTP API.
//!
//! By default it builds a ledger in a scratch directory from the sample channel history,
//! starts `chl serve`'s server in this process on a loopback port (its own tokio runtime), and
//! drives it from N concurrent keep-alive connections (closed loop: each sends its next
//! request when the last is answered), so server and client share this machine's cores as the
//! issue's target says. Two workloads:
//! - `append`: one `sale_recorded` per request, each answered only once durable;
//! - `verdict`: `GET /v1/orders/{id}/verdict` over the sample's orders.
//!
//! It reports, per run and as the median over runs, requests per second and latency
//! percentiles (with `--json`, also as one JSON document on stdout, for chl-bench). `--url` and
//! `--token` point it at a server running elsewhere instead.

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const SAMPLE_HISTORY: &str = include_str!("../../../replay/samples/acme-channel.jsonl");

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    Append,
    Verdict,
}

#[derive(Parser, Debug)]
#[command(about = "Load benchmark of the Channel Ledger HTTP API")]
struct Args {
    #[arg(long, value_enum, default_value = "append")]
    workload: Workload,
    /// Concurrent connections, each one request at a time.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds measured per run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Seconds of load before each run's measurement starts.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Runs; the summary gives the median of each figure over them.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Worker threads of the in-process server's runtime.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// Worker threads of the load client's runtime.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Drive a server running elsewhere (with --token) instead of starting one here. For
    /// `append`, its ledger must hold the sample history (replay/samples/acme-channel.jsonl).
    #[arg(long)]
    url: Option<String>,
    /// A platform token for --url.
    #[arg(long, env = "CHL_TOKEN")]
    token: Option<String>,
    /// Keep the scratch ledger here instead of a temporary directory.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Print the human-readable lines to stderr and, at the end, one JSON summary on stdout
    /// (every run, the medians and ranges, group commits); chl-bench reads it.
    #[arg(long)]
    json: bool,
}

struct Target {
    addr: SocketAddr,
    host: String,
    token: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut scratch = None;
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.server_threads)
        .enable_all()
        .build()?;
    let (target, server) = match &args.url {
        Some(url) => {
            let token = args.token.clone().context("--url needs --token (a platform token)")?;
            let hostport = url.trim_start_matches("http://").trim_end_matches('/');
            let addr = std::net::ToSocketAddrs::to_socket_addrs(hostport)?.next().context("resolve --url")?;
            (Target { addr, host: hostport.to_owned(), token }, None)
        }
        None => {
            let dir = match &args.data {
                Some(dir) => dir.clone(),
                None => {
                    let tmp = tempfile::tempdir()?;
                    let path = tmp.path().join("ledger");
                    scratch = Some(tmp);
                    path
                }
            };
            let (ledger, token) = prepare(&dir)?;
            let server = server_runtime.block_on(chl_server::Server::start(
                ledger,
                "127.0.0.1:0".parse()?,
                chl_server::ServeConfig::default(),
            ))?;
            let addr = server.addr;
            (Target { addr, host: addr.to_string(), token }, Some(server))
        }
    };
    let target = Arc::new(target);
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads)
        .enable_all()
        .build()?;
    // With --json, stdout carries only the JSON summary.
    let say = |line: String| if args.json { eprintln!("{line}") } else { println!("{line}") };
    say(format!(
        "workload {:?}: {} clients, {} runs of {} s (after {} s warm-up); server threads {}, client threads {}; cores {}",
        args.workload,
        args.clients,
        args.runs,
        args.seconds,
        args.warmup,
        args.server_threads,
        args.client_threads,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    let mut results = Vec::new();
    for run in 0..args.runs {
        let result = client_runtime.block_on(drive(Arc::clone(&target), &args, run))?;
        say(format!(
            "run {}: {:.0} requests/s, latency median {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms ({} requests, {} errors)",
            run + 1,
            result.rate,
            result.p50,
            result.p99,
            result.p999,
            result.max,
            result.requests,
            result.errors
        ));
        results.push(result);
    }
    let median = |f: fn(&RunResult) -> f64| {
        let mut values: Vec<f64> = results.iter().map(f).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let spread = |f: fn(&RunResult) -> f64| {
        let values: Vec<f64> = results.iter().map(f).collect();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(0.0, f64::max);
        (min, max)
    };
    let (rate_min, rate_max) = spread(|r| r.rate);
    let (p99_min, p99_max) = spread(|r| r.p99);
    say(format!(
        "median of {} runs: {:.0} requests/s (range {:.0}..{:.0}), latency median {:.3} ms, p99 {:.3} ms (range {:.3}..{:.3})",
        results.len(),
        median(|r| r.rate),
        rate_min,
        rate_max,
        median(|r| r.p50),
        median(|r| r.p99),
        p99_min,
        p99_max
    ));
    let mut group_commits = serde_json::Value::Null;
    if let Some(server) = server {
        let metrics = server.app().metrics.render();
        let groups = metric(&metrics, "chl_group_commit_records_count");
        let records = metric(&metrics, "chl_group_commit_records_sum");
        if groups > 0.0 {
            let seconds = metric(&metrics, "chl_group_commit_seconds_sum");
            say(format!(
                "group commits: {groups:.0}, mean {:.1} records and {:.3} ms each (staging to durable)",
                records / groups,
                seconds / groups * 1e3
            ));
            group_commits = serde_json::json!({
                "groups": groups,
                "mean_records": records / groups,
                "mean_ms": seconds / groups * 1e3,
            });
        }
        server_runtime.block_on(server.finish())?;
    }
    drop(scratch);
    if args.json {
        let runs: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                serde_json::json!({
                    "rate": r.rate, "p50_ms": r.p50, "p99_ms": r.p99, "p999_ms": r.p999,
                    "max_ms": r.max, "requests": r.requests, "errors": r.errors,
                })
            })
            .collect();
        let summary = serde_json::json!({
            "workload": format!("{:?}", args.workload).to_lowercase(),
            "clients": args.clients,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "server_threads": args.server_threads,
            "client_threads": args.client_threads,
            "runs": runs,
            "median": {
                "rate": median(|r| r.rate), "p50_ms": median(|r| r.p50), "p99_ms": median(|r| r.p99),
                "p999_ms": median(|r| r.p999),
            },
            "range": { "rate": [rate_min, rate_max], "p99_ms": [p99_min, p99_max] },
            "group_commits": group_commits,
        });
        println!("{summary}");
    }
    if results.iter().any(|r| r.errors > 0) {
        bail!("some requests failed");
    }
    Ok(())
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

/// A ledger holding the sample history, and a platform token for it.
fn prepare(dir: &std::path::Path) -> Result<(chl_ledger::Ledger, String)> {
    use chl_ledger::{Ledger, LedgerConfig};
    let mut ledger = if dir.join("log").is_dir() {
        Ledger::open(dir, LedgerConfig::default())?
    } else {
        let origin = chl_model::event::OriginName::parse("load.example").map_err(anyhow::Error::msg)?;
        let mut ledger = Ledger::init(dir, origin, LedgerConfig::default())?;
        ledger.import(SAMPLE_HISTORY.as_bytes(), &mut |_| {})?;
        ledger
    };
    ledger.state()?;
    let tokens = chl_server::tokens::TokenFile::new(dir);
    let issued = tokens.issue("platform", chl_server::tokens::Role::Platform, "load")?;
    Ok((ledger, issued.token))
}

struct RunResult {
    rate: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    requests: usize,
    errors: usize,
}

/// The orders of the sample history, for verdict reads.
fn sample_orders() -> Vec<String> {
    SAMPLE_HISTORY
        .lines()
        .filter(|l| l.contains("\"sale_recorded\""))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["data"]["order"].as_str().map(str::to_owned))
        .collect()
}

async fn drive(target: Arc<Target>, args: &Args, run: usize) -> Result<RunResult> {
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let orders = Arc::new(sample_orders());
    let mut tasks = Vec::new();
    for client in 0..args.clients {
        let (target, measuring, stop, orders) =
            (Arc::clone(&target), Arc::clone(&measuring), Arc::clone(&stop), Arc::clone(&orders));
        let workload = args.workload;
        // A unique run id keeps order ids new across runs of one ledger.
        let prefix = format!("LOAD-{}-{run}-{client}", std::process::id());
        tasks.push(tokio::spawn(async move {
            client_loop(&target, workload, &prefix, &orders, client, &measuring, &stop).await
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    measuring.store(true, Ordering::SeqCst);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    stop.store(true, Ordering::SeqCst);
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut l, e) = task.await??;
        latencies.append(&mut l);
        errors += e;
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)] as f64 / 1000.0
    };
    Ok(RunResult {
        rate: latencies.len() as f64 / elapsed,
        p50: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
        max: latencies.last().map_or(0.0, |&m| m as f64 / 1000.0),
        requests: latencies.len(),
        errors,
    })
}

/// One connection's closed loop; returns latencies in microseconds (measured requests only)
/// and the count of failed requests.
async fn client_loop(
    target: &Target,
    workload: Workload,
    prefix: &str,
    orders: &[String],
    client: usize,
    measuring: &AtomicBool,
    stop: &AtomicBool,
) -> Result<(Vec<u32>, usize)> {
    let stream = tokio::net::TcpStream::connect(target.addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let auth = format!("Bearer {}", target.token);
    let mut latencies = Vec::with_capacity(1 << 16);
    let mut errors = 0;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let request = match workload {
            Workload::Append => {
                let body = format!(
                    r#"{{"type":"sale_recorded","actor":"platform","data":{{"order":"{prefix}-{n}","store":"acme-flagship","sku":"ACME-CREAM-50","quantity":1,"unit_price":{{"value":29900,"currency":"CNY"}},"payment_ref":"{prefix}-{n}"}}}}"#
                );
                Request::builder()
                    .method(Method::POST)
                    .uri("/v1/events")
                    .header("host", &target.host)
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)))?
            }
            Workload::Verdict => {
                let order = &orders[(client + n as usize) % orders.len()];
                Request::builder()
                    .method(Method::GET)
                    .uri(format!("/v1/orders/{order}/verdict"))
                    .header("host", &target.host)
                    .header("authorization", &auth)
                    .body(Full::new(Bytes::new()))?
            }
        };
        let started = Instant::now();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let micros = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
        let expected = match workload {
            Workload::Append => 201,
            Workload::Verdict => 200,
        };
        if status.as_u16() != expected {
            errors += 1;
            if errors == 1 {
                eprintln!("client {client}: {status}: {}", String::from_utf8_lossy(&body));
            }
        } else if measuring.load(Ordering::Relaxed) {
            latencies.push(micros);
        }
    }
    Ok((latencies, errors))
}
