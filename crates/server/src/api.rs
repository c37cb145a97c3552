//! The handlers of spec/http.md and the router that serves them.

use crate::endpoints::{Endpoint, Method};
use crate::error::ApiError;
use crate::tokens::{Caller, Role};
use crate::{App, stream};
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chl_ledger::{BatchError, Ledger, LedgerError, SubmissionOutcome};
use chl_model::event::HostPower;
use chl_model::{BrandId, Digest, OrderId, PartyId, Seq, Sku, StoreId, Submission, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

type AppState = State<Arc<App>>;
type ApiResult = Result<Response, ApiError>;

const READERS: &[Role] = &[Role::Auditor, Role::Investigator, Role::Platform];
const WRITERS: &[Role] = &[Role::Platform, Role::Party];
/// Records per page of `GET /v1/records` at most.
const MAX_PAGE: u64 = 1000;
/// Records per replay answer at most.
const MAX_TIMELINE: usize = 10_000;

/// The router: every endpoint of `Endpoint::ALL`, each wrapped to time out and be counted.
pub fn router(app: Arc<App>) -> Router {
    let mut router = Router::new();
    for endpoint in Endpoint::ALL {
        let observed =
            handler(endpoint).layer(middleware::from_fn_with_state((Arc::clone(&app), endpoint), observe));
        router = router.route(endpoint.spec().path, observed);
    }
    router
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(app.config().max_body_bytes))
        .with_state(app)
}

fn handler(endpoint: Endpoint) -> MethodRouter<Arc<App>> {
    let route = match endpoint {
        Endpoint::PostEvents => post(post_events),
        Endpoint::ListRecords => get(list_records),
        Endpoint::GetRecord => get(get_record),
        Endpoint::Checkpoint => get(checkpoint),
        Endpoint::InclusionProof => get(inclusion_proof),
        Endpoint::ConsistencyProof => get(consistency_proof),
        Endpoint::Verdict => get(order_verdict),
        Endpoint::Bundle => get(order_bundle),
        Endpoint::Authorization => get(authorization),
        Endpoint::Channel => get(brand_channel),
        Endpoint::Replay => get(replay),
        Endpoint::Stream => get(live_tail),
        Endpoint::Healthz => get(healthz),
        Endpoint::Metrics => get(metrics),
        Endpoint::OpenApi => get(openapi),
        Endpoint::Docs => get(docs),
    };
    debug_assert_eq!(
        matches!(endpoint.spec().method, Method::Post),
        endpoint == Endpoint::PostEvents,
        "the method in the spec is the one routed"
    );
    route
}

/// Times the request out (the live tail excepted) and counts its response.
async fn observe(
    State((app, endpoint)): State<(Arc<App>, Endpoint)>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let response = if matches!(endpoint, Endpoint::Stream | Endpoint::PostEvents) {
        next.run(request).await
    } else {
        match tokio::time::timeout(app.config().request_timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::timeout(format!(
                "no answer within {} s; this endpoint only reads, so nothing changed: retry",
                app.config().request_timeout.as_secs_f64()
            ))
            .into_response(),
        }
    };
    app.metrics.responded(endpoint, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

async fn unknown_path(State(app): AppState, request: Request) -> ApiError {
    app.metrics.unmatched(StatusCode::NOT_FOUND.as_u16());
    ApiError::not_found(format!("no endpoint at {}; see /openapi.json", request.uri().path()))
}

async fn wrong_method(State(app): AppState, request: Request) -> Response {
    app.metrics.unmatched(StatusCode::METHOD_NOT_ALLOWED.as_u16());
    let mut e =
        ApiError::not_found(format!("{} is not served at {}", request.method(), request.uri().path()));
    e.status = StatusCode::METHOD_NOT_ALLOWED;
    e.body.error = "method_not_allowed";
    e.into_response()
}

// ---- input ------------------------------------------------------------------------------

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|e| ApiError::malformed(format!("query: {}", e.body_text())))
}

