//! Records shaped like the ledger's bulk (sales of about 200 canonical bytes), for
//! benchmarks and tests of the log. Not used by the ledger itself.

use crate::log::Log;
use chl_model::event::{LedgerCreated, OriginName, PublicKey, SaleRecorded};
use chl_model::{Event, Money, OrderId, PartyId, Record, Region, Sku, StoreId, Text, Timestamp};

/// The event of record `seq`: `ledger_created` at 0, a sale after that.
pub fn sample_event(seq: u64) -> Event {
    if seq == 0 {
        return Event::LedgerCreated(LedgerCreated {
            origin: OriginName::parse("bench.channel-ledger.example").unwrap(),
            public_key: PublicKey([42; 32]),
        });
    }
    Event::SaleRecorded(SaleRecorded {
        order: OrderId::parse(&format!("TM-20131111-{seq:010}")).unwrap(),
        store: StoreId::parse(&format!("taobao-store-{:05}", seq % 10_000)).unwrap(),
        sku: Sku::parse(&format!("ACME-SERUM-{:03}", seq % 500)).unwrap(),
        quantity: 1u32.try_into().unwrap(),
        unit_price: Money::new(19_900 + (seq % 1000) as i64, "CNY".parse().unwrap()).unwrap(),
        region: Some(Region::parse("CN-31").unwrap()),
        payment_ref: Some(Text::parse(&format!("ALIPAY-2013111100{seq:012}")).unwrap()),
    })
}

/// Appends `n` sample records as one batch (the last ends it), without committing.
pub fn append_sample_batch(log: &mut Log, n: u64) {
    append_batch(log, n, true, sample_event);
}

/// Appends `n` records made by `event(seq)`, without committing; the last ends the batch
/// when `close` is set (an unclosed batch is what a crash mid-batch leaves).
pub fn append_batch(log: &mut Log, n: u64, close: bool, event: impl Fn(u64) -> Event) {
    let effective_at = Timestamp::parse_rfc3339("2013-11-11T00:00:00Z").unwrap();
    for i in 0..n {
        let seq = log.next_seq();
        let event = event(seq.0);
        let record = Record {
            seq,
            recorded_at: log.clock(),
            prev: log.head_hash(),
            ends_batch: close && i + 1 == n,
            actor: PartyId::platform(),
            effective_at,
            version: event.event_type().current_version(),
            event,
        };
        log.append(&record).expect("append");
    }
}
