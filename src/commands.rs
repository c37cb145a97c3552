//! One function per command: resolve the arguments, call the libraries, print the result.

use crate::args::{Args, Command, TokenAction};
use crate::progress;
use anyhow::{Context, Result, bail};
use chl_ledger::{ImportOutcome, Ledger, LedgerConfig};
use chl_log::OpenReport;
use chl_model::Seq;
use chl_model::event::OriginName;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub fn run(args: Args) -> Result<()> {
    let explicit_data = args.data.clone();
    let data = args.data.unwrap_or_else(|| PathBuf::from("chl-data"));
    match args.command {
        Command::Init { origin } => init(&data, origin),
        Command::Import { file } => import(&data, &file),
        Command::Export { from, to } => export(&data, from, to),
        Command::Verify { file: Some(file) } => verify_file(&file),
        Command::Verify { file: None } => verify(&data),
        Command::Prove { seq, size, order, consistency } => {
            let mut ledger = open(&data)?;
            let doc = match (seq, order, consistency) {
                // Bundles print as built: each record's export line stays exactly as written.
                (Some(seq), ..) => {
                    println!("{}", serde_json::to_string_pretty(&ledger.prove_seq(Seq(seq), size)?)?);
                    return Ok(());
                }
                (_, Some(order), _) => {
                    ledger.state()?;
                    println!("{}", serde_json::to_string_pretty(&ledger.prove_order(&order)?)?);
                    return Ok(());
                }
                (_, _, Some(sizes)) => {
                    let (old, new) = (sizes[0], sizes[1]);
                    let hashes = ledger.log().consistency_proof(old, new)?;
                    let encode = |h: &[u8; 32]| base64_encode(h);
                    serde_json::json!({"old_size": old, "new_size": new, "hashes": hashes.iter().map(encode).collect::<Vec<_>>()})
                }
                _ => unreachable!("clap requires one of --seq, --order, --consistency"),
            };
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        Command::VerifyBundle { file, key } => {
            let key = chl_ledger::bundle::VerifierKey::parse(&key)?;
            let mut text = String::new();
            input_reader(&file)?
                .0
                .read_to_string(&mut text)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let report = chl_ledger::bundle::verify_bundle(&text, &key)
                .map_err(|e| anyhow::anyhow!("bundle refused: {e}"))?;
            let seqs: Vec<String> = report.records.iter().map(|s| s.to_string()).collect();
            println!(
                "bundle verified: checkpoint of {} at {} records signed by its key; records {} proven included{}",
                report.checkpoint.origin,
                report.checkpoint.size,
                if seqs.is_empty() { "none".to_owned() } else { seqs.join(", ") },
                report
                    .verdict
                    .map_or(String::new(), |v| format!("; verdict {v} rests only on proven records"))
            );
            Ok(())
        }
        Command::Checkpoint => {
            let ledger = open(&data)?;
            match ledger.latest_checkpoint() {
                Some(note) => print!("{note}"),
                None => {
                    bail!("{} has no signed checkpoint (a ledger restored without its key)", data.display())
                }
            }
            Ok(())
        }
        Command::Key => {
            let ledger = open(&data)?;
            println!("{}", ledger.verifier_key());
            Ok(())
        }
        Command::Status { json } => status(&data, json),
        Command::Demo { no_serve, addr } => demo(explicit_data, (!no_serve).then_some(addr)),
        Command::Rebuild => {
            let mut ledger = open(&data)?;
            let report = ledger.rebuild()?;
            let derived = &report.derived;
            println!(
                "rebuilt from {} records: offset indexes ({} of {} rewritten) and Merkle tree files ({} of {} hashes rewritten) checked, index in {:.2} s, state in {:.2} s; snapshot written to {}",
                report.records,
                derived.indexes.rewritten,
                derived.indexes.indexes,
                derived.tree_hashes_rewritten,
                derived.tree_hashes,
                report.index_seconds,
                report.state_seconds,
                report.snapshot.display()
            );
            Ok(())
        }
        Command::Channel { brand, as_of, known_at_seq, since, sales_from, sales_until, json } => {
            let question = ChannelQuestion {
                brand,
                as_of,
                known_at: known_at_seq.map(Seq),
                since,
                sales_from,
                sales_until,
            };
            channel(&data, question, json)
        }
        Command::Check { order, store, sku, at, known_at_seq, json } => {
            let question = match (order, store, sku, at) {
                (Some(order), ..) => Question::Order(order),
                (None, Some(store), Some(sku), Some(at)) => Question::StoreSku { store, sku, at },
                _ => unreachable!("clap requires --order or --store with --sku and --at"),
            };
            check(&data, question, known_at_seq.map(Seq), json)
        }
        Command::Serve {
            addr,
            max_body_bytes,
            max_batch,
            timeout,
            public_rate,
            public_burst,
            keep_alive,
            drain_timeout,
            trust_forwarded_for,
        } => {
            let config = chl_server::ServeConfig {
                max_body_bytes,
                max_batch,
                request_timeout: seconds("--timeout", timeout)?,
                public_rate_per_second: public_rate,
                public_burst,
                keep_alive: seconds("--keep-alive", keep_alive)?,
                drain_timeout: seconds("--drain-timeout", drain_timeout)?,
                trust_forwarded_for,
                ..chl_server::ServeConfig::default()
            };
            serve(&data, addr, config)
        }
        Command::Token { action } => token(&data, action),
        Command::Replay {
            order,
            store,
            brand,
            party,
            grant,
            agreement,
            sku,
            from,
            to,
            recorded_from,
            recorded_to,
            timeline,
            format,
            json,
            bundle,
            late_after,
            limit,
        } => {
            let filter =
                chl_ledger::TimelineFilter { order, store, brand, party, grant, agreement, sku, from, to };
            let format = if json { crate::args::ReplayFormat::Json } else { format };
            let question = ReplayQuestion {
                filter,
                recorded_from,
                recorded_to,
                timeline,
                format,
                bundle,
                late_after,
                limit,
            };
            replay(&data, question)
        }
        Command::Gen {
            seed,
            brands,
            sales,
            years,
            anomaly_rate,
            tmall_stores,
            taobao_sellers,
            refund_rate,
            dispute_rate,
            end,
            truth,
        } => {
            let config = chl_gen::Config {
                seed,
                brands,
                sales,
                years,
                anomaly_rate,
                tmall_stores,
                taobao_sellers,
                refund_rate,
                dispute_rate,
                end: end.map_or(chl_gen::DEFAULT_END, |t| t.unix_micros().div_euclid(1_000_000)),
                ..chl_gen::Config::default()
            };
            generate(config, truth.as_deref())
        }
    }
}

/// `chl gen`: the history to stdout, the truth to its file, a summary to stderr.
fn generate(config: chl_gen::Config, truth: Option<&Path>) -> Result<()> {
    let started = std::time::Instant::now();
    let generator = chl_gen::Generator::new(config).map_err(|e| anyhow::anyhow!(e))?;
    let mut truth_out = match truth {
        Some(path) => Some(BufWriter::with_capacity(
            1 << 20,
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => None,
    };
    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    let bar = progress::bar(Some(generator.config().sales), "sales");
    let summary =
        generator.write(&mut out, truth_out.as_mut().map(|w| w as &mut dyn Write), &mut |done| {
            bar.set_position(done)
        })?;
    out.flush()?;
    if let Some(w) = truth_out.as_mut() {
        w.flush().with_context(|| format!("cannot write {}", truth.expect("truth file").display()))?;
    }
    bar.finish_and_clear();
    let shape = generator.shape();
    let [authentic, unverified, unauthorized] = summary.verdicts;
    eprintln!(
        "chl gen: {} lines, {} sales in {} stores of {} brands ({} hunted, {:.1} %): {authentic} authentic, {unverified} unverified_source, {unauthorized} unauthorized; {:.1} s",
        summary.lines,
        summary.sales,
        shape.stores,
        shape.brands,
        summary.hunted,
        100.0 * summary.hunted as f64 / summary.sales.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn seconds(flag: &str, value: f64) -> Result<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow::anyhow!("{flag} {value}: expected a positive number of seconds"))
}

fn serve(data: &Path, addr: std::net::SocketAddr, config: chl_server::ServeConfig) -> Result<()> {
    let ledger = open(data)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let server = chl_server::Server::start(ledger, addr, config)
            .await
            .with_context(|| format!("serve on {addr}"))?;
        eprintln!(
            "chl: serving the ledger in {} on http://{} (API reference: http://{}/docs); stop with Ctrl-C or SIGTERM",
            data.display(),
            server.addr,
            server.addr
        );
        wait_for_stop_signal().await?;
        eprintln!("chl: stopping: draining in-flight requests");
        let ledger = server.finish().await?;
        match ledger {
            Some(ledger) => {
                let head = ledger.head().map_or(0, |h| h.seq.0);
                drop(ledger);
                eprintln!("chl: stopped cleanly; every acknowledged record is durable (head seq {head})");
            }
            None => eprintln!("chl: stopped; every acknowledged record is durable"),
        }
        Ok(())
    })
}

async fn wait_for_stop_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

fn token(data: &Path, action: TokenAction) -> Result<()> {
    if !data.join("log").is_dir() {
        anyhow::bail!("{} holds no ledger (create one with chl init)", data.display());
    }
    let file = chl_server::tokens::TokenFile::new(data);
    let now = chl_model::Timestamp::now().to_string();
    match action {
        TokenAction::Issue { principal, role } => {
            let role = chl_server::tokens::Role::parse(&role)?;
            let issued = file.issue(&principal, role, &now)?;
            eprintln!(
                "chl: issued {} for {} (role {}); the token is shown only now:",
                issued.entry.id, issued.entry.principal, issued.entry.role
            );
            println!("{}", issued.token);
        }
        TokenAction::Revoke { id, token, principal } => {
            use chl_server::tokens::Revoke;
            let which = match (id, token, principal) {
                (Some(id), ..) => Revoke::Id(id),
                (None, Some(token), _) => Revoke::Token(token),
                (None, None, Some(principal)) => Revoke::Principal(principal),
                _ => unreachable!("clap requires one of --id, --token, --principal"),
            };
            for entry in file.revoke(&which, &now)? {
                println!("revoked {} ({} as {})", entry.id, entry.principal, entry.role);
            }
        }
        TokenAction::List => {
            for entry in file.load()? {
                println!(
                    "{}  {}  {}  issued {}{}",
                    entry.id,
                    entry.principal,
                    entry.role,
                    entry.issued_at,
                    entry.revoked_at.map_or(String::new(), |at| format!("  revoked {at}"))
                );
            }
        }
    }
    Ok(())
}

fn open(data: &Path) -> Result<Ledger> {
    let ledger = Ledger::open(data, LedgerConfig::default())?;
    report_recovery(ledger.open_report());
    Ok(ledger)
}

/// Says on stderr what recovery did, so an operator is never surprised by a shorter log.
fn report_recovery(report: &OpenReport) {
    if let Some(torn) = &report.torn_tail {
        eprintln!(
            "chl: recovered: cut a torn tail of {} bytes where seq {} would have been ({})",
            torn.bytes_cut, torn.seq, torn.why
        );
    }
    if let Some(batch) = &report.unfinished_batch {
        eprintln!(
            "chl: recovered: dropped {} records from seq {} on: their batch was never acknowledged",
            batch.records_dropped, batch.first_seq
        );
    }
    if let Some(damage) = &report.damage {
        eprintln!(
            "chl: warning: {damage}; the ledger refuses writes until this is resolved (run chl verify)"
        );
    }
}

fn init(data: &Path, origin: Option<String>) -> Result<()> {
    let origin = match origin {
        Some(name) => OriginName::parse(&name)?,
        None => chl_ledger::keys::random_origin()?,
    };
    let ledger = Ledger::init(data, origin, LedgerConfig::default())?;
    let head = ledger.head().expect("record 0");
    println!("created ledger {} in {}", ledger.origin(), data.display());
    println!("  record 0: ledger_created, hash {}", head.hash);
    println!("  verifier key: {}", ledger.verifier_key());
    println!("  signer key: {} (readable by its owner only)", data.join("keys/checkpoint.key").display());
    Ok(())
}

fn input_reader(file: &Path) -> Result<(Box<dyn BufRead>, Option<u64>)> {
    if file == Path::new("-") {
        return Ok((Box::new(BufReader::with_capacity(1 << 20, io::stdin())), None));
    }
    let handle = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let size = handle.metadata().ok().map(|m| m.len());
    Ok((Box::new(BufReader::with_capacity(1 << 20, handle)), size))
}

fn import(data: &Path, file: &Path) -> Result<()> {
    let (input, size) = input_reader(file)?;
    let bar = progress::bar(size, "bytes");
    let mut on_progress = |bytes: u64| bar.set_position(bytes);
    let outcome = if chl_ledger::dir::LedgerDir::new(data).holds_ledger() {
        let mut ledger = open(data)?;
        ledger.import(input, &mut on_progress)
    } else {
        Ledger::restore(data, input, LedgerConfig::default(), &mut on_progress).map(|(ledger, outcome)| {
            println!(
                "restored ledger {} in {} from an export (no signer key: an export holds none)",
                ledger.origin(),
                data.display()
            );
            outcome
        })
    };
    bar.finish_and_clear();
    let outcome = outcome.map_err(|e| match e {
        chl_ledger::ImportError::Ledger(chl_ledger::LedgerError::NoLedger(_)) => {
            anyhow::anyhow!("{} holds no ledger (create one with chl init)", data.display())
        }
        other => anyhow::anyhow!("{other}; nothing was appended"),
    })?;
    print_import(&outcome);
    Ok(())
}

fn print_import(outcome: &ImportOutcome) {
    let repeats = match outcome.repeats {
        0 => String::new(),
        n => {
            let named: Vec<String> = outcome
                .first_repeats
                .iter()
                .map(|(line, seq)| format!("line {line} repeats seq {seq}"))
                .collect();
            let more = if n > named.len() as u64 { ", ..." } else { "" };
            format!(
                ", {n} exact repeats of recorded submissions accepted without appending ({}{more})",
                named.join(", ")
            )
        }
    };
    match (outcome.range, outcome.head) {
        (Some((first, last)), Some(head)) => println!(
            "appended {} records (seq {first} to {last}){repeats}; head seq {}, hash {}",
            outcome.appended, head.seq, head.hash
        ),
        (_, Some(head)) => println!("appended 0 records{repeats}; head seq {}, hash {}", head.seq, head.hash),
        _ => println!("appended 0 records{repeats}"),
    }
}

fn export(data: &Path, from: Option<u64>, to: Option<u64>) -> Result<()> {
    let ledger = open(data)?;
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 20, stdout);
    ledger.export(Seq(from.unwrap_or(0)), to.map(Seq), &mut out)?;
    Ok(())
}

