//! Group commit: many writers, one writer thread, one `fdatasync` per group.
//!
//! Callers enqueue batches; the writer thread takes everything queued (up to a bound) as one
//! group, checks and stages each batch in turn (a refused batch is rolled back alone), makes
//! the group durable with one commit, and only then answers every caller. The queue is
//! bounded, so a flood of writers waits instead of growing memory.

use crate::ledger::{Ledger, StageError, Staged};
use chl_model::{Digest, Refusal, Seq, Submission};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

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
    writer: Option<JoinHandle<Ledger>>,
    stats: Arc<CommitStats>,
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
        let (queue, requests) = mpsc::sync_channel(config.queue_depth);
        let stats = Arc::new(CommitStats::default());
        let writer_stats = Arc::clone(&stats);
        let writer = std::thread::Builder::new()
            .name("chl-writer".into())
            .spawn(move || write_loop(ledger, requests, config, &writer_stats))
            .expect("spawn the writer thread");
        Committer { queue: Some(queue), writer: Some(writer), stats }
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

    /// Appends a batch and waits until it is durable or refused.
    pub fn append(&self, submissions: Vec<Submission>) -> Result<BatchOutcome, BatchError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(submissions, move |result| {
            let _ = tx.send(result);
        });
        rx.recv().unwrap_or(Err(BatchError::Closed))
    }

    /// Lets the queue drain, stops the writer and hands the ledger back.
    pub fn shutdown(mut self) -> Ledger {
        self.queue.take();
        self.writer.take().expect("writer").join().expect("the writer thread panicked")
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
    mut ledger: Ledger,
    requests: Receiver<Request>,
    config: CommitterConfig,
    stats: &CommitStats,
) -> Ledger {
    while let Ok(first) = requests.recv() {
        let mut records = first.submissions.len();
        let mut group = vec![first];
        while records < config.max_group_records
            && let Ok(next) = requests.try_recv()
        {
            records += next.submissions.len();
            group.push(next);
        }
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
        }
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
    ledger
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
