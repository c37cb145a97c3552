//! `GET /v1/stream`: the live tail of committed records as server-sent events.
//!
//! Each follower keeps its own cursor and reads the log itself, a page at a time, under the
//! read lock; the writer does nothing per follower but bump the `durable` watch. A follower
//! that reads slowly only falls behind: it never holds up the writer or other followers, and
//! memory per follower is bounded by one page.

use crate::App;
use crate::error::ApiError;
use crate::tokens::Role;
use axum::response::sse::{Event, KeepAlive, Sse};
use chl_model::Seq;
use chl_model::record::ExportedRecord;
use futures_util::Stream;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::watch;

/// Records read from the log per page.
const PAGE: u64 = 256;
/// How often an idle tail checks that its token was not revoked.
const TOKEN_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

struct Follower {
    app: Arc<App>,
    /// The bearer token that opened the tail: checked again before every page and at least
    /// once a second, so that revoking it ends the tail.
    token: String,
    next: u64,
    page: VecDeque<Event>,
    durable: watch::Receiver<u64>,
    stopping: watch::Receiver<bool>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.app.metrics.stream_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where a follower starts: after `Last-Event-ID`, else at `from`, else after the head.
pub fn start_seq(last_event_id: Option<&str>, from: Option<u64>, durable: u64) -> Result<u64, ApiError> {
    if let Some(id) = last_event_id {
        let seq: u64 = id.trim().parse().map_err(|_| {
            ApiError::malformed(format!("Last-Event-ID {id:?} is not a record seq (a non-negative integer)"))
        })?;
        return Ok(seq.saturating_add(1));
    }
    Ok(from.unwrap_or(durable))
}

pub fn follow(app: Arc<App>, next: u64, token: String) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    app.metrics.stream_clients.fetch_add(1, Ordering::Relaxed);
    let keep_alive = app.config().keep_alive;
    let follower = Follower {
        durable: app.durable.clone(),
        stopping: app.stopping.clone(),
        app,
        token,
        next,
        page: VecDeque::new(),
    };
    let events = futures_util::stream::unfold(follower, |mut f| async move {
        loop {
            if let Some(event) = f.page.pop_front() {
                return Some((Ok(event), f));
            }
            if *f.stopping.borrow() || !f.app.still_valid(&f.token) {
                return None;
            }
            let durable = *f.durable.borrow_and_update();
            if f.next < durable {
                match read_page(&f.app, f.next, durable) {
                    Ok(page) => {
                        f.next += page.len() as u64;
                        f.page = page;
                    }
                    // The log could not be read (damage found on read): end the stream; the
                    // client resumes from its last id once the ledger is repaired.
                    Err(_) => return None,
                }
                continue;
            }
            tokio::select! {
                changed = f.durable.changed() => if changed.is_err() { return None },
                _ = f.stopping.wait_for(|s| *s) => return None,
                // Wake to check the token again even when nothing is written.
                _ = tokio::time::sleep(TOKEN_RECHECK) => {}
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(keep_alive).text("keep-alive"))
}

fn read_page(app: &App, from: u64, durable: u64) -> Result<VecDeque<Event>, ApiError> {
    let last = durable.min(from + PAGE) - 1;
    app.read(|ledger| {
        let mut page = VecDeque::new();
        let mut failure = None;
        ledger
            .log()
            .scan(Seq(from), &mut |record, hash| {
                let mut json = Vec::with_capacity(256);
                if let Err(e) = (ExportedRecord { record: &record, hash }).write_json(&mut json) {
                    failure = Some(e.to_string());
                    return ControlFlow::Break(());
                }
                let data = String::from_utf8(json).expect("JSON is UTF-8");
                page.push_back(
                    Event::default()
                        .id(record.seq.0.to_string())
                        .event(record.event.event_type().name())
                        .data(data),
                );
                if record.seq.0 >= last { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            })
            .map_err(|e| ApiError::internal(format!("read the log: {e}")))?;
        match failure {
            Some(e) => Err(ApiError::internal(e)),
            None => Ok(page),
        }
    })
}

pub const ROLES: &[Role] = &[Role::Auditor, Role::Investigator, Role::Platform];