fn verify(data: &Path) -> Result<()> {
    let bar = progress::bar(Some(Ledger::estimate_records(data)), "records");
    let started = std::time::Instant::now();
    let outcome = Ledger::verify_at(data, &mut |done| bar.set_position(done))?;
    bar.finish_and_clear();
    let verified = outcome.map_err(|e| anyhow::anyhow!("verify failed at seq {}: {}", e.seq, e.what))?;
    let summary = &verified.summary;
    let head = summary.head.expect("a ledger has record 0");
    let checkpoint = match &verified.checkpoint {
        Some(c) => {
            format!("; the Merkle root of its first {} records matches the latest signed checkpoint", c.size)
        }
        None => "; no signed checkpoint to compare (a ledger restored without its key)".to_owned(),
    };
    println!(
        "verified {} records (seq 0 to {}) in {:.2} s: every record decodes, every hash and link holds{checkpoint}; head hash {}",
        summary.records,
        head.0,
        started.elapsed().as_secs_f64(),
        head.1
    );
    // Derived data that does not match the log: the log verified, so this is no failure.
    for damage in &summary.derived {
        eprintln!("chl: warning: {damage}");
    }
    Ok(())
}

fn verify_file(file: &Path) -> Result<()> {
    let (input, _) = input_reader(file)?;
    let bar = progress::bar(None, "records");
    let outcome = chl_log::verify_export(input, &mut |done| bar.set_position(done));
    bar.finish_and_clear();
    let summary = outcome.map_err(|e| anyhow::anyhow!("verify failed at seq {}: {}", e.seq, e.what))?;
    match summary.head {
        Some((seq, hash)) => println!(
            "verified {} records of {} (seq 0 to {seq}): every hash recomputed from the content, every link holds; head hash {hash}",
            summary.records,
            file.display()
        ),
        None => bail!("{} holds no records", file.display()),
    }
    Ok(())
}

