//! MIT keytab files (format 0x0502), read and written.
//!
//! The file is a version word followed by length-prefixed entries; a negative
//! length marks a hole left by a deleted entry. Each entry is a principal, a
//! timestamp, an 8-bit kvno, a key, and optionally a 32-bit kvno that supersedes
//! the 8-bit one (kvno > 255). All integers are big-endian.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::fmt;

use super::crypto::{Etype, Key};
use super::principal::PrincipalName;

/// A keytab larger than this is refused (real ones are a few KiB).
pub const MAX_KEYTAB_BYTES: usize = 4 << 20;
const MAX_COMPONENTS: u16 = 10;

/// Why a keytab could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeytabError {
    /// Not a 0x0502 keytab.
    #[error("not a keytab (version 0x{0:04x}; only 0x0502 is supported)")]
    Version(u16),
    /// The file ends inside an entry, or a length does not fit.
    #[error("keytab is corrupt at byte {offset}: {what}")]
    Corrupt {
        /// Byte offset of the entry.
        offset: usize,
        /// What did not fit.
        what: &'static str,
    },
    /// Larger than [`MAX_KEYTAB_BYTES`].
    #[error("keytab is larger than {MAX_KEYTAB_BYTES} bytes")]
    TooLarge,
}

/// One keytab entry.
#[derive(Clone)]
pub struct KeytabEntry {
    /// The principal (with realm).
    pub principal: PrincipalName,
    /// When the entry was written (Unix seconds).
    pub timestamp: u32,
    /// Key version number.
    pub kvno: u32,
    /// The key. Entries of types this library does not implement (DES, ...) are
    /// kept as `None` so that a rewrite preserves nothing it cannot use.
    pub key: Result<Key, i32>,
}

impl fmt::Debug for KeytabEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeytabEntry")
            .field("principal", &self.principal.to_string())
            .field("kvno", &self.kvno)
            .field(
                "etype",
                &self.key.as_ref().map(|k| k.etype()).map_err(|n| *n),
            )
            .finish_non_exhaustive()
    }
}

struct In<'a> {
    bytes: &'a [u8],
    pos: usize,
    entry_start: usize,
}

impl<'a> In<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], KeytabError> {
        let end = self.pos.checked_add(n);
        let out = end.and_then(|e| self.bytes.get(self.pos..e));
        match (out, end) {
            (Some(out), Some(end)) => {
                self.pos = end;
                Ok(out)
            }
            _ => Err(KeytabError::Corrupt {
                offset: self.entry_start,
                what,
            }),
        }
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, KeytabError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
        ]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, KeytabError> {
        let b: [u8; 4] = self
            .take(4, what)?
            .try_into()
            .map_err(|_| KeytabError::Corrupt {
                offset: self.entry_start,
                what,
            })?;
        Ok(u32::from_be_bytes(b))
    }
    fn counted(&mut self, what: &'static str) -> Result<&'a [u8], KeytabError> {
        let len = self.u16(what)?;
        self.take(usize::from(len), what)
    }
    fn string(&mut self, what: &'static str) -> Result<String, KeytabError> {
        let raw = self.counted(what)?;
        String::from_utf8(raw.to_vec()).map_err(|_| KeytabError::Corrupt {
            offset: self.entry_start,
            what,
        })
    }
}

/// Parses a keytab.
pub fn parse(bytes: &[u8]) -> Result<Vec<KeytabEntry>, KeytabError> {
    if bytes.len() > MAX_KEYTAB_BYTES {
        return Err(KeytabError::TooLarge);
    }
    let mut input = In {
        bytes,
        pos: 0,
        entry_start: 0,
    };
    let version = input.u16("version")?;
    if version != 0x0502 {
        return Err(KeytabError::Version(version));
    }
    let mut entries = Vec::new();
    while input.pos < bytes.len() {
        input.entry_start = input.pos;
        let size = input.u32("entry size")? as i32;
        if size < 0 {
            input.take(size.unsigned_abs() as usize, "hole")?;
            continue;
        }
        if size == 0 {
            // Trailing zero padding written by some tools.
            break;
        }
        let body = input.take(size as usize, "entry")?;
        let mut e = In {
            bytes: body,
            pos: 0,
            entry_start: input.entry_start,
        };
        let count = e.u16("component count")?;
        if count == 0 || count > MAX_COMPONENTS {
            return Err(KeytabError::Corrupt {
                offset: input.entry_start,
                what: "component count",
            });
        }
        let realm = e.string("realm")?;
        let mut components = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            components.push(e.string("component")?);
        }
        let name_type = e.u32("name type")? as i32;
        let timestamp = e.u32("timestamp")?;
        let kvno8 = e.take(1, "kvno")?.first().copied().unwrap_or(0);
        let keytype = i32::from(e.u16("key type")?);
        let key_bytes = e.counted("key")?;
        let kvno = if body.len().saturating_sub(e.pos) >= 4 {
            match e.u32("kvno32")? {
                0 => u32::from(kvno8),
                k => k,
            }
        } else {
            u32::from(kvno8)
        };
        let key = match Etype::from_number(keytype) {
            Ok(etype) => Key::new(etype, key_bytes)
                .map_err(|_| KeytabError::Corrupt {
                    offset: input.entry_start,
                    what: "key length",
                })
                .map(Ok)?,
            Err(_) => Err(keytype),
        };
        entries.push(KeytabEntry {
            principal: PrincipalName {
                name_type,
                components,
                realm,
            },
            timestamp,
            kvno,
            key,
        });
    }
    Ok(entries)
}

/// Serialises entries as a 0x0502 keytab (with the 32-bit kvno in every entry).
/// Entries without a usable key are skipped.
pub fn write(entries: &[KeytabEntry]) -> Vec<u8> {
    let mut out = vec![0x05, 0x02];
    for entry in entries {
        let Ok(key) = &entry.key else { continue };
        let mut e = Vec::new();
        let counted = |e: &mut Vec<u8>, bytes: &[u8]| {
            e.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            e.extend_from_slice(bytes);
        };
        e.extend_from_slice(&(entry.principal.components.len() as u16).to_be_bytes());
        counted(&mut e, entry.principal.realm.as_bytes());
        for c in &entry.principal.components {
            counted(&mut e, c.as_bytes());
        }
        e.extend_from_slice(&entry.principal.name_type.to_be_bytes());
        e.extend_from_slice(&entry.timestamp.to_be_bytes());
        e.push(entry.kvno.min(255) as u8);
        e.extend_from_slice(&(key.etype().number() as u16).to_be_bytes());
        counted(&mut e, key.expose_secret());
        e.extend_from_slice(&entry.kvno.to_be_bytes());
        out.extend_from_slice(&(e.len() as u32).to_be_bytes());
        out.extend_from_slice(&e);
    }
    out
}
