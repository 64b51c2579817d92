//! The ledger on disk: SQLite, through rusqlite with SQLite built in.
//!
//! Why SQLite: one file an operator can open with `sqlite3` to ask their own
//! questions; write-ahead logging makes a write atomic, so a writer killed
//! mid-write leaves the previous state, not a torn one; and range queries
//! (a namespace's connections since it was staged) are what it is made for.
//! Rows are aggregated connections, never raw flows, so the file grows with
//! the number of distinct connections, not with traffic.

use std::path::Path;

use jiff::Timestamp;
use rusqlite::{Connection as Db, OptionalExtension, params};

use crate::flows::{Direction, Protocol};

use super::coverage::Span;
use super::key::{Connection, Party};
use super::tally::{Seen, Tally};

/// The ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("ledger {path}: {message}")]
pub struct LedgerError {
    pub path: String,
    pub message: String,
}

/// Where the evidence for a connection comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// Flows, from Hubble or a recording.
    Flows,
    /// Hubble's flow metrics in Prometheus: coarser (no port, or ports from
    /// the port distribution).
    Metrics,
}

/// One connection as the ledger holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub connection: Connection,
    pub seen: Seen,
    pub evidence: Evidence,
}

/// What the ledger holds, in figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub connections: u64,
    pub flows: u64,
    pub oldest: Option<Timestamp>,
    pub newest: Option<Timestamp>,
}