fn status(data: &Path, json: bool) -> Result<()> {
    let ledger = open(data)?;
    let head = ledger.head().expect("a ledger has record 0");
    let counts = ledger.counts()?;
    let size = ledger.size_bytes()?;
    if json {
        let doc = serde_json::json!({
            "origin": ledger.origin().as_str(),
            "verifier_key": ledger.verifier_key(),
            "records": head.seq.0 + 1,
            "head": {"seq": head.seq, "hash": head.hash.to_string(), "recorded_at": head.recorded_at.to_string()},
            "by_type": counts,
            "size_bytes": size,
        });
        println!("{doc}");
        return Ok(());
    }
    println!("ledger {} in {}", ledger.origin(), data.display());
    println!(
        "  records: {} (head seq {}, recorded {}, hash {})",
        head.seq.0 + 1,
        head.seq,
        head.recorded_at,
        head.hash
    );
    for (event_type, n) in &counts {
        println!("  {n:>10}  {event_type}");
    }
    println!("  on disk: {size} bytes");
    Ok(())
}

/// The history `chl demo` generates: small enough to build in a second or two, large enough
/// to hold every kind of case the checks look for.
fn demo_config() -> chl_gen::Config {
    chl_gen::Config { seed: 7, brands: 4, sales: 40_000, anomaly_rate: 0.05, ..chl_gen::Config::default() }
}

