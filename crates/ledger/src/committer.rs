//! Group commit: many writers, one writer thread, one `fdatasync` per group.
//!
//! Callers enqueue batches; the writer thread takes everything queued (up to a bound) as one
//! group, checks and stages each batch in turn (a refused batch is rolled back alone), makes
//! the group durable with one commit, and only then answers every caller. The queue is
//! bounded, so a flood of writers waits instead of growing memory.
//!
//! The ledger sits behind a `RwLock` so that readers (the HTTP API's verdicts, proofs and
//! records) share it with the writer. The writer holds the write lock for one group, staging
//! and commit together; readers wait at most that long, and never see a record that is not
//! yet durable (they read up to the durable head).

use crate::ledger::{Ledger, StageError, Staged};
use chl_model::{Digest, Refusal, Seq, Submission};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct CommitterConfig {
    /// A group closes once it holds this many records.
    pub max_group_records: usize,
    /// Batches that may wait in the queue.
    pub queue_depth: usize,
}

impl Default for CommitterConfig {
    fn default() -> Self {
        CommitterConfig { max_group_records: 10_000, queue_depth: 4096 }
    }
}

/// What became of each submission of a batch, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    pub submissions: Vec<SubmissionOutcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmissionOutcome {
    /// Appended as this record.
    Appended { seq: Seq, hash: Digest },
    /// Identical to the record at `seq`; nothing appended (rule 8).
    Repeat { seq: Seq },
}

impl BatchOutcome {
    /// The records this batch appended.
    pub fn appended(&self) -> impl Iterator<Item = (Seq, Digest)> + '_ {
        self.submissions.iter().filter_map(|s| match *s {
            SubmissionOutcome::Appended { seq, hash } => Some((seq, hash)),
            SubmissionOutcome::Repeat { .. } => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Submission `index` of the batch broke a rule; nothing of the batch was appended.
    #[error("submission {index}: {refusal}")]
    Refused { index: usize, refusal: Refusal },
    /// The ledger could not write; nothing of the batch is acknowledged.
    #[error("{0}")]
    Failed(String),
    #[error("the ledger's writer has stopped")]
    Closed,
}

type Reply = Box<dyn FnOnce(Result<BatchOutcome, BatchError>) + Send>;

struct Request {
    submissions: Vec<Submission>,
    reply: Reply,
}

pub struct Committer {
    queue: Option<SyncSender<Request>>,
    writer: Option<JoinHandle<()>>,
    ledger: Arc<RwLock<Ledger>>,
    stats: Arc<CommitStats>,
}

/// Told of every group the writer made durable, on the writer thread, with the write lock
/// still held (so keep it short): for live tails and metrics.
pub trait CommitObserver: Send + Sync + 'static {
    /// `ledger` now holds the group durably; `records` were appended by `batches` batches,
    /// and the group took `elapsed` from staging its first batch to the end of its commit.
    fn committed(&self, ledger: &Ledger, records: usize, batches: usize, elapsed: Duration);
}

struct NoObserver;

impl CommitObserver for NoObserver {
    fn committed(&self, _: &Ledger, _: usize, _: usize, _: Duration) {}
}

/// Counters of the writer thread, for metrics and tests.
#[derive(Debug, Default)]
pub struct CommitStats {
    /// Groups made durable (one fdatasync each).
    pub groups: AtomicU64,
    /// Batches acknowledged.
    pub batches: AtomicU64,
    /// Records acknowledged.
    pub records: AtomicU64,
    /// Batches refused by a rule.
    pub refused: AtomicU64,
}

impl Committer {
    /// Moves the ledger onto its writer thread.
    pub fn start(ledger: Ledger, config: CommitterConfig) -> Committer {
        Committer::start_shared(Arc::new(RwLock::new(ledger)), config, Arc::new(NoObserver))
    }

