//! `tighten ledger`: backfill the connection ledger from recordings, and
//! read it.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::flows::file;
use crate::ledger::{Evidence, Ledger, Record, Span, Tally, coverage};

use super::exit;

pub struct ImportOptions {
    pub ledger: PathBuf,
    /// `hubble observe -o jsonpb` / `-o json` recordings, or the JSON lines
    /// Cilium's hubble-exporter writes.
    pub files: Vec<PathBuf>,
    /// Prometheus with Hubble's flow metrics, for coarser evidence.
    pub prometheus: Option<String>,
    /// How far back Prometheus is asked.
    pub since: Duration,
}

/// Adds every flow of the files. Each file's span (first to last flow)
/// counts as observed: a recording is what someone watched.
pub fn import(options: &ImportOptions, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<u8> {
    let mut ledger = match Ledger::open(&options.ledger) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "tighten ledger import: {e}")?;
            return Ok(exit::BAD_INPUT);
        }
    };
    for path in &options.files {
        // The same recording twice would count its flows twice.
        let digest = match std::fs::read(path) {
            Ok(bytes) => digest(&bytes),
            Err(e) => {
                writeln!(err, "tighten ledger import: {}: {e}", path.display())?;
                return Ok(exit::BAD_INPUT);
            }
        };
        match ledger.mark_imported(&digest, &path.display().to_string()) {
            Ok(true) => {}
            Ok(false) => {
                writeln!(out, "{}: already imported (same content), skipped", path.display())?;
                continue;
            }
            Err(e) => {
                writeln!(err, "tighten ledger import: {e}")?;
                return Ok(exit::BAD_INPUT);
            }
        }
        let recording = match file::read(path) {
            Ok(r) => r,
            Err(e) => {
                writeln!(err, "tighten ledger import: {e}")?;
                return Ok(exit::BAD_INPUT);
            }
        };
        let mut tally = Tally::default();
        for flow in &recording.flows {
            tally.add(flow);
        }
        let first = recording.flows.iter().map(|f| f.time).min();
        let last = recording.flows.iter().map(|f| f.time).max();
        let written = ledger
            .write(&tally, Evidence::Flows)
            .and_then(|()| match (first, last) {
                (Some(first), Some(last)) => ledger.observed(&format!("import {}", path.display()), first, last),
                _ => Ok(()),
            });
        if let Err(e) = written {
            writeln!(err, "tighten ledger import: {e}")?;
            return Ok(exit::BAD_INPUT);
        }
        writeln!(
            out,
            "{}: {} flows, {} connections{}",
            path.display(),
            tally.flows,
            tally.connections.len(),
            match (first, last) {
                (Some(a), Some(b)) => format!(", {a} to {b}"),
                _ => String::new(),
            }
        )?;
    }
    if let Some(url) = &options.prometheus {
        let backfilled = crate::prometheus::Prometheus::new(url)
            .map_err(|e| e.to_string())
            .and_then(|client| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime
                    .block_on(crate::ledger::metrics::backfill(
                        &client,
                        options.since,
                        Timestamp::now(),
                    ))
                    .map_err(|e| e.to_string())
            });
        let tally = match backfilled {
            Ok(t) => t,
            Err(e) => {
                writeln!(err, "tighten ledger import: {e}")?;
                return Ok(exit::BAD_INPUT);
            }
        };
        if let Err(e) = ledger.write(&tally, Evidence::Metrics) {
            writeln!(err, "tighten ledger import: {e}")?;
            return Ok(exit::BAD_INPUT);
        }
        writeln!(
            out,
            "{url}: {} workload pairs over the last {} (from Hubble's metrics: coarser than flows)",
            tally.connections.len(),
            crate::config::format_duration(options.since)
        )?;
    }
    Ok(exit::OK)
}

pub struct ShowOptions {
    pub ledger: PathBuf,
    pub namespace: Option<String>,
    /// How far back; the whole ledger when `None`.
    pub since: Option<Duration>,
    pub json: bool,
}

