//! A generated valid channel history, shared by the benchmarks.

use std::fmt::Write as _;

/// A valid channel history of about `records` submissions: one brand owner, ten agents with
/// sublicensable grants, `stores` Taobao stores each under a sub-grant and an agreement, and
/// sales for the rest (order ids `TB-<n, 10 digits>`).
pub fn channel_history(records: u64, stores: u64) -> Vec<u8> {
    let mut out = String::with_capacity(records as usize * 300);
    let mut line = |actor: &str, at: &str, event_type: &str, data: String| {
        writeln!(out, r#"{{"type":"{event_type}","actor":"{actor}","effective_at":"{at}","data":{data}}}"#)
            .unwrap();
    };
    let t0 = "2013-01-01T00:00:00Z";
    let agents = 10;
    line("platform", t0, "party_registered", r#"{"party":"owner","legal_name":"Owner Co."}"#.into());
    line("platform", t0, "supplier_admitted", admitted("owner"));
    line(
        "platform",
        t0,
        "margin_deposited",
        r#"{"supplier":"owner","amount":{"value":10000000,"currency":"CNY"}}"#.into(),
    );
    line("platform", t0, "policy_set", r#"{"min_margin":{"value":1000000,"currency":"CNY"}}"#.into());
    line(
        "platform",
        t0,
        "brand_registered",
        r#"{"brand":"brand-0","name":"Brand","owner":"owner","trademark_no":"TM-1"}"#.into(),
    );
    for sku in 0..100 {
        line(
            "owner",
            t0,
            "product_registered",
            format!(
                r#"{{"sku":"sku-{sku}","brand":"brand-0","name":"Product {sku}","category":"cat-{}","price_floor":{{"value":10000,"currency":"CNY"}}}}"#,
                sku % 5
            ),
        );
    }
    for a in 0..agents {
        line(
            "platform",
            t0,
            "party_registered",
            format!(r#"{{"party":"agent-{a}","legal_name":"Agent {a}"}}"#),
        );
        line("platform", t0, "supplier_admitted", admitted(&format!("agent-{a}")));
        line(
            "platform",
            t0,
            "margin_deposited",
            format!(r#"{{"supplier":"agent-{a}","amount":{{"value":2000000,"currency":"CNY"}}}}"#),
        );
        line(
            "owner",
            t0,
            "grant_issued",
            format!(
                r#"{{"grant":"g-{a}","brand":"brand-0","grantor":"owner","grantee":"agent-{a}","scope":{{}},"channels":["taobao"],"exclusive":false,"sublicensable":true,"valid_from":"{t0}","valid_until":"2030-01-01T00:00:00Z"}}"#
            ),
        );
    }
    for s in 0..stores {
        let a = s % agents;
        line(
            "platform",
            t0,
            "party_registered",
            format!(r#"{{"party":"op-{s}","legal_name":"Operator {s}"}}"#),
        );
        line(
            &format!("agent-{a}"),
            t0,
            "grant_issued",
            format!(
                r#"{{"grant":"g-{a}-{s}","brand":"brand-0","grantor":"agent-{a}","grantee":"op-{s}","parent":"g-{a}","scope":{{}},"channels":["taobao"],"exclusive":false,"sublicensable":false,"valid_from":"{t0}","valid_until":"2029-01-01T00:00:00Z"}}"#
            ),
        );
        line(
            "platform",
            t0,
            "store_opened",
            format!(
                r#"{{"store":"store-{s}","operator":"op-{s}","channel":"taobao","name":"Store {s}","region":"CN-31"}}"#
            ),
        );
        line(
            &format!("agent-{a}"),
            t0,
            "agreement_signed",
            format!(
                r#"{{"agreement":"agr-{s}","supplier":"agent-{a}","distributor":"op-{s}","brand":"brand-0","mode":"wholesale","scope":{{}},"valid_from":"{t0}","valid_until":"2029-01-01T00:00:00Z"}}"#
            ),
        );
    }
    let setup = 5 + 100 + agents * 4 + stores * 4;
    for n in 0..records.saturating_sub(setup + 1) {
        let day = n % 2000;
        line(
            "platform",
            &format!("2014-{:02}-{:02}T{:02}:00:00Z", day % 12 + 1, day % 28 + 1, n % 24),
            "sale_recorded",
            format!(
                r#"{{"order":"TB-{n:010}","store":"store-{}","sku":"sku-{}","quantity":1,"unit_price":{{"value":{},"currency":"CNY"}},"payment_ref":"ALIPAY-{n:012}"}}"#,
                n % stores,
                n % 100,
                9_900 + n % 20_000
            ),
        );
    }
    out.into_bytes()
}

pub fn admitted(supplier: &str) -> String {
    format!(
        r#"{{"supplier":"{supplier}","qualifications":[{{"kind":"business_license","reference":"BL-{supplier}"}}]}}"#
    )
}

pub fn bench_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(std::env::var_os("CHL_BENCH_DIR").unwrap_or_else(|| ".".into())).unwrap()
}
