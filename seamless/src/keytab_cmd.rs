//! `seamless keytab list|derive|merge`, and atomic keytab/manifest writes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use seamless_core::backends::manifest_path;
use seamless_core::kerberos::manifest::{self, RingManifest};
use seamless_core::kerberos::{Etype, Key, KeyRing, PrincipalName, keytab};
use serde_json::{Value, json};

/// Writes `bytes` to `path` through an owner-only temporary file and a rename, so
/// a reader (the running server) never sees half a file and nobody else sees it at all.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    seamless_core::fs::write_private(path, bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Rows under a header, each column as wide as its widest cell (the last one
/// unpadded).
pub(crate) fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; N]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(header);
    for row in rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

/// Fails unless the keytab (and its manifest) can be read and written: checked
/// before anything changes in AD, so no account is left with keys nobody holds.
pub(crate) fn check_writable(keytab_path: &Path) -> Result<(), String> {
    let check = || {
        read_keytab(keytab_path)?;
        read_manifest(keytab_path)?;
        let mut probe = keytab_path.as_os_str().to_os_string();
        probe.push(".seamless-probe");
        let probe = PathBuf::from(probe);
        write_atomically(&probe, b"")?;
        let _ = std::fs::remove_file(&probe);
        Ok::<_, String>(())
    };
    check().map_err(|e| format!("the keytab cannot be used ({e}); nothing was changed in AD"))
}