/// An open ledger file.
pub struct Ledger {
    db: Db,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS connections (
    src_ns TEXT NOT NULL, src TEXT NOT NULL, dst_ns TEXT NOT NULL, dst TEXT NOT NULL,
    port INTEGER NOT NULL, protocol TEXT NOT NULL, direction TEXT NOT NULL, dns TEXT NOT NULL,
    first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, count INTEGER NOT NULL,
    forwarded INTEGER NOT NULL, dropped INTEGER NOT NULL, audit INTEGER NOT NULL,
    drop_reason INTEGER, nodes TEXT NOT NULL, src_labels TEXT NOT NULL, dst_labels TEXT NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (src_ns, src, dst_ns, dst, port, protocol, direction, dns)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS connections_by_dst_ns ON connections (dst_ns, last_ms);
CREATE INDEX IF NOT EXISTS connections_by_last ON connections (last_ms);
CREATE TABLE IF NOT EXISTS observed (
    source TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
    PRIMARY KEY (source, start_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
";

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn time(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn protocol_name(p: Protocol) -> &'static str {
    p.name()
}

fn protocol_from(name: &str) -> Protocol {
    match name {
        "TCP" => Protocol::Tcp,
        "UDP" => Protocol::Udp,
        "SCTP" => Protocol::Sctp,
        "ICMPv4" => Protocol::IcmpV4,
        "ICMPv6" => Protocol::IcmpV6,
        _ => Protocol::Other,
    }
}

fn direction_from(name: &str) -> Direction {
    match name {
        "ingress" => Direction::Ingress,
        "egress" => Direction::Egress,
        _ => Direction::Unknown,
    }
}

fn lines(items: &[String]) -> String {
    items.join("\n")
}

fn unlines(text: &str) -> Vec<String> {
    text.lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

impl Ledger {
    /// Opens (creating) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let shown = path.display().to_string();
        let fail = |e: &dyn std::fmt::Display| LedgerError {
            path: shown.clone(),
            message: e.to_string(),
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(&e))?;
        }
        let db = Db::open(path).map_err(|e| fail(&e))?;
        // WAL: a write is all or nothing, and readers (the cockpit) do not
        // block the writer (`tighten observe`).
        db.pragma_update(None, "journal_mode", "WAL").map_err(|e| fail(&e))?;
        db.pragma_update(None, "synchronous", "NORMAL").map_err(|e| fail(&e))?;
        db.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| fail(&e))?;
        db.execute_batch(SCHEMA).map_err(|e| fail(&e))?;
        Ok(Ledger { db, path: shown })
    }

    /// An empty ledger in memory: what a context no observer ever ran for
    /// has seen (nothing), so its declared paths are judged all the same.
    pub fn empty() -> Result<Ledger, LedgerError> {
        let path = "(no ledger yet)".to_string();
        let fail = |e: rusqlite::Error| LedgerError {
            path: path.clone(),
            message: e.to_string(),
        };
        let db = Db::open_in_memory().map_err(fail)?;
        db.execute_batch(SCHEMA).map_err(fail)?;
        Ok(Ledger { db, path })
    }

    fn error(&self, e: impl std::fmt::Display) -> LedgerError {
        LedgerError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Adds what `tally` counted, in one transaction.
    pub fn write(&mut self, tally: &Tally, evidence: Evidence) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| LedgerError {
            path: path.clone(),
            message: e.to_string(),
        };
        let tx = self.db.transaction().map_err(fail)?;
        {
            let mut read = tx
                .prepare_cached(
                    "SELECT first_ms, last_ms, count, forwarded, dropped, audit, drop_reason, nodes, src_labels, \
                     dst_labels FROM connections WHERE src_ns = ?1 AND src = ?2 AND dst_ns = ?3 AND dst = ?4 \
                     AND port = ?5 AND protocol = ?6 AND direction = ?7 AND dns = ?8",
                )
                .map_err(fail)?;
            let mut upsert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO connections VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
                )
                .map_err(fail)?;
            for (key, seen) in &tally.connections {
                let pk = (
                    &key.source.namespace,
                    &key.source.name,
                    &key.destination.namespace,
                    &key.destination.name,
                    key.port,
                    protocol_name(key.protocol),
                    key.direction.name(),
                    &key.dns,
                );
                let existing = read
                    .query_row(params![pk.0, pk.1, pk.2, pk.3, pk.4, pk.5, pk.6, pk.7], |r| {
                        row_seen(r, 0)
                    })
                    .optional()
                    .map_err(fail)?;
                let merged = match existing {
                    Some(mut old) => {
                        old.merge(seen);
                        old
                    }
                    None => seen.clone(),
                };
                upsert
                    .execute(params![
                        pk.0,
                        pk.1,
                        pk.2,
                        pk.3,
                        pk.4,
                        pk.5,
                        pk.6,
                        pk.7,
                        ms(merged.first),
                        ms(merged.last),
                        merged.count as i64,
                        merged.forwarded as i64,
                        merged.dropped as i64,
                        merged.audit as i64,
                        merged.drop_reason,
                        lines(&merged.nodes),
                        lines(&merged.source_labels),
                        lines(&merged.destination_labels),
                        match evidence {
                            Evidence::Flows => "flows",
                            Evidence::Metrics => "metrics",
                        },
                    ])
                    .map_err(fail)?;
            }
        }
        // Only flows move the mark a resumed observer starts after: metrics
        // say "until now" without having counted every flow.
        let newest = tally
            .connections
            .values()
            .map(|s| s.last)
            .max()
            .filter(|_| evidence == Evidence::Flows);
        if let Some(newest) = newest {
            let known = newest_flow(&tx).map_err(fail)?;
            if known.is_none_or(|k| newest > k) {
                // Full precision: flows within one millisecond must still compare.
                tx.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('newest_flow', ?1)",
                    params![newest.to_string()],
                )
                .map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }

    /// Remembers that a file with this content digest was imported; `false`
    /// when it was already (importing it again would count its flows twice).
    pub fn mark_imported(&mut self, digest: &str, what: &str) -> Result<bool, LedgerError> {
        self.db
            .execute(
                "INSERT OR IGNORE INTO meta VALUES (?1, ?2)",
                params![format!("imported {digest}"), what],
            )
            .map(|n| n == 1)
            .map_err(|e| self.error(e))
    }

    /// The newest flow time written: a resumed observer counts only later flows.
    pub fn newest_flow(&self) -> Result<Option<Timestamp>, LedgerError> {
        newest_flow(&self.db).map_err(|e| self.error(e))
    }

    /// Records that `source` observed from `start` to `end` (extends the span
    /// that starts at `start`, as an observer's heartbeat does).
    pub fn observed(&mut self, source: &str, start: Timestamp, end: Timestamp) -> Result<(), LedgerError> {
        self.db
            .execute(
                "INSERT INTO observed VALUES (?1, ?2, ?3) ON CONFLICT (source, start_ms) DO UPDATE SET end_ms = \
                 max(end_ms, excluded.end_ms)",
                params![source, ms(start), ms(end)],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Every span observed that ends after `since`.
    pub fn observed_spans(&self, since: Timestamp) -> Result<Vec<Span>, LedgerError> {
        let mut q = self
            .db
            .prepare("SELECT start_ms, end_ms FROM observed WHERE end_ms > ?1 ORDER BY start_ms")
            .map_err(|e| self.error(e))?;
        let spans = q
            .query_map(params![ms(since)], |r| {
                Ok(Span {
                    start: time(r.get(0)?),
                    end: time(r.get(1)?),
                })
            })
            .map_err(|e| self.error(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))?;
        Ok(spans)
    }

    /// The connections with either end in `namespace` seen since `since`.
    pub fn connections_of(&self, namespace: &str, since: Timestamp) -> Result<Vec<Record>, LedgerError> {
        self.query(
            "SELECT * FROM connections WHERE src_ns = ?1 AND last_ms >= ?2 UNION ALL \
             SELECT * FROM connections WHERE dst_ns = ?1 AND src_ns != ?1 AND last_ms >= ?2",
            params![namespace, ms(since)],
        )
    }

    /// Every connection seen since `since`.
    pub fn connections_since(&self, since: Timestamp) -> Result<Vec<Record>, LedgerError> {
        self.query("SELECT * FROM connections WHERE last_ms >= ?1", params![ms(since)])
    }

    fn query(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<Record>, LedgerError> {
        let mut q = self.db.prepare(sql).map_err(|e| self.error(e))?;
        let rows = q
            .query_map(args, |r| {
                let connection = Connection {
                    source: Party {
                        namespace: r.get(0)?,
                        name: r.get(1)?,
                    },
                    destination: Party {
                        namespace: r.get(2)?,
                        name: r.get(3)?,
                    },
                    port: r.get(4)?,
                    protocol: protocol_from(&r.get::<_, String>(5)?),
                    direction: direction_from(&r.get::<_, String>(6)?),
                    dns: r.get(7)?,
                };
                let seen = row_seen(r, 8)?;
                let evidence = if r.get::<_, String>(18)? == "metrics" {
                    Evidence::Metrics
                } else {
                    Evidence::Flows
                };
                Ok(Record {
                    connection,
                    seen,
                    evidence,
                })
            })
            .map_err(|e| self.error(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))?;
        Ok(rows)
    }

    /// Forgets connections last seen, and spans ended, before `before`.
    /// Returns how many connections went.
    pub fn prune(&mut self, before: Timestamp) -> Result<usize, LedgerError> {
        let gone = self
            .db
            .execute("DELETE FROM connections WHERE last_ms < ?1", params![ms(before)])
            .map_err(|e| self.error(e))?;
        self.db
            .execute("DELETE FROM observed WHERE end_ms < ?1", params![ms(before)])
            .map_err(|e| self.error(e))?;
        Ok(gone)
    }

    /// SQLite's own check of the file (after a crash, say): `ok`, or what is wrong.
    pub fn integrity(&self) -> Result<String, LedgerError> {
        self.db
            .query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .map_err(|e| self.error(e))
    }

    pub fn summary(&self) -> Result<Summary, LedgerError> {
        self.db
            .query_row(
                "SELECT count(*), coalesce(sum(count), 0), min(first_ms), max(last_ms) FROM connections",
                [],
                |r| {
                    Ok(Summary {
                        connections: r.get::<_, i64>(0)? as u64,
                        flows: r.get::<_, i64>(1)? as u64,
                        oldest: r.get::<_, Option<i64>>(2)?.map(time),
                        newest: r.get::<_, Option<i64>>(3)?.map(time),
                    })
                },
            )
            .map_err(|e| self.error(e))
    }
}

/// The ten columns from `first_ms` to `dst_labels`, starting at column `at`.
fn row_seen(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Seen> {
    Ok(Seen {
        first: time(r.get(at)?),
        last: time(r.get(at + 1)?),
        count: r.get::<_, i64>(at + 2)? as u64,
        forwarded: r.get::<_, i64>(at + 3)? as u64,
        dropped: r.get::<_, i64>(at + 4)? as u64,
        audit: r.get::<_, i64>(at + 5)? as u64,
        drop_reason: r.get(at + 6)?,
        nodes: unlines(&r.get::<_, String>(at + 7)?),
        source_labels: unlines(&r.get::<_, String>(at + 8)?),
        destination_labels: unlines(&r.get::<_, String>(at + 9)?),
    })
}

fn newest_flow(db: &Db) -> rusqlite::Result<Option<Timestamp>> {
    db.query_row("SELECT value FROM meta WHERE key = 'newest_flow'", [], |r| {
        r.get::<_, String>(0)
    })
    .optional()
    .map(|v| v.and_then(|v| v.parse::<Timestamp>().ok()))
}