fn path_id<T>(
    what: &str,
    path: Result<Path<String>, PathRejection>,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, ApiError> {
    let Path(text) = path.map_err(|e| ApiError::malformed(format!("{what}: {}", e.body_text())))?;
    parse(&text).map_err(|e| ApiError::malformed(format!("{what} {text:?}: {e}")))
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .or_else(|| headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn ledger_error(e: LedgerError) -> ApiError {
    match e {
        LedgerError::StateNotLoaded => ApiError::unavailable("the ledger's state is not loaded"),
        other => ApiError::internal(format!("the ledger could not answer: {other}")),
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> ApiResult {
    let body =
        serde_json::to_vec(value).map_err(|e| ApiError::internal(format!("encode the answer: {e}")))?;
    Ok(json_response(status, body))
}

// ---- writing ----------------------------------------------------------------------------

/// What `POST /v1/events` answers: one entry per submission, in order.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Appended {
    pub records: Vec<AppendedRecord>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct AppendedRecord {
    /// `appended`: recorded now as this seq; `repeat`: identical to the record at this seq,
    /// nothing appended.
    pub status: AppendStatus,
    pub seq: u64,
    /// The BLAKE3 record hash (hex) of an appended record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<Digest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppendStatus {
    Appended,
    Repeat,
}

/// Parses a body of one submission or a JSON array of them; `true` for an array.
fn parse_submissions(text: &str, max_batch: usize) -> Result<(Vec<Submission>, bool), AppendError> {
    if !text.trim_start().starts_with('[') {
        let submission = Submission::parse_json(text).map_err(|r| refused(r, None))?;
        return Ok((vec![submission], false));
    }
    let items: Vec<&serde_json::value::RawValue> = serde_json::from_str(text).map_err(|e| {
        refused(
            chl_model::Refusal {
                rule: chl_model::refusal::Rule::Form,
                field: None,
                message: format!("the body is not a JSON array of submissions: {e}"),
            },
            None,
        )
    })?;
    if items.is_empty() {
        return Err(ApiError::malformed("the batch is empty: send at least one submission").into());
    }
    if items.len() > max_batch {
        return Err(ApiError::too_large(format!(
            "the batch holds {} submissions; at most {max_batch} are accepted at once",
            items.len()
        ))
        .into());
    }
    let submissions = items
        .iter()
        .enumerate()
        .map(|(i, item)| Submission::parse_json(item.get()).map_err(|r| refused(r, Some(i))))
        .collect::<Result<_, _>>()?;
    Ok((submissions, true))
}

/// `POST /v1/events`. It times itself (the router's timeout would not tell a body that never
/// came from a commit not yet answered): reading the body is bounded by the request timeout
/// (408 when it does not arrive), and so is waiting for durability (503: the outcome is not
/// known, the submission may be recorded).
async fn post_events(State(app): AppState, request: Request) -> ApiResult {
    let outcome = append(&app, request).await;
    if let Err(e) = &outcome
        && let Some(rule) = e.rule
    {
        app.metrics.refused(rule);
    }
    outcome.map_err(|e| *e.error)
}

/// An API error, with the rule that refused the submission when one did (for metrics).
struct AppendError {
    error: Box<ApiError>,
    rule: Option<chl_model::refusal::Rule>,
}

impl From<ApiError> for AppendError {
    fn from(error: ApiError) -> AppendError {
        AppendError { error: Box::new(error), rule: None }
    }
}

fn refused(refusal: chl_model::Refusal, index: Option<usize>) -> AppendError {
    let rule = Some(refusal.rule);
    AppendError { error: Box::new(ApiError::refused(refusal, index)), rule }
}

async fn append(app: &Arc<App>, request: Request) -> Result<Response, AppendError> {
    let started = Instant::now();
    let limit = app.config().request_timeout;
    let (parts, body) = request.into_parts();
    let caller = app.require(&parts.headers, Endpoint::PostEvents, WRITERS)?;
    let max = app.config().max_body_bytes;
    let too_large = || ApiError::too_large(format!("the body is larger than {max} bytes"));
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large().into());
    }
    let raw = match tokio::time::timeout(limit, axum::body::to_bytes(body, max)).await {
        Err(_) => {
            let mut e = ApiError::malformed(format!(
                "the body did not arrive within {} s; nothing was read or recorded",
                limit.as_secs_f64()
            ));
            e.status = StatusCode::REQUEST_TIMEOUT;
            e.body.error = "timeout";
            return Err(e.into());
        }
        Ok(Err(e))
            if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) =>
        {
            return Err(too_large().into());
        }
        Ok(Err(e)) => return Err(ApiError::malformed(format!("the body could not be read: {e}")).into()),
        Ok(Ok(raw)) => raw,
    };
    let text = std::str::from_utf8(&raw).map_err(|e| {
        ApiError::malformed(format!("the body is not UTF-8 (invalid byte at offset {})", e.valid_up_to()))
    })?;
    let (submissions, batch) = parse_submissions(text, app.config().max_batch)?;
    if let Some((i, s)) = submissions.iter().enumerate().find(|(_, s)| s.actor != caller.principal) {
        let which = if batch { format!("submission {i}: ") } else { String::new() };
        let mut e = ApiError::forbidden(format!(
            "{which}actor {} is not the caller's principal {}; a token acts only as its own principal",
            s.actor, caller.principal
        ));
        e.body.index = batch.then_some(i);
        return Err(e.into());
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let queued = app.committer().try_submit(submissions, move |outcome| {
        let _ = tx.send(outcome);
    });
    if queued.is_err() {
        return Err(ApiError::unavailable(
            "the ledger's write queue is full; nothing was recorded: retry shortly",
        )
        .into());
    }
    let waited = tokio::time::timeout(limit.saturating_sub(started.elapsed()), rx).await;
    let Ok(outcome) = waited else {
        return Err(ApiError::timeout(format!(
            "not durable within {} s; the submission may still be recorded: repeat it with the same effective_at (an exact repeat is answered 200 with its seq; without effective_at a repeat takes the ledger clock and is a different submission)",
            limit.as_secs_f64()
        ))
        .into());
    };
    let outcome = match outcome.unwrap_or(Err(BatchError::Closed)) {
        Ok(outcome) => outcome,
        Err(BatchError::Refused { index, refusal }) => return Err(refused(refusal, batch.then_some(index))),
        Err(BatchError::Failed(why)) => {
            return Err(ApiError::unavailable(format!(
                "the ledger could not write ({why}); nothing of the batch is acknowledged, and writes stop until the ledger is reopened and verified"
            ))
            .into());
        }
        Err(BatchError::Closed) => {
            return Err(ApiError::unavailable("the ledger's writer has stopped").into());
        }
    };
    let records: Vec<AppendedRecord> = outcome
        .submissions
        .iter()
        .map(|s| match *s {
            SubmissionOutcome::Appended { seq, hash } => {
                AppendedRecord { status: AppendStatus::Appended, seq: seq.0, hash: Some(hash) }
            }
            SubmissionOutcome::Repeat { seq } => {
                AppendedRecord { status: AppendStatus::Repeat, seq: seq.0, hash: None }
            }
        })
        .collect();
    let appended = records.iter().filter(|r| r.status == AppendStatus::Appended).count();
    app.metrics.appended_batches.fetch_add(1, Ordering::Relaxed);
    app.metrics.appended_records.fetch_add(appended as u64, Ordering::Relaxed);
    app.metrics.repeats.fetch_add((records.len() - appended) as u64, Ordering::Relaxed);
    let status = if appended > 0 { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json(status, &Appended { records })?)
}

// ---- records and proofs -----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    from: Option<u64>,
    limit: Option<u64>,
}

/// Records `from..from+limit` (within the durable log) as a JSON array of export lines.
fn export_json(ledger: &Ledger, from: u64, limit: u64) -> Result<(Vec<u8>, u64), ApiError> {
    let mut lines = Vec::new();
    let written = ledger
        .export(Seq(from), Some(Seq(from.saturating_add(limit - 1))), &mut lines)
        .map_err(ledger_error)?;
    let mut array = Vec::with_capacity(lines.len() + 2);
    array.push(b'[');
    for (i, line) in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        if i > 0 {
            array.push(b',');
        }
        array.extend_from_slice(line);
    }
    array.push(b']');
    Ok((array, written))
}

async fn list_records(
    State(app): AppState,
    headers: HeaderMap,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult {
    app.require(&headers, Endpoint::ListRecords, READERS)?;
    let q = query(q)?;
    let from = q.from.unwrap_or(0);
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::malformed(format!("limit {limit}: a page holds 1 to {MAX_PAGE} records")));
    }
    app.read(|ledger| {
        let count = ledger.record_count();
        let (records, written) =
            if from < count { export_json(ledger, from, limit)? } else { (b"[]".to_vec(), 0) };
        let next = (from + written < count).then_some(from + written);
        let mut body = Vec::with_capacity(records.len() + 64);
        body.extend_from_slice(b"{\"records\":");
        body.extend_from_slice(&records);
        body.extend_from_slice(
            format!(
                ",\"next\":{},\"records_in_log\":{count}}}",
                next.map_or("null".into(), |n| n.to_string())
            )
            .as_bytes(),
        );
        Ok(json_response(StatusCode::OK, body))
    })
}

