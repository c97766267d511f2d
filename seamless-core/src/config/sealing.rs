//! The sealing key file.

use std::path::Path;

use super::{ConfigError, err};
use crate::kerberos::OsEntropy;

/// The sealing keys of a key file (created with one key if absent): one base64
/// 32-byte key per line, the first seals, all open.
pub fn sealing_keys(path: &Path) -> Result<Vec<crate::seal::SealingKey>, ConfigError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => zeroize::Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = zeroize::Zeroizing::new([0u8; 32]);
            crate::kerberos::Entropy::fill(&OsEntropy, key.as_mut()).map_err(err)?;
            let line = zeroize::Zeroizing::new(format!("{}\n", b64.encode(key.as_ref())));
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(err)?;
            }
            crate::fs::write_private(path, line.as_bytes())
                .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
            line
        }
        Err(e) => return Err(ConfigError(format!("{}: {e}", path.display()))),
    };
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if lines.len() > 200 {
        return Err(ConfigError(format!(
            "{}: too many sealing keys",
            path.display()
        )));
    }
    // Each key's id comes from the key itself, so adding or retiring keys never
    // renumbers the others (what they sealed keeps opening).
    let keys = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let bytes = zeroize::Zeroizing::new(b64.decode(line).map_err(|_| {
                ConfigError(format!("{}: line {} is not base64", path.display(), i + 1))
            })?);
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                ConfigError(format!(
                    "{}: line {} is not a 32-byte key",
                    path.display(),
                    i + 1
                ))
            })?;
            Ok(crate::seal::SealingKey::from_material(key))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    if keys.is_empty() {
        return Err(ConfigError(format!("{}: no sealing key", path.display())));
    }
    Ok(keys)
}