fn demo(explicit_data: Option<PathBuf>, serve_addr: Option<std::net::SocketAddr>) -> Result<()> {
    let data = match explicit_data {
        Some(dir) => dir,
        None => {
            let dir = std::env::temp_dir().join(format!("chl-demo-{}", std::process::id()));
            println!("working in a scratch directory: {}", dir.display());
            dir
        }
    };
    // The generator is deterministic: the same config gives the same history and truth, so
    // the truth can be made again for a ledger an earlier demo built.
    let config = demo_config();
    let generator = chl_gen::Generator::new(config.clone()).map_err(|e| anyhow::anyhow!(e))?;
    let (mut history, mut truth) = (Vec::new(), Vec::new());
    generator.write(&mut history, Some(&mut truth), &mut |_| {})?;
    if !chl_ledger::dir::LedgerDir::new(&data).holds_ledger() {
        println!(
            "$ chl gen --seed {} --brands {} --sales {} --anomaly-rate {} --truth truth.jsonl > history.jsonl",
            config.seed, config.brands, config.sales, config.anomaly_rate
        );
        println!(
            "  {} submissions: brands, owners admitted with margins, agents, 1 + N + n stores, agreements, {} sales",
            history.iter().filter(|&&b| b == b'\n').count(),
            config.sales
        );
        println!("$ chl init --origin demo.channel-ledger.example");
        init(&data, Some("demo.channel-ledger.example".into()))?;
        println!("$ chl import history.jsonl");
        let mut ledger = open(&data)?;
        let bar = progress::bar(Some(history.len() as u64), "bytes");
        let outcome = ledger
            .import(history.as_slice(), &mut |bytes| bar.set_position(bytes))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        bar.finish_and_clear();
        print_import(&outcome);
    }
    println!("$ chl verify");
    verify(&data)?;
    println!("$ chl status");
    status(&data, false)?;
    let lines: Vec<serde_json::Value> = truth
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(serde_json::from_slice)
        .collect::<Result<_, _>>()?;
    let find = |want: &dyn Fn(&serde_json::Value) -> bool| {
        lines.iter().find(|l| want(l)).and_then(|l| l["order"].as_str()).map(str::to_owned)
    };
    let has =
        |list: &serde_json::Value, name: &str| list.as_array().is_some_and(|a| a.iter().any(|v| v == name));
    let empty = |list: &serde_json::Value| list.as_array().is_some_and(Vec::is_empty);
    let picks = [
        (
            find(&|l| l["verdict"] == "authentic" && empty(&l["warnings"])),
            "an authentic sale: a grant chain from the owner and an agreement sourcing the goods",
        ),
        (
            find(&|l| {
                l["verdict"] == "unauthorized"
                    && has(&l["reasons"], "no_grant")
                    && has(&l["warnings"], "disputed")
            }),
            "counterfeit-looking: a seller nobody authorized, and the buyer disputed it",
        ),
        (
            find(&|l| has(&l["warnings"], "grant_recorded_after_sale") && l["verdict"] != "unauthorized")
                .or_else(|| find(&|l| has(&l["warnings"], "grant_recorded_after_sale"))),
            "a grant recorded after the sale it authorizes: backdated",
        ),
    ];
    for (order, what) in &picks {
        let Some(order) = order else { continue };
        println!("$ chl check --order {order}    # {what}");
        check(&data, Question::Order(chl_model::OrderId::parse(order)?), None, false)?;
    }
    let brand = {
        let mut ledger = open(&data)?;
        ledger.state()?;
        let order = picks[0].0.as_deref().map(chl_model::OrderId::parse).transpose()?;
        match order {
            Some(order) => ledger.order_brand(&order, None)?,
            None => None,
        }
    };
    if let Some(brand) = brand {
        let as_of = chl_model::Timestamp::from_unix_micros((config.end - 30 * 86_400) * 1_000_000)
            .ok_or_else(|| anyhow::anyhow!("the demo's end is out of range"))?;
        println!("$ chl channel --brand {brand} --as-of {as_of}");
        channel(
            &data,
            ChannelQuestion {
                brand,
                as_of: Some(as_of),
                known_at: None,
                since: None,
                sales_from: None,
                sales_until: None,
            },
            false,
        )?;
    }
    if let Some(order) = &picks[2].0 {
        println!("next: CHL_DATA={} chl replay --order {order} --format markdown", data.display());
    }
    io::stdout().flush()?;
    let Some(addr) = serve_addr else { return Ok(()) };
    let file = chl_server::tokens::TokenFile::new(&data);
    let issued = file.issue(
        "demo-auditor",
        chl_server::tokens::Role::Auditor,
        &chl_model::Timestamp::now().to_string(),
    )?;
    println!("$ chl token issue --principal demo-auditor --role auditor");
    println!("{}", issued.token);
    println!("$ chl serve --addr {addr}");
    println!(
        "  try: curl -s -H 'Authorization: Bearer {}' http://{addr}/v1/orders/{}/verdict",
        issued.token,
        picks[0].0.as_deref().unwrap_or("ORDER")
    );
    println!("  the API's reference: http://{addr}/docs; stop with Ctrl-C");
    io::stdout().flush()?;
    serve(&data, addr, chl_server::ServeConfig::default())
}