async fn get_record(
    State(app): AppState,
    headers: HeaderMap,
    seq: Result<Path<u64>, PathRejection>,
) -> ApiResult {
    app.require(&headers, Endpoint::GetRecord, READERS)?;
    let Path(seq) = seq.map_err(|e| ApiError::malformed(format!("seq: {}", e.body_text())))?;
    app.read(|ledger| {
        let count = ledger.record_count();
        if seq >= count {
            return Err(ApiError::not_found(format!(
                "no record with seq {seq}: the log holds {count} records"
            )));
        }
        let mut line = Vec::new();
        ledger.export(Seq(seq), Some(Seq(seq)), &mut line).map_err(ledger_error)?;
        while line.last() == Some(&b'\n') {
            line.pop();
        }
        Ok(json_response(StatusCode::OK, line))
    })
}

async fn checkpoint(State(app): AppState) -> ApiResult {
    let note = app.read(|ledger| Ok(ledger.latest_checkpoint()))?;
    let note = note.ok_or_else(|| {
        ApiError::not_found("the ledger holds no signed checkpoint (it was restored without its key)")
    })?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct InclusionProof {
    pub seq: u64,
    pub tree_size: u64,
    /// Base64 SHA-256(0x00 || the record's canonical bytes).
    pub leaf_hash: String,
    /// Base64 hashes of the audit path, leaf to root (RFC 9162 §2.1.3).
    pub hashes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    /// Base64 hashes of the proof (RFC 9162 §2.1.4).
    pub hashes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    seq: u64,
    size: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    old: u64,
    new: Option<u64>,
}

/// The tree size a proof is asked against: as given, else the latest signed checkpoint's
/// (the size an auditor can check a root for), else every durable record.
fn tree_size(requested: Option<u64>, ledger: &Ledger, name: &str) -> Result<u64, ApiError> {
    let count = ledger.record_count();
    match requested {
        Some(size) if size > count => {
            Err(ApiError::not_found(format!("{name} {size}: the log holds {count} durable records")))
        }
        Some(size) => Ok(size),
        None => Ok(match ledger.checkpointed_size() {
            0 => count,
            signed => signed,
        }),
    }
}

async fn inclusion_proof(
    State(app): AppState,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let proof = app.read(|ledger| {
        let size = tree_size(q.size, ledger, "size")?;
        let count = ledger.record_count();
        if q.seq >= count {
            return Err(ApiError::not_found(format!(
                "no record with seq {}: the log holds {count} records",
                q.seq
            )));
        }
        if q.seq >= size {
            return Err(ApiError::malformed(format!(
                "seq {}: not in the tree of {size} records{}",
                q.seq,
                if q.size.is_none() {
                    " (the latest signed checkpoint's; pass size to ask of a larger tree)"
                } else {
                    ""
                }
            )));
        }
        let log = ledger.log();
        let leaf = log.leaf_hash(Seq(q.seq)).map_err(|e| ApiError::internal(e.to_string()))?;
        let path = log.inclusion_proof(Seq(q.seq), size).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(InclusionProof {
            seq: q.seq,
            tree_size: size,
            leaf_hash: BASE64.encode(leaf),
            hashes: path.iter().map(|h| BASE64.encode(h)).collect(),
        })
    })?;
    json(StatusCode::OK, &proof)
}

async fn consistency_proof(
    State(app): AppState,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let proof = app.read(|ledger| {
        let new = tree_size(q.new, ledger, "new")?;
        let count = ledger.record_count();
        if q.old > count {
            return Err(ApiError::not_found(format!("old {}: the log holds {count} durable records", q.old)));
        }
        if q.old == 0 || q.old > new {
            return Err(ApiError::malformed(format!("old {}: must be from 1 to new ({new})", q.old)));
        }
        let path =
            ledger.log().consistency_proof(q.old, new).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(ConsistencyProof {
            old_size: q.old,
            new_size: new,
            hashes: path.iter().map(|h| BASE64.encode(h)).collect(),
        })
    })?;
    json(StatusCode::OK, &proof)
}

// ---- verdicts, authorization, channels ----------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KnownAtQuery {
    known_at_seq: Option<u64>,
}

