//! The OpenAPI 3.1 document and the docs page, generated from `Endpoint::ALL`.
//!
//! Schemas come from the Rust types the handlers use (schemars, JSON Schema 2020-12, which is
//! OpenAPI 3.1's own dialect): the submission schemas of the event catalogue (the same ones
//! checked in under schemas/), the verdict and channel view of chl-state, and the answer types
//! of `crate::api`. A schema's `$defs` are hoisted into `components/schemas` so that every
//! `$ref` resolves within the document.

use crate::endpoints::{Access, Endpoint, In, Kind, Method};
use chl_model::EventType;
use serde_json::{Map, Value, json};
use std::fmt::Write;

/// Moves `schema`'s `$defs` into `components` and points its refs there.
fn hoist(mut schema: Value, components: &mut Map<String, Value>) -> Value {
    if let Some(Value::Object(defs)) = schema.as_object_mut().and_then(|o| o.remove("$defs")) {
        for (name, def) in defs {
            let def = hoist(def, components);
            components.entry(name).or_insert(def);
        }
    }
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
    }
    rewrite_refs(&mut schema);
    schema
}

fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(r)) = object.get_mut("$ref")
                && let Some(name) = r.strip_prefix("#/$defs/")
            {
                *r = format!("#/components/schemas/{name}");
            }
            object.values_mut().for_each(rewrite_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

fn component<T: schemars::JsonSchema>(components: &mut Map<String, Value>, name: &str) {
    // For serialization: fields always written (null or not) are listed as required.
    let generator = schemars::generate::SchemaSettings::draft2020_12().for_serialize().into_generator();
    let schema = serde_json::to_value(generator.into_root_schema_for::<T>()).expect("a schema is JSON");
    let schema = hoist(schema, components);
    components.insert(name.to_owned(), schema);
}

fn schemas() -> Map<String, Value> {
    let mut c = Map::new();
    component::<crate::error::ErrorBody>(&mut c, "Error");
    component::<crate::api::Appended>(&mut c, "Appended");
    component::<crate::api::InclusionProof>(&mut c, "InclusionProof");
    component::<crate::api::ConsistencyProof>(&mut c, "ConsistencyProof");
    component::<crate::api::AuthorizationAnswer>(&mut c, "Authorization");
    component::<crate::api::Health>(&mut c, "Health");
    component::<chl_state::Verdict>(&mut c, "VerdictCore");
    component::<chl_state::ChannelView>(&mut c, "ChannelViewCore");
    component::<chl_state::ChannelDiff>(&mut c, "ChannelDiff");
    c.insert(
        "Verdict".into(),
        json!({"allOf": [{"$ref": "#/components/schemas/VerdictCore"}, {
            "type": "object",
            "properties": {
                "order": {"type": "string", "description": "The order asked about."},
                "known_at_seq": {"type": "integer", "minimum": 0, "description": "The verdict counts records up to this seq."}
            },
            "required": ["order", "known_at_seq"]
        }]}),
    );
    c.insert(
        "ChannelView".into(),
        json!({"allOf": [{"$ref": "#/components/schemas/ChannelViewCore"}, {
            "type": "object",
            "properties": {"changes": {"$ref": "#/components/schemas/ChannelDiff", "description": "What changed since `since`, when asked."}}
        }]}),
    );
    c.insert(
        "Record".into(),
        json!({
            "type": "object",
            "description": "A committed record in export form (docs/format.md).",
            "properties": {
                "seq": {"type": "integer", "minimum": 0},
                "recorded_at": {"type": "string", "format": "date-time"},
                "type": {"type": "string", "enum": EventType::ALL.iter().map(|t| t.name()).collect::<Vec<_>>()},
                "version": {"type": "integer", "minimum": 1},
                "actor": {"type": "string"},
                "effective_at": {"type": "string", "format": "date-time"},
                "data": {"type": "object", "description": "The event's data, as in its submission schema."},
                "prev": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "The hash of the record before."},
                "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "The BLAKE3 record hash."},
                "ends_batch": {"type": "boolean"}
            },
            "required": ["seq", "recorded_at", "type", "version", "actor", "effective_at", "data", "prev", "hash"]
        }),
    );
    c.insert(
        "RecordPage".into(),
        json!({
            "type": "object",
            "properties": {
                "records": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}},
                "next": {"type": ["integer", "null"], "description": "The `from` of the next page; null at the end."},
                "records_in_log": {"type": "integer", "description": "Durable records in the log."}
            },
            "required": ["records", "next", "records_in_log"]
        }),
    );
    c.insert(
        "Timeline".into(),
        json!({
            "type": "object",
            "properties": {
                "records": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}},
                "truncated": {"type": "boolean", "description": "More records matched than `limit`."}
            },
            "required": ["records", "truncated"]
        }),
    );
    c.insert(
        "Bundle".into(),
        json!({
            "type": "object",
            "description": "The proof bundle of spec/cli.md; `chl verify-bundle` checks it.",
            "properties": {
                "checkpoint": {"type": "string", "description": "The signed note, as chl checkpoint prints it."},
                "records": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "seq": {"type": "integer", "minimum": 0},
                        "bytes": {"type": "string", "contentEncoding": "base64", "description": "The record's canonical bytes."},
                        "record": {"$ref": "#/components/schemas/Record"},
                        "inclusion": {"type": "array", "items": {"type": "string", "contentEncoding": "base64"}}
                    },
                    "required": ["seq", "bytes", "record", "inclusion"]
                }},
                "verdict": {"$ref": "#/components/schemas/Verdict"},
                "verdict_note": {"type": "string", "description": "The verdict signed by the ledger's key (a signed note)."}
            },
            "required": ["checkpoint", "records"]
        }),
    );
    let mut variants = Vec::new();
    for event_type in EventType::ALL {
        if *event_type == EventType::LedgerCreated {
            continue;
        }
        let version = event_type.current_version();
        let Some(schema) = chl_model::schema::submission_schema(*event_type, version) else { continue };
        let name = format!("Submission_{}", event_type.name());
        let schema = hoist(schema, &mut c);
        c.insert(name.clone(), schema);
        variants.push(json!({"$ref": format!("#/components/schemas/{name}")}));
    }
    c.insert(
        "Submission".into(),
        json!({"description": "One submission of the event catalogue (spec/events.md).", "oneOf": variants}),
    );
    c.insert(
        "SubmissionOrBatch".into(),
        json!({"oneOf": [
            {"$ref": "#/components/schemas/Submission"},
            {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Submission"},
             "description": "A batch: appended all or nothing."}
        ]}),
    );
    c
}

