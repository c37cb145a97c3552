//! Every refusal the API gives: `{"error": "<code>", "message": "<one sentence>"}` with the
//! status of spec/http.md, and for rule refusals the rule, field and batch index too.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chl_model::Refusal;
use chl_model::refusal::Rule;
use schemars::JsonSchema;
use serde::Serialize;

/// The body of every error response.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// A stable code: `malformed`, `unauthorized`, `forbidden`, `not_found`, `refused`,
    /// `too_large`, `rate_limited`, `timeout`, `unavailable` or `internal`.
    pub error: &'static str,
    /// One sentence naming the rule, field or id at fault.
    pub message: String,
    /// For a refused submission: the rule group of spec/events.md that refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    /// For a refused submission: the field at fault, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For a refused batch: the index of the submission that was refused (0-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds to wait before trying again (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody { error, message: message.into(), rule: None, field: None, index: None },
            retry_after: None,
        }
    }

    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    pub fn rate_limited(retry_after: u64) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many authorization checks from this address; retry in {retry_after} s"),
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", message)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// A submission refused by a rule: the form rule is a malformed request (400), every
    /// other rule a conflict with what the ledger holds (409).
    pub fn refused(refusal: Refusal, index: Option<usize>) -> ApiError {
        let (status, error) = match refusal.rule {
            Rule::Form => (StatusCode::BAD_REQUEST, "malformed"),
            _ => (StatusCode::CONFLICT, "refused"),
        };
        let message = match index {
            Some(i) => format!("submission {i}: {refusal}"),
            None => refusal.to_string(),
        };
        ApiError {
            status,
            body: ErrorBody { error, message, rule: Some(refusal.rule.name()), field: refusal.field, index },
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body).expect("an error body is JSON");
        let mut response = (self.status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
