//! `chl-bench`: every performance figure the issues asked for, measured by one command and
//! printed as one Markdown table against its target (docs/performance.md).
//!
//! `cargo run --release -p chl-bench` runs, in turn:
//! - `append`: `cargo bench -p chl-log --bench append` (durable append in batches and one
//!   record per commit against a bare fdatasync; the Merkle tree's share);
//! - `verify`: `cargo bench -p chl-ledger --bench verify` (verify, import with all rules and
//!   form-only, the disk ratio printed by the bench);
//! - `queries`: `cargo bench -p chl-ledger --bench queries` (1M records: a verdict, a story,
//!   the channel view of 10,000 stores, open from snapshot, full rebuild);
//! - `bundle`: `cargo bench -p chl-ledger --bench bundle` (a bundle of 8 records against one
//!   Ed25519 check);
//! - `proofs`: `cargo bench -p chl-log --bench proofs` (10M leaves);
//! - `http`: `target/release/chl-load --json`, appends and verdict reads from 64 clients;
//! - `gen`: `chl gen --sales 10000000 > file`, `chl init` and `chl import file` timed, then in
//!   this process the ledger opened and `order_story` timed over 100 of its orders, and
//!   `chl replay --order` end to end.
//!
//! Criterion's results are read from `target/criterion/<group>/<bench>/new/estimates.json`
//! (median and median absolute deviation of the time per iteration). Scratch data goes to a
//! directory made under `CHL_BENCH_DIR` (or the current directory) and deleted afterwards.

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::fmt::Write as _;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

#[derive(Parser, Debug)]
#[command(
    about = "Runs every performance measurement of the issues and prints one table against the targets"
)]
struct Args {
    /// A shorter run: criterion's warm-up and measurement shortened, shorter HTTP runs, the
    /// proofs at 10M leaves skipped, and gen/import/replay at 1,000,000 sales (not judged).
    #[arg(long)]
    quick: bool,
    /// Only these steps (append, verify, queries, bundle, proofs, http, gen) or issue groups
    /// (core, rules, questions, log, http, gen); comma-separated or repeated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Also write the machine description, the table and the notes to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where scratch data goes: a directory chl-bench-<pid> is made in it and deleted after.
    /// [default: the current directory]
    #[arg(long, env = "CHL_BENCH_DIR")]
    dir: Option<PathBuf>,
    /// Sales generated for the gen step [default: 10,000,000; 1,000,000 with --quick].
    #[arg(long)]
    gen_sales: Option<u64>,
    /// Timed runs of `chl gen` and of `chl import` [default: 3; 1 with --quick].
    #[arg(long)]
    runs: Option<usize>,
}

/// One measuring step: a bench target, the load client, or gen/import/replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Append,
    Verify,
    Queries,
    Bundle,
    Proofs,
    Http,
    Gen,
}

impl Step {
    /// In the order they run.
    const ALL: [Step; 7] =
        [Step::Append, Step::Verify, Step::Queries, Step::Bundle, Step::Proofs, Step::Http, Step::Gen];

    fn name(self) -> &'static str {
        match self {
            Step::Append => "append",
            Step::Verify => "verify",
            Step::Queries => "queries",
            Step::Bundle => "bundle",
            Step::Proofs => "proofs",
            Step::Http => "http",
            Step::Gen => "gen",
        }
    }

    /// Free disk space the step needs in the scratch directory, in bytes.
    fn disk_needed(self, gen_sales: u64) -> u64 {
        const GB: u64 = 1 << 30;
        match self {
            Step::Append | Step::Bundle | Step::Http => GB / 2,
            Step::Verify | Step::Queries => 2 * GB,
            Step::Proofs => 5 * GB,
            // The file (~290 bytes a sale), the ledger (~250 bytes a record) and its snapshots.
            Step::Gen => gen_sales * 1200 + GB,
        }
    }
}

/// The issue a figure belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    Core,
    Rules,
    Questions,
    Log,
    Http,
    Gen,
}

impl Group {
    fn name(self) -> &'static str {
        match self {
            Group::Core => "core",
            Group::Rules => "rules",
            Group::Questions => "questions",
            Group::Log => "log",
            Group::Http => "http",
            Group::Gen => "gen",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Group::Core => "core",
            Group::Rules => "rules",
            Group::Questions => "questions (1M)",
            Group::Log => "verifiable log",
            Group::Http => "HTTP",
            Group::Gen => "gen / replay",
        }
    }
}

/// Every figure of the table, in its order: which step measures it, and its target.
struct Figure {
    id: &'static str,
    step: Step,
    group: Group,
    what: &'static str,
    target: &'static str,
}

