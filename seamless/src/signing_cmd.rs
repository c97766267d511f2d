//! `seamless signing-keys list|rotate`: the token signing key file (never prints
//! private key material).

use std::path::Path;
use std::process::ExitCode;

use seamless_core::clock::unix_now;
use seamless_core::token::{SigningAlgorithm, SigningKeys};
use serde_json::{Value, json};

fn rows(keys: &SigningKeys) -> Vec<Value> {
    let mut seen = Vec::new();
    keys.keys()
        .iter()
        .map(|k| {
            // The first key of each algorithm signs; the others only verify.
            let role = if seen.contains(&k.algorithm()) {
                "previous"
            } else {
                seen.push(k.algorithm());
                "signing"
            };
            json!({
                "kid": k.kid(),
                "alg": k.algorithm().name(),
                "created_at": k.created_at(),
                "role": role,
            })
        })
        .collect()
}

fn print(keys: &SigningKeys, as_json: bool) {
    let rows = rows(keys);
    if as_json {
        println!("{}", Value::Array(rows));
        return;
    }
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r["alg"].as_str().unwrap_or_default().to_string(),
                r["role"].as_str().unwrap_or_default().to_string(),
                r["created_at"].as_i64().unwrap_or_default().to_string(),
                r["kid"].as_str().unwrap_or_default().to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        crate::keytab_cmd::table(["alg", "role", "created", "kid"], &cells)
    );
}

/// Lists the keys in a key file.
pub(crate) fn list(path: &Path, as_json: bool) -> Result<ExitCode, String> {
    let keys = SigningKeys::load(path).map_err(|e| e.to_string())?;
    print(&keys, as_json);
    Ok(ExitCode::SUCCESS)
}

/// Adds a new signing key for each algorithm (creating the file if needed);
/// the key it replaces stays published for verification.
pub(crate) fn rotate(path: &Path, algs: &[String], as_json: bool) -> Result<ExitCode, String> {
    let algs: Vec<SigningAlgorithm> = if algs.is_empty() {
        vec![SigningAlgorithm::Rs256]
    } else {
        algs.iter().map(|a| a.parse()).collect::<Result<_, _>>()?
    };
    let mut keys = match SigningKeys::load(path) {
        Ok(k) => k,
        Err(seamless_core::token::KeyError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            SigningKeys::default()
        }
        Err(e) => return Err(e.to_string()),
    };
    for alg in algs {
        keys.rotate(alg, unix_now()).map_err(|e| e.to_string())?;
    }
    keys.save(path).map_err(|e| e.to_string())?;
    print(&keys, as_json);
    Ok(ExitCode::SUCCESS)
}