    /// Starts the writer thread on a ledger that readers share; `observer` hears of every
    /// durable group.
    pub fn start_shared(
        ledger: Arc<RwLock<Ledger>>,
        config: CommitterConfig,
        observer: Arc<dyn CommitObserver>,
    ) -> Committer {
        let (queue, requests) = mpsc::sync_channel(config.queue_depth);
        let stats = Arc::new(CommitStats::default());
        let writer_stats = Arc::clone(&stats);
        let writer_ledger = Arc::clone(&ledger);
        let writer = std::thread::Builder::new()
            .name("chl-writer".into())
            .spawn(move || write_loop(&writer_ledger, requests, config, &writer_stats, &*observer))
            .expect("spawn the writer thread");
        Committer { queue: Some(queue), writer: Some(writer), ledger, stats }
    }

    /// The ledger, shared with the writer: take the read lock to answer questions.
    pub fn ledger(&self) -> &Arc<RwLock<Ledger>> {
        &self.ledger
    }

    pub fn stats(&self) -> &CommitStats {
        &self.stats
    }

    /// Enqueues a batch; `reply` is called on the writer thread once it is durable or refused.
    /// Blocks while the queue is full.
    pub fn submit(
        &self,
        submissions: Vec<Submission>,
        reply: impl FnOnce(Result<BatchOutcome, BatchError>) + Send + 'static,
    ) {
        let request = Request { submissions, reply: Box::new(reply) };
        if let Err(mpsc::SendError(request)) = self.queue.as_ref().expect("committer running").send(request) {
            (request.reply)(Err(BatchError::Closed));
        }
    }