enum Question {
    Order(chl_model::OrderId),
    StoreSku { store: chl_model::StoreId, sku: chl_model::Sku, at: chl_model::Timestamp },
}

fn check(data: &Path, question: Question, known_at: Option<Seq>, json: bool) -> Result<()> {
    let mut ledger = open(data)?;
    ledger.state()?;
    let (subject, verdict) = match &question {
        Question::Order(order) => {
            (serde_json::json!({"order": order.as_str()}), ledger.check_order(order, known_at)?)
        }
        Question::StoreSku { store, sku, at } => (
            serde_json::json!({"store": store.as_str(), "sku": sku.as_str(), "at": at.to_string()}),
            ledger.check_at(store, sku, *at, known_at)?.map_err(|unknown| anyhow::anyhow!("{unknown}"))?,
        ),
    };
    if json {
        let mut doc = serde_json::to_value(&verdict)?;
        for (key, value) in subject.as_object().expect("an object") {
            doc[key] = value.clone();
        }
        if let Some(k) = known_at {
            doc["known_at_seq"] = serde_json::json!(k.0);
        }
        println!("{doc}");
        return Ok(());
    }
    let name = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
    let list = |items: Vec<String>| if items.is_empty() { "none".to_owned() } else { items.join(", ") };
    let subject = match &question {
        Question::Order(order) => format!("order {order}"),
        Question::StoreSku { store, sku, at } => format!("store {store} selling {sku} at {at}"),
    };
    let horizon = known_at.map_or(String::new(), |k| format!(" (as known at seq {k})"));
    println!("{subject}{horizon}: {}", name(&serde_json::to_value(verdict.verdict)?));
    println!(
        "  reasons:     {}",
        list(verdict.reasons.iter().map(|r| name(&serde_json::to_value(r).unwrap())).collect())
    );
    println!(
        "  warnings:    {}",
        list(verdict.warnings.iter().map(|w| name(&serde_json::to_value(w).unwrap())).collect())
    );
    let chain: Vec<String> =
        verdict.grant_chain.iter().map(|l| format!("{} (seq {})", l.grant, l.seq)).collect();
    println!("  grant chain: {}", if chain.is_empty() { "none".to_owned() } else { chain.join(" -> ") });
    println!(
        "  agreement:   {}",
        verdict.agreement.as_ref().map_or("none".to_owned(), |a| format!("{} (seq {})", a.agreement, a.seq))
    );
    println!("  evidence:    seqs {}", list(verdict.evidence.iter().map(|s| s.to_string()).collect()));
    Ok(())
}

