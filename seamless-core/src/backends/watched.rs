//! A file parsed into a value and re-read when its content changes, keeping the
//! last good value when a new version does not parse.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{BackendError, BackendErrorKind};

/// Files larger than this are refused (keytabs and directories are small).
pub(crate) const MAX_WATCHED_BYTES: u64 = 16 << 20;

type Parser<T> = Box<dyn Fn(&[u8], Option<&[u8]>) -> Result<T, BackendError> + Send + Sync>;

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
    /// An optional second file read with the first (a keytab's manifest).
    companion: Option<PathBuf>,
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
        Self::open_with_companion(path, None, what, interval, move |bytes, _| parse(bytes))
    }

    /// Like [`WatchedFile::open`], also reading `companion` when it exists; a
    /// change to either file triggers a reload.
    pub(crate) fn open_with_companion(
        path: &Path,
        companion: Option<PathBuf>,
        what: &'static str,
        interval: Duration,
        parse: impl Fn(&[u8], Option<&[u8]>) -> Result<T, BackendError> + Send + Sync + 'static,
    ) -> Result<Self, BackendError> {
        let bytes = read(path, what)?;
        let extra = read_companion(companion.as_deref())?;
        let value = parse(&bytes, extra.as_deref()).map_err(|e| context(e, what, path))?;
        Ok(Self {
            path: path.to_path_buf(),
            companion,
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
        let read_both = read(&self.path, self.what)
            .and_then(|b| read_companion(self.companion.as_deref()).map(|c| (b, c)));
        let (bytes, extra) = match read_both {
            Ok(both) => both,
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "{} unreadable; keeping the last good version", self.what);
                return state.value.clone();
            }
        };
        let digest = digest(&bytes, extra.as_deref());
        if digest == state.digest {
            return state.value.clone();
        }
        state.digest = digest;
        match (self.parse)(&bytes, extra.as_deref()) {
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

fn digest(bytes: &[u8], companion: Option<&[u8]>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
    if let Some(c) = companion {
        h.update(c);
    }
    h.finalize().into()
}

fn read_companion(path: Option<&Path>) -> Result<Option<Vec<u8>>, BackendError> {
    match path {
        Some(p) if p.exists() => read(p, "companion file").map(Some),
        _ => Ok(None),
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