/// Whether `caller` may see answers about `order`: readers always (an unknown order has the
/// verdict `unknown_order`); a party only about orders of brands it owns.
fn may_see_order(
    caller: &Caller,
    ledger: &Ledger,
    order: &OrderId,
    known: Option<Seq>,
) -> Result<(), ApiError> {
    if READERS.contains(&caller.role) {
        return Ok(());
    }
    if caller.role != Role::Party {
        return Err(ApiError::forbidden(format!("role {} may not see verdicts", caller.role)));
    }
    // An order unknown (as of `known`) is refused like another brand's, so that a party
    // cannot learn which orders exist.
    let brand = ledger.order_brand(order, known).map_err(ledger_error)?;
    let state = ledger.loaded_state().map_err(ledger_error)?;
    if brand.and_then(|brand| state.brand(&brand)).is_some_and(|b| b.owner == caller.principal) {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "party {} may see only orders of brands it owns, and order {order} is not one it can see",
        caller.principal
    )))
}

async fn order_verdict(
    State(app): AppState,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<KnownAtQuery>, QueryRejection>,
) -> ApiResult {
    let caller = app.require(
        &headers,
        Endpoint::Verdict,
        &[Role::Auditor, Role::Investigator, Role::Platform, Role::Party],
    )?;
    let order = path_id("order id", id, |t| OrderId::parse(t).map_err(|e| e.to_string()))?;
    let known = query(q)?.known_at_seq.map(Seq);
    let body = app.read(|ledger| {
        may_see_order(&caller, ledger, &order, known)?;
        let verdict = ledger.check_order(&order, known).map_err(ledger_error)?;
        let mut doc = serde_json::to_value(&verdict).map_err(|e| ApiError::internal(e.to_string()))?;
        doc["order"] = serde_json::json!(order.as_str());
        let head = ledger.record_count().saturating_sub(1);
        doc["known_at_seq"] = serde_json::json!(known.map_or(head, |k| k.0.min(head)));
        Ok(doc)
    })?;
    json(StatusCode::OK, &body)
}