struct ChannelQuestion {
    brand: chl_model::BrandId,
    as_of: Option<chl_model::Timestamp>,
    known_at: Option<Seq>,
    since: Option<chl_model::Timestamp>,
    sales_from: Option<chl_model::Timestamp>,
    sales_until: Option<chl_model::Timestamp>,
}

fn channel(data: &Path, q: ChannelQuestion, json: bool) -> Result<()> {
    let mut ledger = open(data)?;
    ledger.state()?;
    let as_of = q.as_of.unwrap_or_else(chl_model::Timestamp::now);
    let window = chl_state::SalesWindow {
        from: q.sales_from.unwrap_or(chl_model::Timestamp::MIN),
        until: q.sales_until.unwrap_or(as_of),
    };
    let unknown = || {
        anyhow::anyhow!(
            "brand {} is not known{}",
            q.brand,
            q.known_at.map_or(String::new(), |k| format!(" as of seq {k}"))
        )
    };
    let (view, diff) =
        ledger.channel(&q.brand, Some(as_of), q.known_at, Some(window), q.since)?.ok_or_else(unknown)?;
    if json {
        let mut doc = serde_json::to_value(&view)?;
        if let Some(diff) = &diff {
            doc["changes"] = serde_json::to_value(diff)?;
        }
        println!("{doc}");
        return Ok(());
    }
    let name = |value: serde_json::Value| value.as_str().unwrap_or_default().to_owned();
    println!(
        "brand {} ({}) as of {}, as known at seq {}",
        view.brand, view.name, view.as_of, view.known_at_seq
    );
    println!("owner: {} ({})", view.owner.party, view.owner.status);
    println!("hosts:");
    for h in &view.hosts {
        let powers: Vec<String> = h.powers.iter().map(|p| name(serde_json::to_value(p).unwrap())).collect();
        println!(
            "  {}  powers {}  {} to {}  {}  (seq {})",
            h.host,
            powers.join(","),
            h.valid_from,
            h.valid_until,
            name(serde_json::to_value(h.status)?),
            h.seq
        );
    }
    println!("grants:");
    for g in &view.grants {
        let channels: Vec<String> =
            g.channels.iter().map(|c| name(serde_json::to_value(c).unwrap())).collect();
        let regions = g.regions.as_ref().map_or("all regions".to_owned(), |r| {
            r.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(",")
        });
        let under = g.parent.as_ref().map_or(String::new(), |p| format!(" under {p}"));
        let flags = [(g.exclusive, " exclusive"), (g.sublicensable, " sublicensable")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| *f)
            .collect::<String>();
        println!(
            "  {}  {} -> {}{under}  {}  {regions}{flags}  {} to {}  {}  (seq {})",
            g.grant,
            g.grantor,
            g.grantee,
            channels.join(","),
            g.valid_from,
            g.valid_until,
            name(serde_json::to_value(g.status)?),
            g.seq
        );
    }
    println!("stores (sales {} to {}):", view.sales_window.from, view.sales_window.until);
    for (tier, stores) in &view.stores {
        println!("  {}", name(serde_json::to_value(tier)?));
        for s in stores {
            let amount: Vec<String> =
                s.sales.amount.0.iter().map(|(c, v)| format!("{v} {}", String::from_utf8_lossy(c))).collect();
            println!(
                "    {}  {}  {}  {}  {}  sales: {} orders, {} items{}",
                s.store,
                s.operator,
                s.region.as_ref().map_or("-".to_owned(), |r| r.to_string()),
                if s.open { "open" } else { "closed" },
                if s.authorized { "authorized" } else { "NOT authorized" },
                s.sales.orders,
                s.sales.quantity,
                if amount.is_empty() { String::new() } else { format!(", {}", amount.join(" + ")) }
            );
        }
    }
    println!("agreements:");
    for a in &view.agreements {
        println!(
            "  {}  {} -> {}  {}  {}  (seq {})",
            a.agreement,
            a.supplier,
            a.distributor,
            name(serde_json::to_value(a.mode)?),
            name(serde_json::to_value(a.status)?),
            a.seq
        );
    }
    if let Some(diff) = diff {
        let list = |v: &[chl_model::StoreId]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
            }
        };
        println!("changes since {}:", q.since.expect("since"));
        println!("  joined: {}", list(&diff.joined));
        println!("  left: {}", list(&diff.left));
        println!("  lost authorization: {}", list(&diff.lost_authorization));
        println!("  gained authorization: {}", list(&diff.gained_authorization));
    }
    Ok(())
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

