//! Derived metadata in sled: the founding facts of the ledger, how many records of each type
//! it holds, and how far the log has been indexed (`indexed_upto`).
//!
//! Nothing here is the truth: it is rebuilt from the log whenever it is missing, behind, ahead
//! (after recovery cut the log) or belongs to another ledger. It is written after the log's
//! commit, never on the acknowledgement path. Later indexes (records by order, store, party,
//! grant, brand) join the same catch-up.

use chl_model::{EventType, Record, Seq};
use std::collections::BTreeMap;
use std::path::Path;

const INDEXED_UPTO: &[u8] = b"indexed_upto";
const FOUNDING_HASH: &[u8] = b"founding_hash";
const COUNT_PREFIX: &[u8] = b"count/";

pub struct Meta {
    db: sled::Db,
    tree: sled::Tree,
}

/// Counts gathered from a run of records, applied to sled in one atomic batch.
#[derive(Default, Clone)]
pub struct MetaDelta {
    counts: BTreeMap<EventType, u64>,
    last: Option<Seq>,
    founding_hash: Option<chl_model::Digest>,
}

impl MetaDelta {
    /// Adds `later` (a delta of records after this one's).
    pub fn merge(&mut self, later: MetaDelta) {
        for (event_type, n) in later.counts {
            *self.counts.entry(event_type).or_default() += n;
        }
        self.last = later.last.or(self.last);
        self.founding_hash = later.founding_hash.or(self.founding_hash);
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_none()
    }

    /// The counts by event type name.
    pub fn counts(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.counts.iter().map(|(t, n)| (t.name(), *n))
    }

    /// A record staged in a batch (never record 0).
    pub fn add_staged(&mut self, record: &Record) {
        assert!(record.seq != Seq::ZERO, "record 0 is written by init");
        *self.counts.entry(record.event.event_type()).or_default() += 1;
        self.last = Some(record.seq);
    }

    pub fn add(&mut self, record: &Record, hash: chl_model::Digest) {
        *self.counts.entry(record.event.event_type()).or_default() += 1;
        if record.seq == Seq::ZERO {
            self.founding_hash = Some(hash);
        }
        self.last = Some(record.seq);
    }
}

impl Meta {
    /// Opens (or creates) the metadata store. sled's background flusher is off: nothing here
    /// needs durability (it is rebuilt from the log), the ledger flushes after imports and on
    /// close, and a flusher thread would hold sled's file lock for a while after the ledger is
    /// dropped, so that reopening in the same process could fail.
    pub fn open(path: &Path) -> sled::Result<Meta> {
        let mut attempt = 0;
        let db = loop {
            match sled::Config::new().path(path).flush_every_ms(None).open() {
                // Another handle in this process is still being torn down: wait for it.
                Err(sled::Error::Io(e))
                    if attempt < 40 && e.to_string().contains("could not acquire lock") =>
                {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                other => break other?,
            }
        };
        let tree = db.open_tree("meta")?;
        Ok(Meta { db, tree })
    }

    /// The last seq reflected here, if any.
    pub fn indexed_upto(&self) -> sled::Result<Option<Seq>> {
        Ok(self
            .tree
            .get(INDEXED_UPTO)?
            .map(|v| Seq(u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8])))))
    }

    /// The hash of record 0 of the ledger this index was built from.
    pub fn founding_hash(&self) -> sled::Result<Option<chl_model::Digest>> {
        Ok(self.tree.get(FOUNDING_HASH)?.and_then(|v| v.as_ref().try_into().ok().map(chl_model::Digest)))
    }

    pub fn apply(&self, delta: &MetaDelta) -> sled::Result<()> {
        let Some(last) = delta.last else {
            return Ok(());
        };
        let mut counts = self.counts()?;
        let mut batch = sled::Batch::default();
        for (event_type, n) in &delta.counts {
            let total = counts.entry(event_type.name().to_owned()).or_default();
            *total += n;
            batch.insert(count_key(event_type.name()), &total.to_be_bytes());
        }
        if let Some(hash) = delta.founding_hash {
            batch.insert(FOUNDING_HASH, hash.as_bytes());
        }
        batch.insert(INDEXED_UPTO, &last.0.to_be_bytes());
        self.tree.apply_batch(batch)
    }

    pub fn clear(&self) -> sled::Result<()> {
        self.tree.clear()
    }

    /// Records held, by event type name.
    pub fn counts(&self) -> sled::Result<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        for entry in self.tree.scan_prefix(COUNT_PREFIX) {
            let (key, value) = entry?;
            let name = String::from_utf8_lossy(&key[COUNT_PREFIX.len()..]).into_owned();
            out.insert(name, u64::from_be_bytes(value.as_ref().try_into().unwrap_or([0; 8])));
        }
        Ok(out)
    }

    pub fn flush(&self) -> sled::Result<()> {
        self.db.flush().map(drop)
    }
}

fn count_key(name: &str) -> Vec<u8> {
    [COUNT_PREFIX, name.as_bytes()].concat()
}