async fn order_bundle(
    State(app): AppState,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let caller = app.require(
        &headers,
        Endpoint::Bundle,
        &[Role::Auditor, Role::Investigator, Role::Platform, Role::Party],
    )?;
    let order = path_id("order id", id, |t| OrderId::parse(t).map_err(|e| e.to_string()))?;
    // A bundle is drawn at the latest signed checkpoint; while writes flow that lags the
    // durable head (up to the checkpoint interval), so sign one of the head first: a bundle
    // asked right after a sale must not call the sale unknown.
    if app.read(|ledger| Ok(ledger.checkpoint_behind()))? {
        app.write(|ledger| ledger.upkeep().map_err(ledger_error))?;
    }
    let bundle = app.read(|ledger| {
        may_see_order(&caller, ledger, &order, None)?;
        ledger.prove_order(&order).map_err(|e| match e {
            LedgerError::Proof(why) => ApiError::unavailable(why),
            other => ledger_error(other),
        })
    })?;
    json(StatusCode::OK, &bundle)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizationQuery {
    store: StoreId,
    sku: Sku,
    at: Option<Timestamp>,
}

/// The public answer: whether, the verdict, and the grants that authorize, nothing more.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct AuthorizationAnswer {
    pub authorized: bool,
    /// `authentic`, `unverified_source` or `unauthorized` (spec/events.md).
    pub verdict: String,
    /// The grants of the chain that authorizes the store, root first; empty when none does.
    pub grant_chain: Vec<String>,
}

