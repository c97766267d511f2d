//! A file parsed into a value and re-read when its content changes, keeping the
//! last good value when a new version does not parse.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use crate::error::{BackendError, BackendErrorKind};

/// Files larger than this are refused (keytabs and directories are small).
pub(crate) const MAX_WATCHED_BYTES: u64 = 16 << 20;

type Parser<T> = Box<dyn Fn(&[u8], Option<&[u8]>) -> Result<T, BackendError> + Send + Sync>;

struct State<T> {
    value: Arc<T>,
    digest: [u8; 32],
    checked: Instant,
    /// When [`WatchedFile::reload_now`] last read the file.
    forced: Option<Instant>,
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
                digest: digest(&bytes, extra.as_deref()),
                checked: Instant::now(),
                forced: None,
            }),
        })
    }

    /// The current value, re-reading the file if the interval has passed and it changed.
    pub(crate) fn current(&self) -> Arc<T> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.checked.elapsed() >= self.interval {
            self.reread(&mut state);
        }
        state.value.clone()
    }

    /// Re-reads the file now, without waiting for the interval, unless this was
    /// done less than `min_gap` ago. Returns the new value if the file changed
    /// and parsed.
    pub(crate) fn reload_now(&self, min_gap: Duration) -> Option<Arc<T>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.forced.is_some_and(|t| t.elapsed() < min_gap) {
            return None;
        }
        state.forced = Some(Instant::now());
        self.reread(&mut state).then(|| state.value.clone())
    }

    /// Reads the file; swaps the value if it changed and parses. True if swapped.
    fn reread(&self, state: &mut State<T>) -> bool {
        state.checked = Instant::now();
        let read_both = read(&self.path, self.what)
            .and_then(|b| read_companion(self.companion.as_deref()).map(|c| (b, c)));
        let (bytes, extra) = match read_both {
            Ok(both) => both,
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "{} unreadable; keeping the last good version", self.what);
                return false;
            }
        };
        let digest = digest(&bytes, extra.as_deref());
        if digest == state.digest {
            return false;
        }
        state.digest = digest;
        match (self.parse)(&bytes, extra.as_deref()) {
            Ok(value) => {
                tracing::info!(path = %self.path.display(), "{} reloaded", self.what);
                state.value = Arc::new(value);
                true
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "{} reload failed; keeping the last good version", self.what);
                false
            }
        }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn scratch(name: &str, content: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("seamless-watched-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write");
        path
    }

    fn watched(path: &Path, interval: Duration, parses: Arc<AtomicUsize>) -> WatchedFile<String> {
        WatchedFile::open(path, "test file", interval, move |b| {
            parses.fetch_add(1, Ordering::SeqCst);
            Ok(String::from_utf8_lossy(b).into_owned())
        })
        .expect("open")
    }

    #[test]
    fn an_unchanged_file_is_not_parsed_again() {
        let path = scratch("same", "one");
        let parses = Arc::new(AtomicUsize::new(0));
        let file = watched(&path, Duration::ZERO, parses.clone());
        for _ in 0..3 {
            assert_eq!(file.current().as_str(), "one");
        }
        assert_eq!(parses.load(Ordering::SeqCst), 1, "parsed once, at open");
    }

    #[test]
    fn reload_now_reads_at_once_and_is_rate_limited() {
        let path = scratch("forced", "one");
        let parses = Arc::new(AtomicUsize::new(0));
        let file = watched(&path, Duration::from_secs(3600), parses);
        std::fs::write(&path, "two").expect("write");
        assert_eq!(
            file.current().as_str(),
            "one",
            "the interval has not passed"
        );
        let gap = Duration::from_secs(3600);
        assert_eq!(
            file.reload_now(gap).as_deref().map(String::as_str),
            Some("two")
        );
        assert_eq!(file.current().as_str(), "two");
        std::fs::write(&path, "three").expect("write");
        assert!(file.reload_now(gap).is_none(), "at most once per gap");
        assert_eq!(file.current().as_str(), "two");
        assert!(file.reload_now(Duration::ZERO).is_some());
        assert!(file.reload_now(Duration::ZERO).is_none(), "unchanged");
    }
}
