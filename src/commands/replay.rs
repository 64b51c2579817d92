//! `tighten replay`: serve a Hubble recording over the observer API, for the
//! demo, for tests, and for replaying an incident into any Hubble client.

use std::io::Write;
use std::path::PathBuf;

use crate::flows::file;
use crate::hubble::replay::Replay;

use super::exit;

pub struct ReplayOptions {
    pub file: PathBuf,
    pub listen: String,
    pub speed: f64,
    pub looping: bool,
    pub rebase: bool,
}

/// Serves until interrupted; returns only on bad input or a server error.
pub async fn run(options: &ReplayOptions, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<u8> {
    let recording = match file::read(&options.file) {
        Ok(r) => r,
        Err(e) => {
            writeln!(err, "tighten replay: {e}")?;
            return Ok(exit::BAD_INPUT);
        }
    };
    if recording.flows.is_empty() {
        writeln!(err, "tighten replay: {} holds no flows", options.file.display())?;
        return Ok(exit::BAD_INPUT);
    }
    if !(options.speed > 0.0 && options.speed.is_finite()) {
        writeln!(err, "tighten replay: --speed must be a positive number")?;
        return Ok(exit::BAD_INPUT);
    }
    let listener = match tokio::net::TcpListener::bind(&options.listen).await {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "tighten replay: cannot listen on {}: {e}", options.listen)?;
            return Ok(exit::BAD_INPUT);
        }
    };
    let address = listener.local_addr()?;
    // The first line says where to connect (useful with port 0).
    writeln!(
        out,
        "serving {} flows from {} on {address} (speed {}{})",
        recording.flows.len(),
        options.file.display(),
        options.speed,
        if options.looping { ", looping" } else { "" }
    )?;
    out.flush()?;
    let mut replay = Replay::new(recording.flows, options.speed, options.looping);
    if options.rebase {
        replay = replay.with_played_times();
    }
    match replay.serve(listener, None).await {
        Ok(()) => Ok(exit::OK),
        Err(e) => {
            writeln!(err, "tighten replay: {e}")?;
            Ok(exit::FOUND)
        }
    }
}