fn access_text(access: Access) -> String {
    match access {
        Access::Public => "Anyone; no token needed.".into(),
        Access::RateLimited => "Anyone; no token needed; rate limited per client address.".into(),
        Access::Roles(roles) => {
            format!("Roles: {}.", roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(", "))
        }
        Access::RolesOrBrand(roles, party) => format!(
            "Roles: {}; and role party for {party}.",
            roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn param_schema(kind: Kind) -> Value {
    match kind {
        Kind::Integer => json!({"type": "integer", "minimum": 0}),
        Kind::Time => json!({"type": "string", "format": "date-time"}),
        Kind::Id => json!({"type": "string"}),
    }
}

/// The OpenAPI 3.1 document of every endpoint.
pub fn document() -> Value {
    let mut paths = Map::new();
    for endpoint in Endpoint::ALL {
        let spec = endpoint.spec();
        let parameters: Vec<Value> = spec
            .params
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "in": match p.location { In::Path => "path", In::Query => "query", In::Header => "header" },
                    "required": p.required,
                    "description": p.description,
                    "schema": param_schema(p.kind),
                })
            })
            .collect();
        let mut responses = Map::new();
        for r in spec.responses {
            let schema = r
                .schema
                .map_or(json!({"type": "string"}), |s| json!({"$ref": format!("#/components/schemas/{s}")}));
            let content_type = r.content_type.split(';').next().unwrap_or(r.content_type).trim();
            responses.insert(
                r.status.to_string(),
                json!({"description": r.description, "content": {content_type: {"schema": schema}}}),
            );
        }
        let (security, roles) = match spec.access {
            Access::Public | Access::RateLimited => (json!([]), json!([])),
            Access::Roles(roles) | Access::RolesOrBrand(roles, _) => {
                (json!([{"bearer": []}]), json!(roles.iter().map(|r| r.name()).collect::<Vec<_>>()))
            }
        };
        let mut operation = json!({
            "operationId": endpoint.name(),
            "summary": spec.summary,
            "description": format!("{}\n\nWho: {}", spec.description, access_text(spec.access)),
            "security": security,
            "x-roles": roles,
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(request) = spec.request {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{request}")}}}
            });
        }
        let method = match spec.method {
            Method::Get => "get",
            Method::Post => "post",
        };
        let item = paths.entry(spec.path.to_owned()).or_insert_with(|| json!({}));
        item[method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Channel Ledger",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The HTTP API of a Channel Ledger: a tamper-evident, hash-chained log of supplier admissions, authorization grants, distribution agreements and sales, with signed checkpoints, proofs and authenticity verdicts. Errors are always {\"error\", \"message\"}.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "A token from `chl token issue`."}},
            "schemas": schemas(),
        },
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A self-contained HTML reference (no scripts, no external assets).
pub fn docs_page() -> String {
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Channel Ledger API</title>\n<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}code{background:#f3f3f3;padding:0 .2em}section{border-top:1px solid #ddd;padding:.5rem 0}.m{font-weight:bold;display:inline-block;min-width:3.5em}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .4rem;text-align:left;vertical-align:top}</style></head><body>\n<h1>Channel Ledger API</h1>\n<p>Every error is <code>{\"error\": \"&lt;code&gt;\", \"message\": \"&lt;sentence&gt;\"}</code>. Authenticate with <code>Authorization: Bearer &lt;token&gt;</code> from <code>chl token issue</code>. The machine-readable document is <a href=\"/openapi.json\">/openapi.json</a>.</p>\n",
    );
    for endpoint in Endpoint::ALL {
        let spec = endpoint.spec();
        let method = match spec.method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        let _ = write!(
            html,
            "<section id=\"{}\"><h2><span class=\"m\">{method}</span> <code>{}</code></h2>\n<p><b>{}</b></p>\n<p>{}</p>\n<p><i>{}</i></p>\n",
            endpoint.name(),
            escape(spec.path),
            escape(spec.summary),
            escape(spec.description),
            escape(&access_text(spec.access)),
        );
        if !spec.params.is_empty() {
            html.push_str("<table><tr><th>parameter</th><th>in</th><th>required</th><th>meaning</th></tr>\n");
            for p in spec.params {
                let _ = writeln!(
                    html,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(p.name),
                    match p.location {
                        In::Path => "path",
                        In::Query => "query",
                        In::Header => "header",
                    },
                    if p.required { "yes" } else { "no" },
                    escape(p.description)
                );
            }
            html.push_str("</table>\n");
        }
        html.push_str("<ul>\n");
        for r in spec.responses {
            let _ = writeln!(html, "<li><b>{}</b> {}</li>", r.status, escape(r.description));
        }
        html.push_str("</ul></section>\n");
    }
    html.push_str("</body></html>\n");
    html
}