    /// Enqueues a batch unless the queue is full; then `Err(reply)` hands the callback back
    /// (callers on an async runtime must not block).
    pub fn try_submit<R>(&self, submissions: Vec<Submission>, reply: R) -> Result<(), R>
    where
        R: FnOnce(Result<BatchOutcome, BatchError>) + Send + 'static,
    {
        // The callback goes in a slot the request shares, so that a refused send can give
        // it back typed rather than boxed.
        let slot = Arc::new(std::sync::Mutex::new(Some(reply)));
        let taken = Arc::clone(&slot);
        let request = Request {
            submissions,
            reply: Box::new(move |outcome| {
                if let Some(reply) = taken.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    reply(outcome);
                }
            }),
        };
        match self.queue.as_ref().expect("committer running").try_send(request) {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Full(_) | mpsc::TrySendError::Disconnected(_)) => {
                Err(slot.lock().unwrap_or_else(|e| e.into_inner()).take().expect("not yet called"))
            }
        }
    }

    /// Appends a batch and waits until it is durable or refused.
    pub fn append(&self, submissions: Vec<Submission>) -> Result<BatchOutcome, BatchError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(submissions, move |result| {
            let _ = tx.send(result);
        });
        rx.recv().unwrap_or(Err(BatchError::Closed))
    }

    /// Lets the queue drain and stops the writer. Returns the ledger if no reader still
    /// shares it.
    pub fn shutdown(mut self) -> Option<Ledger> {
        self.queue.take();
        self.writer.take().expect("writer").join().expect("the writer thread panicked");
        let ledger = Arc::clone(&self.ledger);
        drop(self);
        Arc::try_unwrap(ledger).ok().map(|lock| lock.into_inner().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn write_loop(
    shared: &RwLock<Ledger>,
    requests: Receiver<Request>,
    config: CommitterConfig,
    stats: &CommitStats,
    observer: &dyn CommitObserver,
) {
    // When the checkpoint and index are next due (`Ledger::upkeep_due`): with no group to
    // commit by then, the writer brings them up to date itself, so that a quiet ledger's
    // latest checkpoint covers every durable record.
    let mut upkeep_due = shared.read().ok().and_then(|ledger| ledger.upkeep_due());
    loop {
        let first = match upkeep_due {
            None => match requests.recv() {
                Ok(first) => first,
                Err(_) => break,
            },
            Some(wait) => match requests.recv_timeout(wait.max(Duration::from_millis(1))) {
                Ok(first) => first,
                Err(RecvTimeoutError::Timeout) => {
                    let Ok(mut ledger) = shared.write() else { return };
                    // A failure here is retried at the next interval; the durable records
                    // are not at stake.
                    let _ = ledger.upkeep();
                    upkeep_due = ledger.upkeep_due();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            },
        };
        let mut records = first.submissions.len();
        let mut group = vec![first];
        while records < config.max_group_records
            && let Ok(next) = requests.try_recv()
        {
            records += next.submissions.len();
            group.push(next);
        }
        let started = Instant::now();
        // A writer that panicked mid-group left the ledger poisoned; stop rather than build
        // on a state nobody can vouch for (the log on disk is recovered on the next open).
        let Ok(mut ledger) = shared.write() else {
            for request in group {
                (request.reply)(Err(BatchError::Closed));
            }
            return;
        };
        let mut answers = Vec::with_capacity(group.len());
        let mut staged_any = false;
        for request in group {
            let result = stage_batch(&mut ledger, request.submissions);
            staged_any |= matches!(&result, Ok(outcome) if outcome.appended().next().is_some());
            answers.push((request.reply, result));
        }
        let committed =
            if staged_any { ledger.commit().map(drop).map_err(|e| e.to_string()) } else { Ok(()) };
        if staged_any && committed.is_ok() {
            stats.groups.fetch_add(1, Ordering::Relaxed);
            let records =
                answers.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|o| o.appended().count()).sum();
            let batches = answers.iter().filter(|(_, r)| r.is_ok()).count();
            observer.committed(&ledger, records, batches, started.elapsed());
        }
        upkeep_due = ledger.upkeep_due();
        drop(ledger);
        for (reply, result) in answers {
            match (&committed, &result) {
                (Ok(()), Ok(outcome)) => {
                    stats.batches.fetch_add(1, Ordering::Relaxed);
                    stats.records.fetch_add(outcome.appended().count() as u64, Ordering::Relaxed);
                }
                (_, Err(BatchError::Refused { .. })) => {
                    stats.refused.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
            reply(match (&committed, result) {
                (Err(why), Ok(_)) => Err(BatchError::Failed(why.clone())),
                (_, result) => result,
            });
        }
    }
}

fn stage_batch(ledger: &mut Ledger, submissions: Vec<Submission>) -> Result<BatchOutcome, BatchError> {
    let mark = ledger.mark();
    let mut staged = Vec::with_capacity(submissions.len());
    let mut failure = None;
    for (index, submission) in submissions.into_iter().enumerate() {
        match ledger.stage(submission) {
            Ok(outcome) => staged.push(outcome),
            Err(StageError::Refused(refusal)) => {
                failure = Some(BatchError::Refused { index, refusal });
                break;
            }
            Err(StageError::Failed(failed)) => {
                failure = Some(BatchError::Failed(failed.to_string()));
                break;
            }
        }
    }
    let appended = match failure {
        None => ledger.end_batch().map_err(|e| BatchError::Failed(e.to_string())),
        Some(e) => Err(e),
    };
    let appended = match appended {
        Ok(appended) => appended,
        Err(e) => {
            return Err(match ledger.rollback_to(mark) {
                Ok(()) => e,
                Err(failed) => BatchError::Failed(failed.to_string()),
            });
        }
    };
    let mut hashes = appended.into_iter();
    let submissions = staged
        .into_iter()
        .map(|outcome| match outcome {
            Staged::New(seq) => {
                let (appended_seq, hash) = hashes.next().expect("one hash per new record");
                assert_eq!(appended_seq, seq, "records appended in the order staged");
                SubmissionOutcome::Appended { seq, hash }
            }
            Staged::Repeat(seq) => SubmissionOutcome::Repeat { seq },
        })
        .collect();
    Ok(BatchOutcome { submissions })
}