/// Reads a keytab, or an empty list when it does not exist yet.
pub(crate) fn read_keytab(path: &Path) -> Result<Vec<keytab::KeytabEntry>, String> {
    match std::fs::read(path) {
        Ok(bytes) => keytab::parse(&bytes).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Reads the key-ring manifest beside `keytab`, if any.
pub(crate) fn read_manifest(keytab: &Path) -> Result<Option<RingManifest>, String> {
    let path = manifest_path(keytab);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes the keytab, then its manifest (a server reloading in between sees the
/// new keys without their state, which only makes it stricter).
pub(crate) fn write_ring(
    keytab_path: &Path,
    entries: &[keytab::KeytabEntry],
    manifest: &RingManifest,
) -> Result<(), String> {
    write_atomically(keytab_path, &keytab::write(entries))?;
    let text = serde_json::to_vec_pretty(manifest).map_err(|e| e.to_string())?;
    write_atomically(&manifest_path(keytab_path), &text)
}

/// Reads a secret from standard input (first line, without the newline).
pub(crate) fn secret_from_stdin(what: &str) -> Result<zeroize::Zeroizing<String>, String> {
    let mut s = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| format!("reading {what} from standard input: {e}"))?;
    let line = zeroize::Zeroizing::new(s.lines().next().unwrap_or_default().to_string());
    if line.is_empty() {
        return Err(format!("no {what} on standard input"));
    }
    Ok(line)
}

pub(crate) use seamless_core::clock::unix_now;

/// `seamless hash-password`: an argon2id hash of the password on standard input.
pub(crate) fn hash_password(as_json: bool) -> Result<ExitCode, String> {
    let password = secret_from_stdin("password")?;
    let hash = seamless_core::backends::hash_password(&password).map_err(|e| e.to_string())?;
    if as_json {
        println!("{}", serde_json::json!({ "password_hash": hash }));
    } else {
        println!("{hash}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Derives keys from a password and appends them to a keytab.
pub(crate) fn derive(
    out: &Path,
    principal: &str,
    salt: Option<&str>,
    etypes: &[String],
    kvno: u32,
    as_json: bool,
) -> Result<ExitCode, String> {
    let principal: PrincipalName = principal
        .parse()
        .map_err(|e: seamless_core::kerberos::PrincipalParseError| e.to_string())?;
    let salt = salt
        .map(str::to_string)
        .unwrap_or_else(|| seamless_core::kerberos::principal_salt(&principal));
    let password = secret_from_stdin("password")?;
    let etypes: Vec<Etype> = if etypes.is_empty() {
        vec![Etype::Aes256CtsHmacSha196, Etype::Aes128CtsHmacSha196]
    } else {
        etypes
            .iter()
            .map(|e| Etype::from_name(e).ok_or_else(|| format!("unknown encryption type {e:?}")))
            .collect::<Result<_, _>>()?
    };
    let mut entries = read_keytab(out)?;
    for etype in &etypes {
        let key = Key::from_password(*etype, &password, &salt).map_err(|e| e.to_string())?;
        entries.retain(|e| {
            !(e.principal == principal
                && e.kvno == kvno
                && e.key.as_ref().is_ok_and(|k| k.etype() == *etype))
        });
        entries.push(keytab::KeytabEntry {
            principal: principal.clone(),
            timestamp: unix_now() as u32,
            kvno,
            key: Ok(key),
        });
    }
    write_atomically(out, &keytab::write(&entries))?;
    let names: Vec<&str> = etypes.iter().map(|e| e.name()).collect();
    if as_json {
        println!(
            "{}",
            json!({ "keytab": out.display().to_string(), "principal": principal.to_string(), "kvno": kvno, "salt": salt, "etypes": names })
        );
    } else {
        println!(
            "wrote {} key(s) for {principal} kvno {kvno} (salt {salt:?}) to {}",
            names.len(),
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Merges keytabs into `out` (later inputs win on the same principal, kvno and type).
pub(crate) fn merge(out: &Path, inputs: &[PathBuf], as_json: bool) -> Result<ExitCode, String> {
    let mut merged: Vec<keytab::KeytabEntry> = Vec::new();
    for input in inputs {
        let bytes =
            std::fs::read(input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
        for entry in keytab::parse(&bytes).map_err(|e| format!("{}: {e}", input.display()))? {
            let etype = entry.key.as_ref().map(|k| k.etype()).map_err(|n| *n);
            merged.retain(|m| {
                !(m.principal == entry.principal
                    && m.kvno == entry.kvno
                    && m.key.as_ref().map(|k| k.etype()).map_err(|n| *n) == etype)
            });
            merged.push(entry);
        }
    }
    write_atomically(out, &keytab::write(&merged))?;
    if as_json {
        println!(
            "{}",
            json!({ "keytab": out.display().to_string(), "entries": merged.len() })
        );
    } else {
        println!("wrote {} entries to {}", merged.len(), out.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn list(path: &Path, as_json: bool) -> Result<ExitCode, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let entries = keytab::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let manifest = read_manifest(path)?;
    let ring: KeyRing =
        manifest::key_ring(&entries, manifest.as_ref()).map_err(|e| e.to_string())?;
    let state_of = |principal: &PrincipalName, kvno: u32| -> &'static str {
        ring.accounts()
            .iter()
            .filter(|a| a.names().iter().any(|n| n == principal))
            .flat_map(|a| a.keys())
            .find(|k| k.kvno() == kvno)
            .map(|k| match k.state() {
                seamless_core::kerberos::KeyState::Previous { not_after: Some(t) }
                    if t < unix_now() =>
                {
                    "expired"
                }
                s => s.name(),
            })
            .unwrap_or("unused")
    };
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "principal": e.principal.to_string(),
                "kvno": e.kvno,
                "etype": match &e.key { Ok(k) => k.etype().name().to_string(), Err(n) => format!("unsupported ({n})") },
                "state": state_of(&e.principal, e.kvno),
                "timestamp": e.timestamp,
            })
        })
        .collect();
    if as_json {
        println!("{}", Value::Array(rows));
    } else {
        let cells: Vec<[String; 4]> = rows
            .iter()
            .map(|r| {
                [
                    r["kvno"].as_u64().unwrap_or_default().to_string(),
                    r["etype"].as_str().unwrap_or_default().to_string(),
                    r["state"].as_str().unwrap_or_default().to_string(),
                    r["principal"].as_str().unwrap_or_default().to_string(),
                ]
            })
            .collect();
        print!(
            "{}",
            table(["kvno", "encryption", "state", "principal"], &cells)
        );
    }
    Ok(ExitCode::SUCCESS)
}
