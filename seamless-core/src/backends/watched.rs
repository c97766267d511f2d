//! A file parsed into a value and re-read when its content changes, keeping the
//! last good value when a new version does not parse.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{BackendError, BackendErrorKind};

/// Files larger than this are refused (keytabs and directories are small).
pub(crate) const MAX_WATCHED_BYTES: u64 = 16 << 20;

type Parser<T> = Box<dyn Fn(&[u8]) -> Result<T, BackendError> + Send + Sync>;

struct State<T> {
    value: Arc<T>,
    digest: [u8; 32],
    checked: Instant,
}

/// A parsed file that follows changes on disk.
///
/// The content is hashed at most once per interval: unlike (mtime, size), a digest
/// cannot miss a same-size file replaced within one timestamp tick.
pub(crate) struct WatchedFile<T> {
    path: PathBuf,
    what: &'static str,
    interval: Duration,
    parse: Parser<T>,
    state: Mutex<State<T>>,
}

impl<T: Send + Sync> WatchedFile<T> {
    /// Reads and parses `path` now; fails if either fails.
    pub(crate) fn open(
        path: &Path,
        what: &'static str,
        interval: Duration,
        parse: impl Fn(&[u8]) -> Result<T, BackendError> + Send + Sync + 'static,
    ) -> Result<Self, BackendError> {
        let bytes = read(path, what)?;
        let value = parse(&bytes).map_err(|e| context(e, what, path))?;
        Ok(Self {
            path: path.to_path_buf(),
            what,
            interval,
            parse: Box::new(parse),
            state: Mutex::new(State {
                value: Arc::new(value),
                digest: Sha256::digest(&bytes).into(),
                checked: Instant::now(),
            }),
        })
    }

    /// The current value, re-reading the file if the interval has passed and it changed.
    pub(crate) fn current(&self) -> Arc<T> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.checked.elapsed() < self.interval {
            return state.value.clone();
        }
        state.checked = Instant::now();
        let bytes = match read(&self.path, self.what) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "{} unreadable; keeping the last good version", self.what);
                return state.value.clone();
            }
        };
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        if digest == state.digest {
            return state.value.clone();
        }
        state.digest = digest;
        match (self.parse)(&bytes) {
            Ok(value) => {
                tracing::info!(path = %self.path.display(), "{} reloaded", self.what);
                state.value = Arc::new(value);
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "{} reload failed; keeping the last good version", self.what);
            }
        }
        state.value.clone()
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, BackendError> {
    let unavailable = |e: std::io::Error| {
        BackendError::unavailable(format!("cannot read {what} {}", path.display())).with_source(e)
    };
    let meta = std::fs::metadata(path).map_err(unavailable)?;
    if meta.len() > MAX_WATCHED_BYTES {
        return Err(BackendError::corrupt(format!(
            "{what} {} is larger than {MAX_WATCHED_BYTES} bytes",
            path.display()
        )));
    }
    std::fs::read(path).map_err(unavailable)
}

fn context(e: BackendError, what: &str, path: &Path) -> BackendError {
    match e.kind {
        BackendErrorKind::Corrupt if !e.message.contains(&path.display().to_string()) => {
            BackendError {
                message: format!("{what} {} is invalid: {}", path.display(), e.message),
                ..e
            }
        }
        _ => e,
    }
}