const FIGURES: &[Figure] = &[
    Figure {
        id: "append_batch",
        step: Step::Append,
        group: Group::Core,
        what: "durable append, batches of 1,000 records of ~200 bytes (one fdatasync each)",
        target: ">= 400,000 records/s",
    },
    Figure {
        id: "append_one",
        step: Step::Append,
        group: Group::Core,
        what: "one record per durable commit",
        target: "<= bare fdatasync + 300 us",
    },
    Figure {
        id: "bare_fdatasync",
        step: Step::Append,
        group: Group::Core,
        what: "bare fdatasync of a 240-byte append (same run)",
        target: "(reported)",
    },
    Figure {
        id: "verify",
        step: Step::Verify,
        group: Group::Core,
        what: "`verify` of 1,000,000 records",
        target: ">= 1,000,000 records/s",
    },
    Figure {
        id: "disk",
        step: Step::Verify,
        group: Group::Core,
        what: "log plus indexes on disk, 1,000,000 records",
        target: "<= 1.5 x canonical bytes",
    },
    Figure {
        id: "import_rules",
        step: Step::Verify,
        group: Group::Rules,
        what: "import of 1,000,000 submissions, all rules",
        target: "(reported)",
    },
    Figure {
        id: "import_form",
        step: Step::Verify,
        group: Group::Rules,
        what: "the same, form checks only",
        target: "(reported)",
    },
    Figure {
        id: "import_ratio",
        step: Step::Verify,
        group: Group::Rules,
        what: "import speed, all rules against form only",
        target: ">= 0.5 x",
    },
    Figure {
        id: "check_order",
        step: Step::Queries,
        group: Group::Questions,
        what: "one order's verdict, in-process",
        target: "<= 20 us",
    },
    Figure {
        id: "story_1m",
        step: Step::Queries,
        group: Group::Questions,
        what: "one order's story (`order_story`), in-process",
        target: "(reported)",
    },
    Figure {
        id: "channel",
        step: Step::Queries,
        group: Group::Questions,
        what: "a brand's channel view, 10,000 stores",
        target: "<= 20 ms",
    },
    Figure {
        id: "open_snapshot",
        step: Step::Queries,
        group: Group::Questions,
        what: "open from snapshot (open, load the snapshot, catch up)",
        target: "<= 1 s",
    },
    Figure {
        id: "rebuild",
        step: Step::Queries,
        group: Group::Questions,
        what: "full rebuild (sled index and state from the log, new snapshot)",
        target: "(reported)",
    },
    Figure {
        id: "inclusion",
        step: Step::Proofs,
        group: Group::Log,
        what: "inclusion proof at 10,000,000 leaves",
        target: "<= 20 us",
    },
    Figure {
        id: "consistency",
        step: Step::Proofs,
        group: Group::Log,
        what: "consistency proof at 10,000,000 leaves",
        target: "(reported)",
    },
    Figure {
        id: "ed25519",
        step: Step::Bundle,
        group: Group::Log,
        what: "one Ed25519 signature check",
        target: "(reported)",
    },
    Figure {
        id: "bundle8",
        step: Step::Bundle,
        group: Group::Log,
        what: "verifying a bundle of 8 records",
        target: "<= 1.5 x one Ed25519 check",
    },
    Figure {
        id: "bundle_order",
        step: Step::Bundle,
        group: Group::Log,
        what: "verifying an order's bundle (9 records, signed verdict)",
        target: "(reported)",
    },
    Figure {
        id: "tree",
        step: Step::Append,
        group: Group::Log,
        what: "Merkle tree maintenance, on durable append of 1,000-record batches",
        target: "<= +15 %",
    },
    Figure {
        id: "http_append",
        step: Step::Http,
        group: Group::Http,
        what: "durable single-event appends (`POST /v1/events`), 64 clients",
        target: ">= 40,000/s",
    },
    Figure {
        id: "http_append_p99",
        step: Step::Http,
        group: Group::Http,
        what: "their p99 latency",
        target: "<= 5 ms",
    },
    Figure {
        id: "http_verdict",
        step: Step::Http,
        group: Group::Http,
        what: "verdict reads (`GET /v1/orders/{id}/verdict`), 64 clients",
        target: ">= 40,000/s",
    },
    Figure {
        id: "gen",
        step: Step::Gen,
        group: Group::Gen,
        what: "`chl gen --sales 10000000 > file`",
        target: "< 60 s",
    },
    Figure {
        id: "gen_import",
        step: Step::Gen,
        group: Group::Gen,
        what: "`chl import` of that file into a new ledger, all rules",
        target: ">= 150,000 records/s",
    },
    Figure {
        id: "gen_story",
        step: Step::Gen,
        group: Group::Gen,
        what: "one order's story on that ledger, in-process (`order_story` and its text)",
        target: "< 50 ms",
    },
    Figure {
        id: "gen_open",
        step: Step::Gen,
        group: Group::Gen,
        what: "opening that ledger in-process (open, snapshot, catch up)",
        target: "(reported)",
    },
    Figure {
        id: "gen_replay_cli",
        step: Step::Gen,
        group: Group::Gen,
        what: "`chl replay --order X` end to end (the open above included)",
        target: "(reported)",
    },
];

#[derive(Clone, Debug, PartialEq)]
enum Verdict {
    Met,
    NotMet,
    Reported,
    NotJudged(String),
}

/// What a step measured for one figure.
struct Measured {
    id: &'static str,
    /// Replaces the figure's description when the step ran at another scale.
    what: Option<String>,
    measured: String,
    spread: String,
    /// Measured against target, in the target's own terms (above 1 is better for a floor,
    /// below 1 for a ceiling).
    ratio: Option<f64>,
    verdict: Verdict,
}

impl Measured {
    fn new(id: &'static str, measured: String, spread: String) -> Measured {
        Measured { id, what: None, measured, spread, ratio: None, verdict: Verdict::Reported }
    }

    /// A floor: met when `value >= target`.
    fn at_least(mut self, value: f64, target: f64) -> Measured {
        self.ratio = Some(value / target);
        self.verdict = if value >= target { Verdict::Met } else { Verdict::NotMet };
        self
    }

    /// A ceiling: met when `value <= target`.
    fn at_most(mut self, value: f64, target: f64) -> Measured {
        self.ratio = Some(value / target);
        self.verdict = if value <= target { Verdict::Met } else { Verdict::NotMet };
        self
    }
}

/// How a step ended.
enum Outcome {
    Ran(Vec<Measured>),
    Skipped(String),
    Failed(String),
}

/// A median and criterion's median absolute deviation (scaled by 1.4826), in seconds.
#[derive(Clone, Copy, Debug)]
struct Est {
    median: f64,
    mad: f64,
}

impl Est {
    fn pct(self) -> f64 {
        100.0 * self.mad / self.median
    }

    /// "MAD 0.068 ms (4.0 %)"
    fn spread(self) -> String {
        format!("MAD {} ({:.1} %)", time(self.mad), self.pct())
    }