struct ReplayQuestion {
    filter: chl_ledger::TimelineFilter,
    recorded_from: Option<chl_model::Timestamp>,
    recorded_to: Option<chl_model::Timestamp>,
    timeline: bool,
    format: crate::args::ReplayFormat,
    bundle: bool,
    late_after: u32,
    limit: usize,
}

/// `chl replay`: with --order alone, the order's story (chl_ledger::story); otherwise the
/// timeline of the records that concern every id given, within the time windows given.
fn replay(data: &Path, q: ReplayQuestion) -> Result<()> {
    use crate::args::ReplayFormat;
    let f = &q.filter;
    let narrowed = f.store.is_some()
        || f.brand.is_some()
        || f.party.is_some()
        || f.grant.is_some()
        || f.agreement.is_some()
        || f.sku.is_some()
        || f.from.is_some()
        || f.to.is_some()
        || q.recorded_from.is_some()
        || q.recorded_to.is_some();
    let story_of = f.order.clone().filter(|_| !q.timeline);
    if story_of.is_some() && narrowed {
        use clap::CommandFactory;
        crate::args::Args::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--order alone tells the order's story; to filter the order's records by other ids or times, add --timeline",
            )
            .exit();
    }
    let mut ledger = open(data)?;
    ledger.state()?;
    if let Some(order) = story_of {
        let options = chl_ledger::story::StoryOptions { late_after_hours: q.late_after };
        let story = ledger
            .order_story(&order, options)?
            .ok_or_else(|| anyhow::anyhow!("order {order} is not known"))?;
        let bundle = if q.bundle { Some(ledger.prove_order(&order)?) } else { None };
        match q.format {
            ReplayFormat::Json => {
                let mut doc = serde_json::to_string(&story)?;
                if let Some(bundle) = &bundle {
                    // Spliced in as written, so each bundled record's export line stays exactly so.
                    doc.pop();
                    doc.push_str(",\"bundle\":");
                    doc.push_str(&serde_json::to_string(bundle)?);
                    doc.push('}');
                }
                println!("{doc}");
            }
            ReplayFormat::Text => print!("{}", story.to_text(bundle.as_ref())),
            ReplayFormat::Markdown => print!("{}", story.to_markdown(bundle.as_ref())),
        }
        return Ok(());
    }
    let timeline = ledger.timeline_recorded(&q.filter, q.recorded_from, q.recorded_to, q.limit)?;
    match q.format {
        ReplayFormat::Json => println!("{}", serde_json::to_string(&timeline)?),
        ReplayFormat::Text => print!("{}", chl_ledger::story::timeline_text(&timeline)),
        ReplayFormat::Markdown => {
            let mut about: Vec<String> = Vec::new();
            let ids: [(&str, Option<String>); 7] = [
                ("order", f.order.as_ref().map(|v| v.to_string())),
                ("store", f.store.as_ref().map(|v| v.to_string())),
                ("brand", f.brand.as_ref().map(|v| v.to_string())),
                ("party", f.party.as_ref().map(|v| v.to_string())),
                ("grant", f.grant.as_ref().map(|v| v.to_string())),
                ("agreement", f.agreement.as_ref().map(|v| v.to_string())),
                ("sku", f.sku.as_ref().map(|v| v.to_string())),
            ];
            about.extend(ids.into_iter().filter_map(|(kind, id)| id.map(|id| format!("{kind} {id}"))));
            let window =
                |what: &str, from: Option<chl_model::Timestamp>, to: Option<chl_model::Timestamp>| {
                    let at = chl_ledger::story::short_time;
                    match (from, to) {
                        (None, None) => None,
                        (Some(a), None) => Some(format!("{what} from {}", at(a))),
                        (None, Some(b)) => Some(format!("{what} until {}", at(b))),
                        (Some(a), Some(b)) => Some(format!("{what} {} to {}", at(a), at(b))),
                    }
                };
            about.extend(window("effective", f.from, f.to));
            about.extend(window("recorded", q.recorded_from, q.recorded_to));
            let title = if about.is_empty() {
                "Timeline of every record".to_owned()
            } else {
                format!("Timeline: {}", about.join("; "))
            };
            print!("{}", chl_ledger::story::timeline_markdown(&timeline, &title));
        }
    }
    Ok(())
}
