//! The endpoints of spec/http.md, described once. The router (`crate::router`) and the OpenAPI
//! document (`crate::openapi`) are both built by walking `Endpoint::ALL`, and each match on
//! `Endpoint` is exhaustive, so an endpoint cannot be served without being documented, or
//! documented without being served.

use crate::tokens::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    PostEvents,
    ListRecords,
    GetRecord,
    Checkpoint,
    InclusionProof,
    ConsistencyProof,
    Verdict,
    Bundle,
    Authorization,
    Channel,
    Replay,
    Stream,
    Healthz,
    Metrics,
    OpenApi,
    Docs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// Anyone, without a token, within a rate limit per client address.
    RateLimited,
    /// Callers in one of these roles.
    Roles(&'static [Role]),
    /// Callers in one of these roles, or a party with a stake in the brand asked about.
    RolesOrBrand(&'static [Role], &'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Path,
    Query,
    Header,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A record seq or a tree size: a non-negative integer.
    Integer,
    /// An RFC 3339 time.
    Time,
    /// An id of spec/events.md.
    Id,
}

#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub location: In,
    pub required: bool,
    pub kind: Kind,
    pub description: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct Response {
    pub status: u16,
    pub description: &'static str,
    /// The component schema of the body, if JSON.
    pub schema: Option<&'static str>,
    pub content_type: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub method: Method,
    /// In the syntax both axum 0.8 and OpenAPI use: `/v1/records/{seq}`.
    pub path: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub access: Access,
    pub params: &'static [Param],
    /// The component schema of the request body, if any.
    pub request: Option<&'static str>,
    pub responses: &'static [Response],
}

const JSON: &str = "application/json";

const fn ok(status: u16, description: &'static str, schema: &'static str) -> Response {
    Response { status, description, schema: Some(schema), content_type: JSON }
}

const fn error(status: u16, description: &'static str) -> Response {
    Response { status, description, schema: Some("Error"), content_type: JSON }
}

const fn text(status: u16, description: &'static str, content_type: &'static str) -> Response {
    Response { status, description, schema: None, content_type }
}

const fn query(name: &'static str, kind: Kind, description: &'static str) -> Param {
    Param { name, location: In::Query, required: false, kind, description }
}

const fn path(name: &'static str, kind: Kind, description: &'static str) -> Param {
    Param { name, location: In::Path, required: true, kind, description }
}

const READERS: &[Role] = &[Role::Auditor, Role::Investigator, Role::Platform];
const WRITERS: &[Role] = &[Role::Platform, Role::Party];

const E400: Response = error(400, "Malformed: bad JSON, wrong types, unknown fields or parameters.");
const E401: Response = error(401, "No token, or a token that is unknown or revoked.");
const E403: Response = error(403, "The principal may not do this.");
const E404: Response = error(404, "No such id.");
const KNOWN_AT: Param = query(
    "known_at_seq",
    Kind::Integer,
    "Answer as the ledger knew it after this record (default: every durable record).",
);

impl Endpoint {
    pub const ALL: [Endpoint; 16] = [
        Endpoint::PostEvents,
        Endpoint::ListRecords,
        Endpoint::GetRecord,
        Endpoint::Checkpoint,
        Endpoint::InclusionProof,
        Endpoint::ConsistencyProof,
        Endpoint::Verdict,
        Endpoint::Bundle,
        Endpoint::Authorization,
        Endpoint::Channel,
        Endpoint::Replay,
        Endpoint::Stream,
        Endpoint::Healthz,
        Endpoint::Metrics,
        Endpoint::OpenApi,
        Endpoint::Docs,
    ];

    /// The endpoint's name in metrics and as its OpenAPI operationId.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::PostEvents => "post_events",
            Endpoint::ListRecords => "list_records",
            Endpoint::GetRecord => "get_record",
            Endpoint::Checkpoint => "get_checkpoint",
            Endpoint::InclusionProof => "inclusion_proof",
            Endpoint::ConsistencyProof => "consistency_proof",
            Endpoint::Verdict => "order_verdict",
            Endpoint::Bundle => "order_bundle",
            Endpoint::Authorization => "authorization",
            Endpoint::Channel => "brand_channel",
            Endpoint::Replay => "replay",
            Endpoint::Stream => "stream",
            Endpoint::Healthz => "healthz",
            Endpoint::Metrics => "metrics",
            Endpoint::OpenApi => "openapi",
            Endpoint::Docs => "docs",
        }
    }

    pub fn spec(self) -> Spec {
        match self {
            Endpoint::PostEvents => {
                const {
                    Spec {
                        method: Method::Post,
                        path: "/v1/events",
                        summary: "Append one submission, or a JSON array of them all or nothing",
                        description: "Each submission's `actor` must be the caller's principal. The response is sent once the records are durable (fdatasync). An exact repeat of a recorded submission appends nothing and names the existing seq.",
                        access: Access::Roles(WRITERS),
                        params: &[],
                        request: Some("SubmissionOrBatch"),
                        responses: &[
                            ok(201, "Appended: the committed records, in submission order.", "Appended"),
                            ok(200, "Every submission was an exact repeat: nothing appended.", "Appended"),
                            E400,
                            E401,
                            error(
                                403,
                                "A submission's actor is not the caller's principal, or the role may not write.",
                            ),
                            error(
                                408,
                                "The body did not arrive within the request timeout; nothing was read.",
                            ),
                            error(
                                409,
                                "Refused by a rule of spec/events.md; nothing of the batch was appended.",
                            ),
                            error(413, "The body (or its Content-Length) or the batch is over the limit."),
                            error(
                                503,
                                "Not known to be durable within the request timeout (repeat it with the same effective_at), the write queue is full, or the ledger cannot write (a failed sync stops writes until reopened).",
                            ),
                        ],
                    }
                }
            }
            Endpoint::ListRecords => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/v1/records",
                        summary: "Committed records in seq order, paged",
                        description: "Records in the export form of docs/format.md, each with its `hash` and `prev`.",
                        access: Access::Roles(READERS),
                        params: &[
                            query("from", Kind::Integer, "The first seq (default 0)."),
                            query(
                                "limit",
                                Kind::Integer,
                                "How many records at most (default 100, at most 1000).",
                            ),
                        ],
                        request: None,
                        responses: &[ok(200, "A page of records.", "RecordPage"), E400, E401, E403],
                    }
                }
            }
            Endpoint::GetRecord => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/v1/records/{seq}",
                        summary: "One committed record",
                        description: "The record in the export form of docs/format.md.",
                        access: Access::Roles(READERS),
                        params: &[path("seq", Kind::Integer, "The record's seq.")],
                        request: None,
                        responses: &[ok(200, "The record.", "Record"), E400, E401, E403, E404],
                    }
                }
            }
            Endpoint::Checkpoint => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/v1/checkpoint",
                        summary: "The latest signed checkpoint",
                        description: "A C2SP tlog-checkpoint in a signed note (Ed25519), as `chl checkpoint` prints it.",
                        access: Access::Public,
                        params: &[],
                        request: None,
                        responses: &[
                            text(200, "The signed note.", "text/plain; charset=utf-8"),
                            error(404, "The ledger holds no signed checkpoint (restored without its key)."),
                        ],
                    }
                }
            }
            Endpoint::InclusionProof => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/v1/proofs/inclusion",
                        summary: "An inclusion proof of a record (RFC 9162 §2.1.3)",
                        description: "Proves the record with this seq is leaf `seq` of the tree of `size` records.",
                        access: Access::Public,
                        params: &[
                            Param {
                                name: "seq",
                                location: In::Query,
                                required: true,
                                kind: Kind::Integer,
                                description: "The record.",
                            },
                            query(
                                "size",
                                Kind::Integer,
                                "The tree size (default: the latest signed checkpoint's).",
                            ),
                        ],
                        request: None,
                        responses: &[
                            ok(200, "The proof.", "InclusionProof"),
                            E400,
                            error(404, "The record or the tree size is beyond the log."),
                        ],
                    }
                }
            }
            Endpoint::ConsistencyProof => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/v1/proofs/consistency",
                        summary: "A consistency proof between two tree sizes (RFC 9162 §2.1.4)",
                        description: "Proves the tree of `old` records is a prefix of the tree of `new` records.",
                        access: Access::Public,
                        params: &[
                            Param {
                                name: "old",
                                location: In::Query,
                                required: true,
                                kind: Kind::Integer,
                                description: "The older tree size.",
                            },
                            query(
                                "new",
                                Kind::Integer,
                                "The newer tree size (default: the latest signed checkpoint's).",
                            ),
                        ],
                        request: None,
                        responses: &[
                            ok(200, "The proof.", "ConsistencyProof"),
                            E400,
                            error(404, "A tree size is beyond the log."),
                        ],
                    }
                }
            }
            Endpoint::Verdict => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/v1/orders/{id}/verdict",
                        summary: "The authenticity verdict on an order",
                        description: "The verdict of spec/events.md; an order no record knows gives `unknown_order`.",
                        access: Access::RolesOrBrand(
                            READERS,
                            "the owner of the brand of the order's product",
                        ),
                        params: &[path("id", Kind::Id, "The order id."), KNOWN_AT],
                        request: None,
                        responses: &[
                            ok(200, "The verdict.", "Verdict"),
                            E400,
                            E401,
                            error(
                                403,
                                "Not a reader, nor the owner of the order's brand (unknown orders included).",
                            ),
                        ],
                    }
                }
            }
            Endpoint::Bundle => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/v1/orders/{id}/bundle",
                        summary: "The proof bundle of an order's verdict",
                        description: "The bundle of spec/cli.md: the latest checkpoint, every evidence record with its inclusion proof, and the signed verdict. Check it offline with `chl verify-bundle`.",
                        access: Access::RolesOrBrand(
                            READERS,
                            "the owner of the brand of the order's product",
                        ),
                        params: &[path("id", Kind::Id, "The order id.")],
                        request: None,
                        responses: &[ok(200, "The bundle.", "Bundle"), E400, E401, E403],
                    }
                }
            }
            Endpoint::Authorization => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/v1/authorization",
                        summary: "May this store sell this product at that time?",
                        description: "For consumers, without an account. Discloses the answer, the verdict and the grant chain, nothing more.",
                        access: Access::RateLimited,
                        params: &[
                            Param {
                                name: "store",
                                location: In::Query,
                                required: true,
                                kind: Kind::Id,
                                description: "The store id.",
                            },
                            Param {
                                name: "sku",
                                location: In::Query,
                                required: true,
                                kind: Kind::Id,
                                description: "The product's sku.",
                            },
                            query("at", Kind::Time, "When (default: now)."),
                        ],
                        request: None,
                        responses: &[
                            ok(200, "The answer.", "Authorization"),
                            E400,
                            error(404, "No such store or sku."),
                            error(429, "Too many checks from this address; see Retry-After."),
                        ],
                    }
                }
            }
            Endpoint::Channel => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/v1/brands/{id}/channel",
                        summary: "A brand's channel on any date",
                        description: "The channel view of spec/events.md: owner, hosts, grants, agreements, stores and sales.",
                        access: Access::RolesOrBrand(
                            READERS,
                            "the brand owner and the brand's channel hosts",
                        ),
                        params: &[
                            path("id", Kind::Id, "The brand id."),
                            query("as_of", Kind::Time, "The date of the view (default: now)."),
                            KNOWN_AT,
                            query("since", Kind::Time, "Also list what changed from this earlier time."),
                            query(
                                "sales_from",
                                Kind::Time,
                                "Sum sales from this time (default: the beginning).",
                            ),
                            query("sales_until", Kind::Time, "Sum sales until this time (default: as_of)."),
                        ],
                        request: None,
                        responses: &[ok(200, "The channel view.", "ChannelView"), E400, E401, E403, E404],
                    }
                }
            }
            Endpoint::Replay => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/v1/replay",
                        summary: "The timeline of records that concern an order, store, brand, party, grant or agreement",
                        description: "Records in seq order that mention every id given, optionally only those effective between `from` and `to`.",
                        access: Access::Roles(&[Role::Investigator, Role::Auditor, Role::Platform]),
                        params: &[
                            query("order", Kind::Id, "An order id."),
                            query("store", Kind::Id, "A store id."),
                            query("brand", Kind::Id, "A brand id (its products' sales included)."),
                            query("party", Kind::Id, "A party id (as actor or named in the data)."),
                            query("grant", Kind::Id, "A grant id (as grant or parent)."),
                            query("agreement", Kind::Id, "An agreement id."),
                            query("sku", Kind::Id, "A product's sku."),
                            query("from", Kind::Time, "Only records effective at or after this time."),
                            query("to", Kind::Time, "Only records effective at or before this time."),
                            query(
                                "limit",
                                Kind::Integer,
                                "How many records at most (default 1000, at most 10000).",
                            ),
                        ],
                        request: None,
                        responses: &[ok(200, "The timeline.", "Timeline"), E400, E401, E403],
                    }
                }
            }
            Endpoint::Stream => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/v1/stream",
                        summary: "Live tail of committed records (server-sent events)",
                        description: "Each event: `id:` the seq, `event:` the record type, `data:` the record in export form. Resume with `Last-Event-ID` (or `from`); comments keep the connection alive. Without either, the tail starts after the current head.",
                        access: Access::Roles(READERS),
                        params: &[
                            Param {
                                name: "Last-Event-ID",
                                location: In::Header,
                                required: false,
                                kind: Kind::Integer,
                                description: "Resume after this seq.",
                            },
                            query("from", Kind::Integer, "Start at this seq."),
                        ],
                        request: None,
                        responses: &[text(200, "The event stream.", "text/event-stream"), E400, E401, E403],
                    }
                }
            }
            Endpoint::Healthz => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/healthz",
                        summary: "Liveness",
                        description: "Whether the server runs and the ledger accepts writes, with the head seq.",
                        access: Access::Public,
                        params: &[],
                        request: None,
                        responses: &[
                            ok(200, "Serving.", "Health"),
                            ok(503, "Serving reads, but writes stopped (a failed write or sync).", "Health"),
                        ],
                    }
                }
            }
            Endpoint::Metrics => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/metrics",
                        summary: "Metrics in the Prometheus text format",
                        description: "Appends, refusals by rule, group-commit sizes and times, response counts and latencies by endpoint, the head seq.",
                        access: Access::Public,
                        params: &[],
                        request: None,
                        responses: &[text(200, "The metrics.", "text/plain; version=0.0.4")],
                    }
                }
            }
            Endpoint::OpenApi => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/openapi.json",
                        summary: "This document",
                        description: "The OpenAPI 3.1 document of every endpoint.",
                        access: Access::Public,
                        params: &[],
                        request: None,
                        responses: &[text(200, "The document.", JSON)],
                    }
                }
            }
            Endpoint::Docs => {
                const {
                    Spec {
                        method: Method::Get,
                        path: "/docs",
                        summary: "The API reference as a page",
                        description: "Every endpoint, who may call it, its parameters and answers, rendered from the OpenAPI document.",
                        access: Access::Public,
                        params: &[],
                        request: None,
                        responses: &[text(200, "The page.", "text/html; charset=utf-8")],
                    }
                }
            }
        }
    }
}