    /// `self / other` with the range the MADs allow.
    fn ratio(self, other: Est) -> (f64, f64, f64) {
        let mid = self.median / other.median;
        let low = (self.median - self.mad) / (other.median + other.mad);
        let high = (self.median + self.mad) / (other.median - other.mad).max(f64::MIN_POSITIVE);
        (mid, low, high)
    }
}

struct Bench {
    args: Args,
    root: PathBuf,
    target_dir: PathBuf,
    scratch: PathBuf,
    cargo: String,
    gen_sales: u64,
    runs: usize,
    notes: Vec<String>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let steps = selected_steps(&args.only)?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let metadata = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(&root)
        .stderr(Stdio::inherit())
        .output()
        .context("run cargo metadata")?;
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout).context("cargo metadata")?;
    let target_dir = PathBuf::from(metadata["target_directory"].as_str().context("target_directory")?);
    let base = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()?,
    };
    let scratch = base.join(format!("chl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("create {}", scratch.display()))?;
    let scratch = scratch.canonicalize()?;
    let _cleanup = RemoveOnDrop(scratch.clone());
    let quick = args.quick;
    let mut bench = Bench {
        gen_sales: args.gen_sales.unwrap_or(if quick { 1_000_000 } else { 10_000_000 }),
        runs: args.runs.unwrap_or(if quick { 1 } else { 3 }).max(1),
        args,
        root,
        target_dir,
        scratch,
        cargo,
        notes: Vec::new(),
    };
    let started = Instant::now();
    let machine = machine(&bench.scratch);
    eprintln!("chl-bench: scratch data in {}", bench.scratch.display());
    let mut outcomes: Vec<(Step, Outcome)> = Vec::new();
    let mut loads = Vec::new();
    if steps.iter().any(|s| matches!(s, Step::Http | Step::Gen)) {
        let status = Command::new(&bench.cargo)
            .args(["build", "--release", "-p", "chl", "-p", "chl-load"])
            .current_dir(&bench.root)
            .status()?;
        if !status.success() {
            bail!("cargo build --release -p chl -p chl-load failed");
        }
    }
    for step in Step::ALL {
        if !steps.contains(&step) {
            outcomes.push((step, Outcome::Skipped("not selected (--only)".into())));
            continue;
        }
        let load_before = loadavg();
        let cpu_before = CpuSample::now();
        let step_started = Instant::now();
        eprintln!("\nchl-bench: step {} (load average {load_before:.2})", step.name());
        let outcome = match bench.step_allowed(step) {
            Err(why) => Outcome::Skipped(why),
            Ok(()) => match bench.run(step) {
                Ok(measured) => Outcome::Ran(measured),
                Err(e) => Outcome::Failed(format!("{e:#}")),
            },
        };
        if let Outcome::Failed(why) = &outcome {
            eprintln!("chl-bench: step {} failed: {why}", step.name());
        }
        if matches!(outcome, Outcome::Ran(_)) {
            let others = match (cpu_before, CpuSample::now()) {
                (Some(a), Some(b)) => format!("{:.0} %", a.others_share(&b) * 100.0),
                _ => "?".into(),
            };
            loads.push(format!(
                "{} ({:.0} s): {others}, load {load_before:.1} -> {:.1}",
                step.name(),
                step_started.elapsed().as_secs_f64(),
                loadavg()
            ));
        }
        outcomes.push((step, outcome));
    }
    let report = bench.report(&machine, &outcomes, &loads, started.elapsed());
    print!("{report}");
    if let Some(out) = &bench.args.out {
        std::fs::write(out, &report).with_context(|| format!("write {}", out.display()))?;
        eprintln!("chl-bench: written to {}", out.display());
    }
    if outcomes.iter().any(|(_, o)| matches!(o, Outcome::Failed(_))) {
        bail!("some steps failed (see the table)");
    }
    Ok(())
}

fn selected_steps(only: &[String]) -> Result<Vec<Step>> {
    if only.is_empty() {
        return Ok(Step::ALL.to_vec());
    }
    let mut steps = Vec::new();
    for name in only {
        let name = name.trim();
        let found: Vec<Step> = match Step::ALL.iter().find(|s| s.name() == name) {
            Some(&step) => vec![step],
            None => {
                let group =
                    [Group::Core, Group::Rules, Group::Questions, Group::Log, Group::Http, Group::Gen]
                        .into_iter()
                        .find(|g| g.name() == name);
                match group {
                    Some(group) => FIGURES.iter().filter(|f| f.group == group).map(|f| f.step).collect(),
                    None => bail!(
                        "--only {name}: expected a step (append, verify, queries, bundle, proofs, http, gen) or a group (core, rules, questions, log, http, gen)"
                    ),
                }
            }
        };
        steps.extend(found);
    }
    Ok(Step::ALL.into_iter().filter(|s| steps.contains(s)).collect())
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("chl-bench: could not delete {}: {e}", self.0.display());
        }
    }
}

impl Bench {
    fn step_allowed(&self, step: Step) -> Result<(), String> {
        if self.args.quick && step == Step::Proofs {
            return Err("--quick (builds a log of 10M records, 2.7 GB)".into());
        }
        let needed = step.disk_needed(self.gen_sales);
        match free_bytes(&self.scratch) {
            Some(free) if free < needed => Err(format!(
                "{:.1} GB free in {}, {:.1} GB needed",
                free as f64 / 1e9,
                self.scratch.display(),
                needed as f64 / 1e9
            )),
            _ => Ok(()),
        }
    }

    fn run(&mut self, step: Step) -> Result<Vec<Measured>> {
        match step {
            Step::Append => self.append(),
            Step::Verify => self.verify(),
            Step::Queries => self.queries(),
            Step::Bundle => self.bundle(),
            Step::Proofs => self.proofs(),
            Step::Http => self.http(),
            Step::Gen => self.gen_import_replay(),
        }
    }