/// Lists the connections (of a namespace) and what part of the window was
/// observed.
pub fn show(options: &ShowOptions, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<u8> {
    let now = Timestamp::now();
    let since = options
        .since
        .and_then(|d| SignedDuration::try_from(d).ok())
        .map_or(Timestamp::UNIX_EPOCH, |d| now - d);
    let read = Ledger::open(&options.ledger).and_then(|ledger| {
        let records = match &options.namespace {
            Some(ns) => ledger.connections_of(ns, since)?,
            None => ledger.connections_since(since)?,
        };
        let spans = ledger.observed_spans(since)?;
        Ok((records, spans))
    });
    let (mut records, spans) = match read {
        Ok(r) => r,
        Err(e) => {
            writeln!(err, "tighten ledger show: {e}")?;
            return Ok(exit::BAD_INPUT);
        }
    };
    records.sort_by_key(|r| std::cmp::Reverse(r.seen.last));
    if options.json {
        for r in &records {
            let line = serde_json::json!({
                "source": r.connection.source.qualified(),
                "destination": r.connection.destination.qualified(),
                "port": r.connection.port,
                "protocol": r.connection.protocol.name(),
                "direction": r.connection.direction.name(),
                "dns": (!r.connection.dns.is_empty()).then_some(&r.connection.dns),
                "first_seen": r.seen.first.to_string(),
                "last_seen": r.seen.last.to_string(),
                "count": r.seen.count,
                "forwarded": r.seen.forwarded,
                "dropped": r.seen.dropped,
                "audit": r.seen.audit,
                "drop_reason": r.seen.drop_reason,
                "nodes": r.seen.nodes,
                "evidence": match r.evidence { Evidence::Flows => "flows", Evidence::Metrics => "metrics" },
            });
            writeln!(out, "{line}")?;
        }
        return Ok(exit::OK);
    }
    writeln!(
        out,
        "{:<40} {:<40} {:<11} {:<7} {:>8} {:<20} {:<20} VERDICTS",
        "SOURCE", "DESTINATION", "PORT", "DIR", "COUNT", "FIRST SEEN", "LAST SEEN"
    )?;
    for r in &records {
        writeln!(
            out,
            "{:<40} {:<40} {:<11} {:<7} {:>8} {:<20} {:<20} {}",
            r.connection.source.qualified(),
            r.connection.destination.qualified(),
            format!("{}/{}", r.connection.port, r.connection.protocol.name()),
            r.connection.direction.name(),
            r.seen.count,
            short_time(r.seen.first),
            short_time(r.seen.last),
            verdicts(r)
        )?;
    }
    let start = if options.since.is_some() {
        since
    } else {
        records.iter().map(|r| r.seen.first).min().unwrap_or(now)
    };
    let cover = coverage(Span { start, end: now }, &spans);
    writeln!(
        out,
        "{} connections; {}",
        records.len(),
        crate::ledger::describe(&cover)
    )?;
    Ok(exit::OK)
}

/// A content digest that stays the same across builds: FNV-1a and the length.
fn digest(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}-{}", bytes.len())
}

fn short_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M").to_string()
}

fn verdicts(r: &Record) -> String {
    let mut parts = Vec::new();
    if r.seen.forwarded > 0 {
        parts.push(format!("{} forwarded", r.seen.forwarded));
    }
    if r.seen.dropped > 0 {
        parts.push(format!("{} dropped", r.seen.dropped));
    }
    if r.seen.audit > 0 {
        parts.push(format!("{} audit", r.seen.audit));
    }
    parts.join(", ")
}

pub struct PreviewOptions {
    pub ledger: PathBuf,
    pub namespace: String,
    pub policies: crate::policy::load::Sources,
    pub since: Option<Duration>,
}

/// Judges every connection the ledger saw with an end in the namespace, as
/// if its default-deny were enforced; lists what would be dropped with when
/// it was first and last seen.
pub fn preview(options: &PreviewOptions, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<u8> {
    let loaded = match crate::policy::load::load(&options.policies) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "tighten ledger preview: {e}")?;
            return Ok(exit::BAD_INPUT);
        }
    };
    for refused in &loaded.refused {
        writeln!(err, "tighten ledger preview: not applied: {refused}")?;
    }
    let since = options
        .since
        .and_then(|d| SignedDuration::try_from(d).ok())
        .map_or(Timestamp::UNIX_EPOCH, |d| Timestamp::now() - d);
    let records = match Ledger::open(&options.ledger).and_then(|l| l.connections_of(&options.namespace, since)) {
        Ok(r) => r,
        Err(e) => {
            writeln!(err, "tighten ledger preview: {e}")?;
            return Ok(exit::BAD_INPUT);
        }
    };
    let engine = crate::policy::engine::Engine::new(loaded.parsed);
    let drops = crate::ledger::would_drop(&engine, &options.namespace, &records);
    writeln!(
        out,
        "would drop if {} were enforced: {} of the {} connections the ledger saw{}",
        options.namespace,
        drops.len(),
        records.len(),
        if options.since.is_some() {
            format!(" since {}", short_time(since))
        } else {
            String::new()
        }
    )?;
    if !drops.is_empty() {
        writeln!(
            out,
            "{:<8} {:<70} {:<11} {:>7} {:<17} {:<17}",
            "DIR", "SOURCE -> DESTINATION", "PORT", "COUNT", "FIRST SEEN", "LAST SEEN"
        )?;
    }
    for d in &drops {
        writeln!(
            out,
            "{:<8} {:<70} {:<11} {:>7} {:<17} {:<17}{}",
            d.direction.name(),
            format!("{} -> {}", d.source, d.destination),
            format!("{}/{}", d.port, d.protocol.name()),
            d.count,
            short_time(d.first),
            short_time(d.last),
            if d.dns.is_empty() {
                String::new()
            } else {
                format!(" ({})", d.dns)
            }
        )?;
    }
    Ok(if drops.is_empty() { exit::OK } else { exit::FOUND })
}
