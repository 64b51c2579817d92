//! Output that a closed pipe silences instead of failing.
//!
//! `tighten simulate ... | head -1` closes the pipe after one line. That is
//! not an error: the command runs to its end, says nothing more, and exits
//! with its own status (1 still means "something dropped").

use std::io::{self, Write};

/// A writer that, once its reader has gone, swallows what is left.
pub struct ClosedPipeQuiet<W> {
    inner: W,
    closed: bool,
}

impl<W> ClosedPipeQuiet<W> {
    pub fn new(inner: W) -> ClosedPipeQuiet<W> {
        ClosedPipeQuiet { inner, closed: false }
    }

    /// Whether the reader went away.
    pub fn closed(&self) -> bool {
        self.closed
    }
}

impl<W: Write> Write for ClosedPipeQuiet<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that reads `capacity` bytes, then closes.
    struct Head {
        capacity: usize,
        got: Vec<u8>,
    }

    impl Write for Head {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.got.len() >= self.capacity {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            }
            self.got.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_output_quietly_and_other_errors_still_fail() {
        let mut out = ClosedPipeQuiet::new(Head {
            capacity: 5,
            got: Vec::new(),
        });
        for _ in 0..10 {
            writeln!(out, "line").expect("a closed pipe is not an error");
        }
        assert!(out.closed());
        assert_eq!(out.inner.got, b"line\n");

        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(writeln!(ClosedPipeQuiet::new(Full), "x").is_err());
    }
}