    /// `cargo bench -p <package> --bench <name>`; returns what it wrote to stderr, and when
    /// it started (criterion's files must be newer).
    fn cargo_bench(&self, package: &str, name: &str) -> Result<(String, SystemTime)> {
        let since = SystemTime::now();
        let mut command = Command::new(&self.cargo);
        command
            .args(["bench", "-p", package, "--bench", name, "--"])
            .current_dir(&self.root)
            .env("CHL_BENCH_DIR", &self.scratch);
        if self.args.quick {
            command.args(["--warm-up-time", "1", "--measurement-time", "2"]);
        }
        let (ok, _, stderr) = tee(&mut command, None)?;
        if !ok {
            bail!("cargo bench -p {package} --bench {name} failed");
        }
        Ok((stderr, since))
    }

    /// Criterion's median and MAD of one benchmark, written after `since`.
    fn estimate(&self, group: &str, bench: &str, since: SystemTime) -> Result<Est> {
        let path = self.target_dir.join("criterion").join(group).join(bench).join("new/estimates.json");
        let modified = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .with_context(|| path.display().to_string())?;
        if modified < since {
            bail!("{} was not written by this run", path.display());
        }
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        let ns = |key: &str| {
            doc[key]["point_estimate"].as_f64().with_context(|| format!("{key} in {}", path.display()))
        };
        Ok(Est { median: ns("median")? * 1e-9, mad: ns("median_abs_dev")? * 1e-9 })
    }

    fn append(&mut self) -> Result<Vec<Measured>> {
        let (_, since) = self.cargo_bench("chl-log", "append")?;
        let group = "durable_append";
        let batch = self.estimate(group, "batch_of_1000_records", since)?;
        let treeless = self.estimate(group, "batch_of_1000_records_without_tree", since)?;
        let one = self.estimate(group, "one_record_per_commit", since)?;
        let bare = self.estimate(group, "bare_fdatasync_of_a_240_byte_append", since)?;
        let rate = 1000.0 / batch.median;
        let over = one.median - bare.median;
        let (tree, tree_low, tree_high) = batch.ratio(treeless);
        let tree_pct = (tree - 1.0) * 100.0;
        Ok(vec![
            Measured::new(
                "append_batch",
                format!("**{} records/s** ({} a batch)", count(rate), time(batch.median)),
                batch.spread(),
            )
            .at_least(rate, 400_000.0),
            Measured::new(
                "append_one",
                format!(
                    "**{}**: bare fdatasync {} {}",
                    time(one.median),
                    if over < 0.0 { "-" } else { "+" },
                    time(over.abs())
                ),
                one.spread(),
            )
            .at_most(over.max(0.0), 300e-6),
            Measured::new("bare_fdatasync", time(bare.median), bare.spread()),
            Measured {
                // The ratio: the tree's share against the +15 % allowed.
                ratio: Some(tree_pct.max(0.0) / 15.0),
                verdict: if tree_pct <= 15.0 { Verdict::Met } else { Verdict::NotMet },
                ..Measured::new(
                    "tree",
                    format!(
                        "**{tree_pct:+.1} %** ({} with the tree, {} without)",
                        time(batch.median),
                        time(treeless.median)
                    ),
                    format!(
                        "{:+.1} .. {:+.1} % from the MADs ({:.1} %, {:.1} %)",
                        (tree_low - 1.0) * 100.0,
                        (tree_high - 1.0) * 100.0,
                        batch.pct(),
                        treeless.pct()
                    ),
                )
            },
        ])
    }

    fn verify(&mut self) -> Result<Vec<Measured>> {
        let (stderr, since) = self.cargo_bench("chl-ledger", "verify")?;
        let group = "ledger_1m";
        let verify = self.estimate(group, "verify", since)?;
        let rules = self.estimate(group, "import_rules_enforced", since)?;
        let form = self.estimate(group, "import_form_only", since)?;
        let mut out = Vec::new();
        let rate = 1e6 / verify.median;
        out.push(
            Measured::new(
                "verify",
                format!("**{} records/s** ({})", count(rate), time(verify.median)),
                verify.spread(),
            )
            .at_least(rate, 1e6),
        );
        // "disk: {on_disk} bytes on disk (...) for {canonical} canonical record bytes: {ratio} x"
        let line = stderr.lines().find(|l| l.starts_with("disk: ")).context("the bench's disk line")?;
        let numbers: Vec<u64> =
            line.split_whitespace().filter_map(|w| w.parse().ok()).filter(|&n: &u64| n > 1000).collect();
        let [on_disk, canonical] = numbers[..] else { bail!("cannot read {line:?}") };
        let ratio = on_disk as f64 / canonical as f64;
        out.push(
            Measured::new(
                "disk",
                format!("**{ratio:.2} x** ({} bytes for {} canonical)", exact(on_disk), exact(canonical)),
                "exact (one ledger)".into(),
            )
            .at_most(ratio, 1.5),
        );
        let records = 999_999.0;
        out.push(Measured::new(
            "import_rules",
            format!("{} records/s ({})", count(records / rules.median), time(rules.median)),
            rules.spread(),
        ));
        out.push(Measured::new(
            "import_form",
            format!("{} records/s ({})", count(records / form.median), time(form.median)),
            form.spread(),
        ));
        let (speed, low, high) = form.ratio(rules);
        out.push(
            Measured::new(
                "import_ratio",
                format!("**{speed:.2} x**"),
                format!("{low:.2} .. {high:.2} from the MADs"),
            )
            .at_least(speed, 0.5),
        );
        Ok(out)
    }

