//! Recording the stream to disk, rotating by size: `FILE` is written, and when
//! it would pass the limit it becomes `FILE.1` (the older ones shift up to
//! `FILE.<keep>`, the oldest is removed) and a new `FILE` begins.
//!
//! Writing happens on a thread of its own, so a slow disk never holds up the
//! stream; if the disk cannot keep up, lines are dropped and counted.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use crate::flows::Flow;

use super::jsonpb;

/// Flows waiting for the disk before new ones are dropped.
const QUEUE: usize = 16_384;

/// Where and how much to record.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    pub path: PathBuf,
    /// A file is rotated before it grows past this many bytes.
    pub max_bytes: u64,
    /// How many rotated files are kept besides the current one.
    pub keep: usize,
}

/// A handle to the recording thread; clones share it.
#[derive(Clone)]
pub struct Recorder {
    tx: SyncSender<Flow>,
    dropped: Arc<AtomicU64>,
}

impl Recorder {
    /// Opens (appending to) the file and starts the writer; the error names the file.
    pub fn start(options: RecordOptions) -> Result<Recorder, String> {
        let file = open(&options.path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        let (tx, rx) = sync_channel::<Flow>(QUEUE);
        let mut writer = Writer {
            out: BufWriter::new(file),
            written,
            options,
        };
        std::thread::Builder::new()
            .name("tighten-record".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut next = Some(first);
                    while let Some(flow) = next {
                        if let Err(e) = writer.write(&jsonpb::line(&flow)) {
                            tracing::error!(path = %writer.options.path.display(), %e, "recording stopped");
                            return;
                        }
                        next = rx.try_recv().ok();
                    }
                    // The queue is drained: flush, so a quiet stream is on disk.
                    let _ = writer.out.flush();
                }
            })
            .map_err(|e| format!("cannot start the recording thread: {e}"))?;
        Ok(Recorder {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn write(&self, flow: &Flow) {
        match self.tx.try_send(flow.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Lines not recorded because the disk fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn open(path: &Path) -> Result<File, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("--record {}: {e}", path.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("--record {}: {e}", path.display()))
}

struct Writer {
    out: BufWriter<File>,
    written: u64,
    options: RecordOptions,
}

impl Writer {
    fn write(&mut self, line: &str) -> std::io::Result<()> {
        let size = line.len() as u64 + 1;
        if self.written > 0 && self.written + size > self.options.max_bytes {
            self.rotate()?;
        }
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.written += size;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        let path = &self.options.path;
        let numbered = |n: usize| {
            let mut name = path.as_os_str().to_owned();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        if self.options.keep == 0 {
            std::fs::remove_file(path)?;
        } else {
            // FILE.keep falls off; FILE.n becomes FILE.n+1; FILE becomes FILE.1.
            let _ = std::fs::remove_file(numbered(self.options.keep));
            for n in (1..self.options.keep).rev() {
                let from = numbered(n);
                if from.exists() {
                    std::fs::rename(&from, numbered(n + 1))?;
                }
            }
            std::fs::rename(path, numbered(1))?;
        }
        self.out = BufWriter::new(open(path).map_err(std::io::Error::other)?);
        self.written = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::file;

    #[test]
    fn recordings_rotate_by_size_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("flows.jsonpb");
        let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/flows/sample.jsonpb");
        let flows = file::read(Path::new(sample)).expect("fixture").flows;
        let recorder = Recorder::start(RecordOptions {
            path: path.clone(),
            max_bytes: 3_000,
            keep: 2,
        })
        .expect("starts");
        for _ in 0..5 {
            for flow in &flows {
                recorder.write(flow);
            }
        }
        drop(recorder);
        // The writer thread ends when the last handle is gone; wait for its files.
        let rotated = path.with_extension("jsonpb.2");
        for _ in 0..200 {
            if rotated.exists() && file::read(&path).is_ok_and(|f| !f.flows.is_empty()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let names: Vec<PathBuf> = [path.clone(), path.with_extension("jsonpb.1"), rotated.clone()].into();
        for name in &names {
            let size = std::fs::metadata(name).expect("exists").len();
            assert!(size <= 3_000, "{} is {size} bytes", name.display());
        }
        assert!(
            !path.with_extension("jsonpb.3").exists(),
            "only two rotated files are kept"
        );
        // The newest file holds the newest flows, in order, equal to what was written.
        let newest = file::read(&path).expect("reads").flows;
        assert!(!newest.is_empty());
        assert_eq!(newest.last(), flows.last());
        let previous = file::read(&names[1]).expect("reads").flows;
        let joined: Vec<_> = previous.iter().chain(&newest).collect();
        let tail: Vec<_> = flows
            .iter()
            .cycle()
            .skip(5 * flows.len() - joined.len())
            .take(joined.len())
            .collect();
        assert_eq!(joined, tail);
    }
}
