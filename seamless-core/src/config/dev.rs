//! The dev realm and the demo users: what runs when nothing is configured.

use std::path::Path;

use super::{ConfigError, err};
use crate::backends::hash_password;
use crate::clock::unix_now;
use crate::kerberos::{Etype, Key, KeyRing, OsEntropy, PrincipalName, keytab};

/// The dev realm.
pub const DEV_REALM: &str = "DEV.SEAMLESS.TEST";
/// The dev realm's service principal (without realm).
pub const DEV_SERVICE: &str = "HTTP/localhost";
/// The dev realm's domain SID (demo users are RIDs in it).
pub const DEV_DOMAIN_SID: &str = "S-1-5-21-3623811015-3361044348-30300820";
/// The demo users' UPN domain.
pub const DEV_UPN_DOMAIN: &str = "dev.seamless.test";
/// The demo users' password.
pub const DEMO_PASSWORD: &str = "Passw0rd!";
/// The demo users' TOTP secret (base32).
pub const DEMO_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// The OIDC client the dev client uses.
pub const DEV_CLIENT_ID: &str = "seamless-dev-client";
/// Its redirect URI (never fetched: the dev client reads the code from `Location`).
pub const DEV_CLIENT_REDIRECT: &str = "http://localhost/dev-client/callback";

/// A demo user: login name, RID, display name, groups.
pub const DEMO_USERS: &[(&str, u32, &str, &[&str])] = &[
    ("alice", 1105, "Alice Example", &["staff"]),
    ("bob", 1106, "Bob Example", &["staff", "mfa"]),
];

/// The API the dev client's access tokens are for: the example apps' `/api`.
pub fn dev_api_audience(origin: &str) -> String {
    format!("{origin}/api")
}

/// A fresh dev-realm key, written to `keytab_out` (owner-only).
pub(super) fn dev_realm(keytab_out: &Path) -> Result<KeyRing, ConfigError> {
    let mut material = [0u8; 32];
    crate::kerberos::Entropy::fill(&OsEntropy, &mut material).map_err(err)?;
    let key = Key::new(Etype::Aes256CtsHmacSha196, &material).map_err(err)?;
    let principal: PrincipalName = format!("{DEV_SERVICE}@{DEV_REALM}").parse().map_err(err)?;
    let entry = keytab::KeytabEntry {
        principal,
        timestamp: unix_now().max(0) as u32,
        kvno: 1,
        key: Ok(key),
    };
    if let Some(dir) = keytab_out.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let entries = [entry];
    crate::fs::write_private(keytab_out, &keytab::write(&entries))
        .map_err(|e| ConfigError(format!("{}: {e}", keytab_out.display())))?;
    KeyRing::from_keytab(&entries).map_err(err)
}

/// The demo users as a [`StaticDirectory`] file.
pub(super) fn demo_directory() -> Result<String, ConfigError> {
    let hash = hash_password(DEMO_PASSWORD).map_err(err)?;
    let mut out = String::new();
    for (name, rid, display, groups) in DEMO_USERS {
        let mfa = if groups.contains(&"mfa") {
            "mfa = [\"totp\"]\n"
        } else {
            ""
        };
        out.push_str(&format!(
            "[[users]]\nid = \"demo-{name}\"\nupn = \"{name}@{DEV_UPN_DOMAIN}\"\ndisplay_name = \"{display}\"\n\
             sid = \"{DEV_DOMAIN_SID}-{rid}\"\ngroups = {groups:?}\nalternate_logins = [\"DEV\\\\{name}\"]\n\
             password_hash = \"{hash}\"\ntotp_secret = \"{DEMO_TOTP_SECRET}\"\n{mfa}\n"
        ));
    }
    Ok(out)
}