    fn queries(&mut self) -> Result<Vec<Measured>> {
        let (_, since) = self.cargo_bench("chl-ledger", "queries")?;
        let group = "queries_1m";
        let check = self.estimate(group, "check_one_order", since)?;
        let story = self.estimate(group, "order_story", since)?;
        let channel = self.estimate(group, "channel_view_10000_stores", since)?;
        let open = self.estimate(group, "open_from_snapshot", since)?;
        let rebuild = self.estimate(group, "full_rebuild", since)?;
        let simple = |id, e: Est| Measured::new(id, format!("**{}**", time(e.median)), e.spread());
        Ok(vec![
            simple("check_order", check).at_most(check.median, 20e-6),
            Measured::new("story_1m", time(story.median), story.spread()),
            simple("channel", channel).at_most(channel.median, 20e-3),
            simple("open_snapshot", open).at_most(open.median, 1.0),
            Measured::new(
                "rebuild",
                format!("{} ({:.1} x the snapshot open)", time(rebuild.median), rebuild.median / open.median),
                rebuild.spread(),
            ),
        ])
    }

    fn bundle(&mut self) -> Result<Vec<Measured>> {
        let (_, since) = self.cargo_bench("chl-ledger", "bundle")?;
        let group = "bundle";
        let ed = self.estimate(group, "one_ed25519_signature_check", since)?;
        let eight = self.estimate(group, "verify_bundle_of_8_records", since)?;
        let order = self.estimate(group, "verify_bundle_of_an_order_verdict", since)?;
        let (times, low, high) = eight.ratio(ed);
        Ok(vec![
            Measured::new("ed25519", time(ed.median), ed.spread()),
            Measured::new(
                "bundle8",
                format!("**{times:.2} x** ({} against {})", time(eight.median), time(ed.median)),
                format!("{low:.2} .. {high:.2} x from the MADs ({:.1} %, {:.1} %)", eight.pct(), ed.pct()),
            )
            .at_most(times, 1.5),
            Measured::new("bundle_order", time(order.median), order.spread()),
        ])
    }

    fn proofs(&mut self) -> Result<Vec<Measured>> {
        let (_, since) = self.cargo_bench("chl-log", "proofs")?;
        let inclusion = self.estimate("proofs_10m", "inclusion_proof", since)?;
        let consistency = self.estimate("proofs_10m", "consistency_proof", since)?;
        Ok(vec![
            Measured::new("inclusion", format!("**{}**", time(inclusion.median)), inclusion.spread())
                .at_most(inclusion.median, 20e-6),
            Measured::new("consistency", time(consistency.median), consistency.spread()),
        ])
    }

    fn load(&self, workload: &str) -> Result<serde_json::Value> {
        let mut command = Command::new(self.target_dir.join("release/chl-load"));
        command
            .args(["--workload", workload, "--json", "--data"])
            .arg(self.scratch.join(format!("load-{workload}")));
        if self.args.quick {
            command.args(["--seconds", "2"]);
        }
        let (ok, stdout, _) = tee(&mut command, None)?;
        if !ok {
            bail!("chl-load --workload {workload} failed");
        }
        let last = stdout.lines().rev().find(|l| l.starts_with('{')).context("chl-load's JSON summary")?;
        Ok(serde_json::from_str(last)?)
    }

    fn http(&mut self) -> Result<Vec<Measured>> {
        let append = self.load("append")?;
        let verdict = self.load("verdict")?;
        let f = |v: &serde_json::Value, path: &[&str]| -> Result<f64> {
            let mut at = v;
            for key in path {
                at = if let Ok(i) = key.parse::<usize>() { &at[i] } else { &at[*key] };
            }
            at.as_f64().with_context(|| format!("{} in chl-load's summary", path.join(".")))
        };
        let runs = append["runs"].as_array().map_or(0, Vec::len);
        let seconds = f(&append, &["seconds"])?;
        let rate = f(&append, &["median", "rate"])?;
        let p99 = f(&append, &["median", "p99_ms"])?;
        let reads = f(&verdict, &["median", "rate"])?;
        if let Ok(records) = f(&append, &["group_commits", "mean_records"]) {
            self.notes.push(format!(
                "HTTP appends: {records:.1} records per group commit on average, {:.2} ms from staging to durable; latency median {:.2} ms, p99.9 {:.2} ms.",
                f(&append, &["group_commits", "mean_ms"]).unwrap_or(0.0),
                f(&append, &["median", "p50_ms"])?,
                f(&append, &["median", "p999_ms"])?
            ));
        }
        let range = |v: &serde_json::Value, key: &str, unit: &str| -> Result<String> {
            let (low, high) = (f(v, &["range", key, "0"])?, f(v, &["range", key, "1"])?);
            Ok(if unit == "/s" {
                format!("range {} .. {}/s over {runs} runs of {seconds} s", count(low), count(high))
            } else {
                format!("range {low:.2} .. {high:.2} ms over {runs} runs")
            })
        };
        Ok(vec![
            Measured::new("http_append", format!("**{}/s**", count(rate)), range(&append, "rate", "/s")?)
                .at_least(rate, 40_000.0),
            Measured::new("http_append_p99", format!("**{p99:.2} ms**"), range(&append, "p99_ms", "ms")?)
                .at_most(p99, 5.0),
            Measured::new("http_verdict", format!("**{}/s**", count(reads)), range(&verdict, "rate", "/s")?)
                .at_least(reads, 40_000.0),
        ])
    }

    fn chl(&self) -> Command {
        Command::new(self.target_dir.join("release/chl"))
    }