async fn authorization(
    State(app): AppState,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    q: Result<Query<AuthorizationQuery>, QueryRejection>,
) -> ApiResult {
    if let Err(retry_after) = app.rate.check(app.client_address(client.ip(), &headers)) {
        app.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError::rate_limited(retry_after));
    }
    let q = query(q)?;
    let at = q.at.unwrap_or_else(Timestamp::now);
    let verdict = app.read(|ledger| {
        ledger
            .check_at(&q.store, &q.sku, at, None)
            .map_err(ledger_error)?
            .map_err(|unknown| ApiError::not_found(unknown.to_string()))
    })?;
    let kind = serde_json::to_value(verdict.verdict).map_err(|e| ApiError::internal(e.to_string()))?;
    json(
        StatusCode::OK,
        &AuthorizationAnswer {
            authorized: verdict.verdict == chl_state::VerdictKind::Authentic,
            verdict: kind.as_str().unwrap_or_default().to_owned(),
            // Only a chain that authorizes is disclosed, not the ones that were tried and failed.
            grant_chain: if verdict.verdict == chl_state::VerdictKind::Unauthorized {
                Vec::new()
            } else {
                verdict.grant_chain.iter().map(|l| l.grant.to_string()).collect()
            },
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelQuery {
    as_of: Option<Timestamp>,
    known_at_seq: Option<u64>,
    since: Option<Timestamp>,
    sales_from: Option<Timestamp>,
    sales_until: Option<Timestamp>,
}

/// Whether `caller` may see `brand`'s channel: readers; its owner; a host appointed for it now.
fn may_see_brand(caller: &Caller, ledger: &Ledger, brand: &BrandId) -> Result<(), ApiError> {
    let state = ledger.loaded_state().map_err(ledger_error)?;
    let known = state.brand(brand);
    if READERS.contains(&caller.role) {
        return known.map(drop).ok_or_else(|| ApiError::not_found(format!("brand {brand} is not known")));
    }
    // For a party an unknown brand is refused like another's: no probing for brand ids.
    if caller.role == Role::Party && known.is_some_and(|b| b.owner == caller.principal) {
        return Ok(());
    }
    if caller.role == Role::Party && known.is_some() {
        let now =
            chl_state::View { at: Timestamp::now(), known: Seq(ledger.record_count().saturating_sub(1)) };
        let host = [HostPower::Grants, HostPower::Agreements]
            .into_iter()
            .any(|power| state.host_may(brand, &caller.principal, power, now));
        if host {
            return Ok(());
        }
    }
    Err(ApiError::forbidden(format!(
        "{} {} may see only the channels of brands it owns or hosts, and brand {brand} is not one of them",
        caller.role, caller.principal
    )))
}

async fn brand_channel(
    State(app): AppState,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<ChannelQuery>, QueryRejection>,
) -> ApiResult {
    let caller = app.require(
        &headers,
        Endpoint::Channel,
        &[Role::Auditor, Role::Investigator, Role::Platform, Role::Party],
    )?;
    let brand = path_id("brand id", id, |t| BrandId::parse(t).map_err(|e| e.to_string()))?;
    let q = query(q)?;
    let as_of = q.as_of.unwrap_or_else(Timestamp::now);
    let window = chl_state::SalesWindow {
        from: q.sales_from.unwrap_or(Timestamp::MIN),
        until: q.sales_until.unwrap_or(as_of),
    };
    let known = q.known_at_seq.map(Seq);
    let body = app.read(|ledger| {
        may_see_brand(&caller, ledger, &brand)?;
        let (view, diff) = ledger
            .channel(&brand, Some(as_of), known, Some(window), q.since)
            .map_err(ledger_error)?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "brand {brand} is not known as of seq {}",
                    known.map_or(0, |k| k.0)
                ))
            })?;
        let mut doc = serde_json::to_value(&view).map_err(|e| ApiError::internal(e.to_string()))?;
        if let Some(diff) = &diff {
            doc["changes"] = serde_json::to_value(diff).map_err(|e| ApiError::internal(e.to_string()))?;
        }
        serde_json::to_vec(&doc).map_err(|e| ApiError::internal(e.to_string()))
    })?;
    Ok(json_response(StatusCode::OK, body))
}