    fn gen_import_replay(&mut self) -> Result<Vec<Measured>> {
        use chl_ledger::{Ledger, LedgerConfig};
        let sales = self.gen_sales;
        let full = sales == 10_000_000;
        let file = self.scratch.join("history.jsonl");
        let ledger_dir = self.scratch.join("gen-ledger");
        let judged = |m: Measured| {
            if full {
                m
            } else {
                Measured {
                    verdict: Verdict::NotJudged(format!("{} sales, not 10M", exact(sales))),
                    ratio: None,
                    ..m
                }
            }
        };

        let mut gen_times = Vec::new();
        let mut summary = String::new();
        for run in 0..self.runs {
            eprintln!("chl-bench: chl gen --sales {sales}, run {}", run + 1);
            let out = std::fs::File::create(&file)?;
            let started = Instant::now();
            let (ok, _, stderr) = tee(self.chl().args(["gen", "--sales", &sales.to_string()]), Some(out))?;
            gen_times.push(started.elapsed().as_secs_f64());
            if !ok {
                bail!("chl gen failed");
            }
            summary = stderr.lines().find(|l| l.starts_with("chl gen:")).unwrap_or_default().to_owned();
        }
        let bytes = std::fs::metadata(&file)?.len();
        self.notes.push(format!(
            "gen: {} bytes written; {}",
            exact(bytes),
            summary.trim_start_matches("chl gen: ")
        ));

        let mut import_rates = Vec::new();
        let mut appended = 0;
        for run in 0..self.runs {
            if ledger_dir.exists() {
                std::fs::remove_dir_all(&ledger_dir)?;
            }
            let (ok, _, _) = tee(
                self.chl().arg("--data").arg(&ledger_dir).args(["init", "--origin", "bench.example"]),
                None,
            )?;
            if !ok {
                bail!("chl init failed");
            }
            eprintln!("chl-bench: chl import, run {}", run + 1);
            let started = Instant::now();
            let (ok, stdout, _) =
                tee(self.chl().arg("--data").arg(&ledger_dir).arg("import").arg(&file), None)?;
            let seconds = started.elapsed().as_secs_f64();
            if !ok {
                bail!("chl import failed");
            }
            // "appended N records (seq a to b); ..."
            appended = stdout
                .lines()
                .find_map(|l| l.strip_prefix("appended ")?.split_whitespace().next()?.parse::<u64>().ok())
                .context("chl import's summary line")?;
            import_rates.push(appended as f64 / seconds);
        }
        let ledger_bytes = dir_size(&ledger_dir);
        self.notes.push(format!(
            "gen import: {} records appended, the ledger {} bytes on disk.",
            exact(appended),
            exact(ledger_bytes)
        ));

        // 100 orders spread over the file.
        let orders = orders_of(&file, sales, 100)?;
        let started = Instant::now();
        let mut ledger = Ledger::open(&ledger_dir, LedgerConfig::default())?;
        ledger.state()?;
        let open = started.elapsed().as_secs_f64();
        let source = ledger.state_source();
        let mut story_times = Vec::new();
        for order in &orders {
            let id = chl_model::OrderId::parse(order).map_err(|e| anyhow::anyhow!("{order}: {e}"))?;
            let started = Instant::now();
            let story = ledger
                .order_story(&id, chl_ledger::story::StoryOptions::default())?
                .with_context(|| format!("order {order} is not in the ledger"))?;
            let text = story.to_text(None);
            story_times.push(started.elapsed().as_secs_f64());
            std::hint::black_box(text);
        }
        drop(ledger);
        let mut cli_times = Vec::new();
        for order in orders.iter().step_by(orders.len().div_ceil(3).max(1)) {
            let started = Instant::now();
            let (ok, _, _) = tee(
                self.chl()
                    .arg("--data")
                    .arg(&ledger_dir)
                    .args(["replay", "--order", order])
                    .stdout(Stdio::null()),
                None,
            )?;
            cli_times.push(started.elapsed().as_secs_f64());
            if !ok {
                bail!("chl replay --order {order} failed");
            }
        }
        std::fs::remove_dir_all(&ledger_dir).ok();
        std::fs::remove_file(&file).ok();

        let scale = exact(sales);
        let (gen_median, gen_low, gen_high) = median_range(&gen_times);
        let (rate, rate_low, rate_high) = median_range(&import_rates);
        let story = median_mad(&story_times);
        let (cli, cli_low, cli_high) = median_range(&cli_times);
        let over = |n: usize, low: String, high: String, what: &str| {
            if n == 1 { format!("one {what}") } else { format!("range {low} .. {high} over {n} {what}s") }
        };
        let runs = |n: usize, low: String, high: String| over(n, low, high, "run");
        let mut generation = Measured::new(
            "gen",
            format!("**{}**", time(gen_median)),
            runs(gen_times.len(), time(gen_low), time(gen_high)),
        )
        .at_most(gen_median, 60.0);
        if !full {
            generation.what = Some(format!("`chl gen --sales {sales} > file`"));
        }
        Ok(vec![
            judged(generation),
            judged(
                Measured::new(
                    "gen_import",
                    format!("**{} records/s**", count(rate)),
                    runs(import_rates.len(), count(rate_low), count(rate_high)),
                )
                .at_least(rate, 150_000.0),
            ),
            judged(
                Measured::new(
                    "gen_story",
                    format!("**{}**", time(story.median)),
                    format!(
                        "{} over {} orders; max {}",
                        story.spread(),
                        story_times.len(),
                        time(max(&story_times))
                    ),
                )
                .at_most(story.median, 50e-3),
            ),
            Measured::new(
                "gen_open",
                time(open),
                format!(
                    "one run; state from {}",
                    match source {
                        Some(chl_ledger::StateSource::Snapshot(seq)) =>
                            format!("the snapshot at seq {}", seq.0),
                        Some(chl_ledger::StateSource::Replay) => "a replay of the whole log".to_owned(),
                        None => "?".to_owned(),
                    }
                ),
            ),
            Measured::new(
                "gen_replay_cli",
                time(cli),
                over(cli_times.len(), time(cli_low), time(cli_high), "order"),
            ),
        ]
        .into_iter()
        .map(|mut m| {
            if !full && m.what.is_none() {
                let figure = FIGURES.iter().find(|f| f.id == m.id).expect("a figure");
                m.what = Some(format!("{} ({scale} sales)", figure.what));
            }
            m
        })
        .collect())
    }

    fn report(
        &self,
        machine: &[(String, String)],
        outcomes: &[(Step, Outcome)],
        loads: &[String],
        elapsed: Duration,
    ) -> String {
        let mut out = String::new();
        let mut flags = Vec::new();
        if self.args.quick {
            flags.push("--quick".to_owned());
        }
        if !self.args.only.is_empty() {
            flags.push(format!("--only {}", self.args.only.join(",")));
        }
        let flags = if flags.is_empty() { String::new() } else { format!(" -- {}", flags.join(" ")) };
        writeln!(
            out,
            "Measured by `cargo run --release -p chl-bench{flags}` in {:.0} min.\n",
            elapsed.as_secs_f64() / 60.0
        )
        .unwrap();
        for (key, value) in machine {
            writeln!(out, "- {key}: {value}").unwrap();
        }
        out.push('\n');
        out.push_str("| issue | figure | target | measured (median) | spread | measured / target | met? |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        let mut failed = Vec::new();
        for figure in FIGURES {
            let outcome = outcomes.iter().find(|(s, _)| *s == figure.step).map(|(_, o)| o);
            let row = |what: &str, measured: &str, spread: &str, ratio: &str, met: &str| {
                format!(
                    "| {} | {what} | {} | {measured} | {spread} | {ratio} | {met} |\n",
                    figure.group.title(),
                    figure.target
                )
            };
            let line = match outcome {
                Some(Outcome::Ran(measured)) => match measured.iter().find(|m| m.id == figure.id) {
                    Some(m) => {
                        let met = match &m.verdict {
                            Verdict::Met => "yes".to_owned(),
                            Verdict::NotMet => {
                                failed.push(figure.what);
                                "**no**".to_owned()
                            }
                            Verdict::Reported => "(reported)".to_owned(),
                            Verdict::NotJudged(why) => format!("not judged ({why})"),
                        };
                        let ratio = m.ratio.map_or(String::new(), |r| {
                            if r != 0.0 && r.abs() < 0.1 { format!("{r:.1e}") } else { format!("{r:.2}") }
                        });
                        row(m.what.as_deref().unwrap_or(figure.what), &m.measured, &m.spread, &ratio, &met)
                    }
                    None => row(figure.what, "", "", "", "not measured"),
                },
                Some(Outcome::Skipped(why)) => row(figure.what, "", "", "", &format!("skipped: {why}")),
                Some(Outcome::Failed(why)) => {
                    let why: String = why.lines().next().unwrap_or_default().chars().take(120).collect();
                    row(figure.what, "", "", "", &format!("**failed**: {}", why.replace('|', "/")))
                }
                None => row(figure.what, "", "", "", "not run"),
            };
            out.push_str(&line);
        }
        out.push_str("\nNotes:\n\n");
        let mut notes = vec![
            "Medians; the spread is criterion's median absolute deviation (scaled by 1.4826, comparable to a standard deviation) for criterion's figures, the range over runs for the HTTP load and the timed commands, and for a ratio of two medians the range their MADs allow. \"measured / target\" is in the target's own terms: above 1 is better for a floor (>=), below 1 for a ceiling (<=); for \"bare fdatasync + 300 us\" it is the excess over the bare fdatasync against 300 us, for \"+15 %\" the tree's share against 15 %.".to_owned(),
            "Sources: `cargo bench -p chl-log --bench append` and `--bench proofs`, `cargo bench -p chl-ledger --bench verify`, `--bench queries` and `--bench bundle` (target/criterion/<group>/<bench>/new/estimates.json; the disk ratio from the verify bench's `disk:` line); `target/release/chl-load --workload append|verdict --json` (64 clients, server on 2 threads and client on 1 in one process); `chl gen`, `chl init` and `chl import` timed as processes (the file in the page cache, as just written), the story timed in-process over 100 orders spread over the file, the first call for each.".to_owned(),
        ];
        if failed.is_empty() {
            notes.push("Every judged figure met its target in this run.".to_owned());
        } else {
            notes.push(format!("Not met in this run: {}.", failed.join("; ")));
        }
        if !loads.is_empty() {
            notes.push(format!(
                "Noise: the machine is shared. Per step, the share of the machine's CPU time that other processes used (all CPU time used during the step, from /proc/stat, less this process's and its children's, from /proc/self/stat), and the 1-minute load average before and after: {}. Contention outside this machine (other guests of a virtual machine's host) does not show here: repeat a run before trusting a change.",
                loads.join("; ")
            ));
        }
        notes.extend(self.notes.iter().cloned());
        for note in notes {
            writeln!(out, "- {note}").unwrap();
        }
        out
    }
}

/// Runs a command, copying its stdout and stderr to this process's stderr as they come, and
/// returns whether it succeeded and what it wrote. With `stdout_to`, its stdout goes there.
fn tee(command: &mut Command, stdout_to: Option<std::fs::File>) -> Result<(bool, String, String)> {
    let program = command.get_program().to_string_lossy().into_owned();
    command.stdin(Stdio::null()).stderr(Stdio::piped());
    let to_file = stdout_to.is_some();
    match stdout_to {
        Some(file) => command.stdout(file),
        None => command.stdout(Stdio::piped()),
    };
    let mut child = command.spawn().with_context(|| format!("start {program}"))?;
    let copy = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buffer = [0u8; 8192];
            while let Ok(n) = from.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                let _ = std::io::stderr().write_all(&buffer[..n]);
                kept.extend_from_slice(&buffer[..n]);
            }
            String::from_utf8_lossy(&kept).into_owned()
        })
    };
    let stdout = if to_file { None } else { child.stdout.take().map(|s| copy(Box::new(s))) };
    let stderr = child.stderr.take().map(|s| copy(Box::new(s)));
    let status = child.wait()?;
    let stdout = stdout.map(|t| t.join().unwrap_or_default()).unwrap_or_default();
    let stderr = stderr.map(|t| t.join().unwrap_or_default()).unwrap_or_default();
    Ok((status.success(), stdout, stderr))
}