// ---- replay and the live tail -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayQuery {
    order: Option<OrderId>,
    store: Option<StoreId>,
    brand: Option<BrandId>,
    party: Option<PartyId>,
    grant: Option<chl_model::GrantId>,
    agreement: Option<chl_model::AgreementId>,
    sku: Option<Sku>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    limit: Option<usize>,
}

async fn replay(
    State(app): AppState,
    headers: HeaderMap,
    q: Result<Query<ReplayQuery>, QueryRejection>,
) -> ApiResult {
    app.require(&headers, Endpoint::Replay, &[Role::Investigator, Role::Auditor, Role::Platform])?;
    let q = query(q)?;
    let limit = q.limit.unwrap_or(1000);
    if limit == 0 || limit > MAX_TIMELINE {
        return Err(ApiError::malformed(format!(
            "limit {limit}: a timeline holds 1 to {MAX_TIMELINE} records"
        )));
    }
    let filter = chl_ledger::timeline::TimelineFilter {
        order: q.order,
        store: q.store,
        brand: q.brand,
        party: q.party,
        grant: q.grant,
        agreement: q.agreement,
        sku: q.sku,
        from: q.from,
        to: q.to,
    };
    let timeline = tokio::task::block_in_place(|| {
        app.read(|ledger| ledger.timeline(&filter, limit).map_err(ledger_error))
    })?;
    json(StatusCode::OK, &timeline)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    from: Option<u64>,
}

async fn live_tail(
    State(app): AppState,
    headers: HeaderMap,
    q: Result<Query<StreamQuery>, QueryRejection>,
) -> ApiResult {
    app.require(&headers, Endpoint::Stream, stream::ROLES)?;
    let q = query(q)?;
    let last_event_id = match headers.get("last-event-id") {
        Some(value) => Some(value.to_str().map_err(|_| ApiError::malformed("Last-Event-ID is not text"))?),
        None => None,
    };
    let start = stream::start_seq(last_event_id, q.from, *app.durable.borrow())?;
    let token = bearer_token(&headers).unwrap_or_default().to_owned();
    Ok(stream::follow(Arc::clone(&app), start, token).into_response())
}

// ---- service ------------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// `ok`, or `read_only` once a failed write or sync stopped writes.
    pub status: String,
    /// The seq of the last durable record.
    pub head_seq: u64,
    /// Why writes stopped, when they did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

async fn healthz(State(app): AppState) -> ApiResult {
    let (head, blocked) =
        app.read(|ledger| Ok((ledger.record_count().saturating_sub(1), ledger.log().write_block())))?;
    let status = if blocked.is_some() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    json(
        status,
        &Health {
            status: if blocked.is_some() { "read_only".into() } else { "ok".into() },
            head_seq: head,
            reason: blocked,
        },
    )
}

async fn metrics(State(app): AppState) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], app.metrics.render())
        .into_response()
}

async fn openapi(State(app): AppState) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], app.openapi.clone()).into_response()
}

async fn docs() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], crate::openapi::docs_page()).into_response()
}