/// `count` orders of sales spread evenly over a generated history of `sales` sales.
fn orders_of(file: &Path, sales: u64, count: u64) -> Result<Vec<String>> {
    let step = (sales / count).max(1);
    let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file)?);
    let mut orders = Vec::new();
    let mut seen = 0u64;
    for line in reader.lines() {
        let line = line?;
        if !line.starts_with(r#"{"type":"sale_recorded""#) {
            continue;
        }
        if seen % step == step / 2 {
            let rest = line.split_once(r#""order":""#).context("a sale without an order")?.1;
            orders.push(rest.split('"').next().unwrap_or_default().to_owned());
            if orders.len() as u64 == count {
                break;
            }
        }
        seen += 1;
    }
    if orders.is_empty() {
        bail!("no sales in {}", file.display());
    }
    Ok(orders)
}

fn median_range(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    (sorted[sorted.len() / 2], sorted[0], sorted[sorted.len() - 1])
}

/// Median and MAD scaled as criterion scales it.
fn median_mad(values: &[f64]) -> Est {
    let (median, _, _) = median_range(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    Est { median, mad: median_range(&deviations).0 * 1.4826 }
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

/// Seconds with three significant digits in a fitting unit.
fn time(seconds: f64) -> String {
    let (value, unit) = match seconds.abs() {
        s if s < 999.5e-9 => (seconds * 1e9, "ns"),
        s if s < 999.5e-6 => (seconds * 1e6, "us"),
        s if s < 0.9995 => (seconds * 1e3, "ms"),
        _ => (seconds, "s"),
    };
    format!("{} {unit}", sig3(value))
}

fn sig3(value: f64) -> String {
    let magnitude = if value == 0.0 { 0 } else { value.abs().log10().floor() as i32 };
    let decimals = (2 - magnitude).max(0) as usize;
    format!("{value:.decimals$}")
}

/// A whole number with thousands separators; above 10,000 rounded to three significant digits.
fn count(value: f64) -> String {
    let mut n = value.round() as u64;
    if n >= 10_000 {
        let unit = 10u64.pow(n.ilog10() - 2);
        n = (n + unit / 2) / unit * unit;
    }
    exact(n)
}

/// A whole number with thousands separators.
fn exact(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// CPU time in clock ticks: the machine's busy and total time, and this process's own with its
/// waited-for children (which include the benches run by cargo).
#[derive(Clone, Copy)]
struct CpuSample {
    busy: u64,
    total: u64,
    own: u64,
}

impl CpuSample {
    fn now() -> Option<CpuSample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> =
            stat.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal (guest time is within user)
        let total: u64 = ticks.iter().take(8).sum();
        let idle = ticks.get(3)? + ticks.get(4)?;
        let me = std::fs::read_to_string("/proc/self/stat").ok()?;
        // After the command name: state is field 3; utime, stime, cutime, cstime are 14 to 17.
        let fields: Vec<&str> = me.rsplit_once(')')?.1.split_whitespace().collect();
        let own = fields.get(11..15)?.iter().filter_map(|v| v.parse::<u64>().ok()).sum();
        Some(CpuSample { busy: total - idle, total, own })
    }

    /// The share of all CPU time between `self` and `later` that other processes used.
    fn others_share(&self, later: &CpuSample) -> f64 {
        let total = later.total.saturating_sub(self.total).max(1) as f64;
        let busy = later.busy.saturating_sub(self.busy) as f64;
        let own = later.own.saturating_sub(self.own) as f64;
        ((busy - own) / total).clamp(0.0, 1.0)
    }
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// `df -PTk`: device, filesystem type, available bytes, mount point.
fn df(path: &Path) -> Option<(String, String, u64, String)> {
    let output = Command::new("df").arg("-PTk").arg(path).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let fields: Vec<&str> = text.lines().nth(1)?.split_whitespace().collect();
    let available = fields.get(4)?.parse::<u64>().ok()? * 1024;
    Some((fields[0].to_owned(), fields[1].to_owned(), available, fields.get(6)?.to_string()))
}

fn free_bytes(path: &Path) -> Option<u64> {
    df(path).map(|(_, _, available, _)| available)
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// What the figures were measured on.
fn machine(scratch: &Path) -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_else(|| "unknown".into());
    let logical = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    let usable = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")?.trim().trim_end_matches("kB").trim().parse::<u64>().ok()
            })
        })
        .map_or("unknown".into(), |kb| format!("{:.1} GiB", kb as f64 / (1u64 << 20) as f64));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned();
    let vendor = std::fs::read_to_string("/sys/devices/virtual/dmi/id/sys_vendor").ok();
    let product = std::fs::read_to_string("/sys/devices/virtual/dmi/id/product_name").ok();
    let platform = match (vendor, product) {
        (Some(v), Some(p)) => format!(" ({} {})", v.trim(), p.trim()),
        _ => String::new(),
    };
    let filesystem = df(scratch).map_or("unknown".into(), |(device, kind, available, mount)| {
        format!("{kind} on {device} mounted at {mount}, {:.0} GB free at the start", available as f64 / 1e9)
    });
    let git = command_line("git", &["rev-parse", "--short", "HEAD"]).map_or("unknown".into(), |head| {
        let dirty = command_line("git", &["status", "--porcelain", "--untracked-files=no"])
            .is_some_and(|s| !s.is_empty());
        if dirty { format!("{head} with uncommitted changes") } else { head }
    });
    vec![
        ("CPU".into(), format!("{model}, {logical} logical CPUs ({usable} usable){platform}")),
        ("memory".into(), memory),
        ("kernel".into(), format!("Linux {kernel}")),
        (
            "bench directory".into(),
            format!("{} ({filesystem})", scratch.parent().unwrap_or(scratch).display()),
        ),
        ("rustc".into(), command_line("rustc", &["-V"]).unwrap_or_else(|| "unknown".into())),
        ("date".into(), command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default()),
        ("commit".into(), git),
        ("load average at the start".into(), format!("{:.2}", loadavg())),
    ]
}
