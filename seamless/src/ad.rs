//! `seamless ad setup` and `seamless ad rollover`: the service account in Active
//! Directory and its keys, without gaps and without the "rolled twice" trap.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use seamless_core::backends::{
    AccountAdmin, LdapConfig, ServiceAccountInfo, UAC_TRUSTED_FOR_DELEGATION,
    UAC_TRUSTED_TO_AUTH_FOR_DELEGATION,
};
use seamless_core::kerberos::manifest::{ManifestKey, ManifestState, RingManifest};
use seamless_core::kerberos::{
    Entropy, Etype, Key, OsEntropy, PrincipalName, Sid, ad_computer_salt, keytab,
};
use serde_json::json;
use zeroize::Zeroizing;

use crate::keytab_cmd::{
    check_writable, read_keytab, read_manifest, secret_from_stdin, unix_now, write_ring,
};

/// How to reach the domain controller.
#[derive(clap::Args, Clone)]
pub(crate) struct Connection {
    /// The AD realm (DNS domain in capitals), e.g. CONTOSO.COM.
    #[arg(long)]
    realm: String,
    /// The domain controller: ldaps://dc1.contoso.com (or ldap://… with --starttls).
    #[arg(long)]
    dc: String,
    /// Upgrade ldap:// with StartTLS.
    #[arg(long)]
    starttls: bool,
    /// PEM file of the CA that issued the DC's certificate.
    #[arg(long)]
    ca_file: PathBuf,
    /// Name to check the DC's certificate against (when --dc is an address).
    #[arg(long)]
    tls_server_name: Option<String>,
    /// Administrator (UPN or DN) allowed to create computer accounts and reset passwords.
    #[arg(long)]
    admin: String,
    /// Read the administrator's password from standard input (otherwise from
    /// $SEAMLESS_ADMIN_PASSWORD; never from the command line).
    #[arg(long)]
    admin_password_stdin: bool,
    /// Base DN (default: from the realm, DC=contoso,DC=com).
    #[arg(long)]
    base_dn: Option<String>,
    /// The service account's name, without `$`.
    #[arg(long, default_value = "AZUREADSSOACC")]
    name: String,
    /// The keytab (its key-ring manifest sits beside it as `<keytab>.ring.json`).
    #[arg(long)]
    keytab: PathBuf,
    /// Another domain (SID) whose users may sign in with this account's tickets,
    /// e.g. a child domain. The account's own domain is always allowed.
    #[arg(long = "allow-domain", value_name = "SID")]
    allow_domains: Vec<String>,
}

impl Connection {
    fn base_dn(&self) -> String {
        self.base_dn.clone().unwrap_or_else(|| {
            self.realm
                .split('.')
                .map(|p| format!("DC={}", p.to_lowercase()))
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    fn config(&self) -> Result<LdapConfig, String> {
        let password = if self.admin_password_stdin {
            secret_from_stdin("administrator password")?
        } else {
            Zeroizing::new(std::env::var("SEAMLESS_ADMIN_PASSWORD").map_err(|_| {
                "no administrator password: set SEAMLESS_ADMIN_PASSWORD or pass --admin-password-stdin".to_string()
            })?)
        };
        Ok(LdapConfig {
            url: self.dc.clone(),
            starttls: self.starttls,
            ca_file: self.ca_file.clone(),
            tls_server_name: self.tls_server_name.clone(),
            bind_dn: self.admin.clone(),
            bind_password: password.to_string(),
            bind_password_file: None,
            base_dn: self.base_dn(),
            user_filter: String::new(),
            timeout_secs: 10,
            pool_size: 1,
            netbios_domain: None,
        })
    }

    fn account_principal(&self) -> String {
        format!("{}$@{}", self.name, self.realm.to_uppercase())
    }
}

/// Parses `30d`, `10h`, `15m`, `90s`.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("bad duration {text:?} (e.g. 30d, 10h, 15m, 90s)"))?;
    let secs = match unit {
        "d" => n * 86_400,
        "h" => n * 3600,
        "m" => n * 60,
        "s" | "" => n,
        _ => return Err(format!("bad duration unit in {text:?} (d, h, m or s)")),
    };
    Ok(Duration::from_secs(secs))
}

/// A random password of 120 characters from a 64-symbol alphabet (720 bits).
fn random_password() -> Result<Zeroizing<String>, String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = Zeroizing::new([0u8; 120]);
    OsEntropy.fill(bytes.as_mut()).map_err(|e| e.to_string())?;
    Ok(Zeroizing::new(
        bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 63)]))
            .collect(),
    ))
}

fn progress(as_json: bool, text: &str) {
    if !as_json {
        eprintln!("… {text}");
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// Keytab entries for `kvno`: AES256 and AES128 keys from `password` with the
/// computer-account salt, under the account principal and every SPN.
fn entries_for(
    conn: &Connection,
    spns: &[String],
    password: &str,
    kvno: u32,
) -> Result<Vec<keytab::KeytabEntry>, String> {
    let salt = ad_computer_salt(&conn.realm, &format!("{}$", conn.name));
    let mut names: Vec<PrincipalName> = vec![
        conn.account_principal()
            .parse()
            .map_err(|e| format!("{e}"))?,
    ];
    for spn in spns {
        names.push(
            format!("{spn}@{}", conn.realm.to_uppercase())
                .parse()
                .map_err(|e| format!("{e}"))?,
        );
    }
    let mut out = Vec::new();
    for etype in [Etype::Aes256CtsHmacSha196, Etype::Aes128CtsHmacSha196] {
        let key = Key::from_password(etype, password, &salt).map_err(|e| e.to_string())?;
        for name in &names {
            out.push(keytab::KeytabEntry {
                principal: name.clone(),
                timestamp: unix_now() as u32,
                kvno,
                key: Ok(key.clone()),
            });
        }
    }
    Ok(out)
}

fn aliases(conn: &Connection, spns: &[String]) -> Vec<String> {
    spns.iter()
        .map(|s| format!("{s}@{}", conn.realm.to_uppercase()))
        .collect()
}

/// The account's own entries are replaced by `mine`; other accounts' are kept.
fn replace_account(
    existing: Vec<keytab::KeytabEntry>,
    conn: &Connection,
    keep_kvnos: &[u32],
    mine: Vec<keytab::KeytabEntry>,
) -> Vec<keytab::KeytabEntry> {
    let ours: Vec<PrincipalName> = mine.iter().map(|e| e.principal.clone()).collect();
    let account: Option<PrincipalName> = conn.account_principal().parse().ok();
    let mut out: Vec<keytab::KeytabEntry> = existing
        .into_iter()
        .filter(|e| {
            let is_ours = ours.contains(&e.principal) || account.as_ref() == Some(&e.principal);
            !is_ours || keep_kvnos.contains(&e.kvno)
        })
        .collect();
    out.extend(mine);
    out
}

fn hardening_report(info: &ServiceAccountInfo) -> (bool, bool) {
    let aes_only = info.supported_enctypes != 0
        && info.supported_enctypes & 0x7 == 0
        && info.supported_enctypes & 0x18 != 0;
    let delegation = info.user_account_control
        & (UAC_TRUSTED_FOR_DELEGATION | UAC_TRUSTED_TO_AUTH_FOR_DELEGATION)
        != 0
        || info.delegation_configured;
    (aes_only, !delegation)
}

fn account_json(info: &ServiceAccountInfo) -> serde_json::Value {
    let (aes_only, no_delegation) = hardening_report(info);
    json!({
        "dn": info.dn,
        "sam_account_name": info.sam_account_name,
        "kvno": info.kvno,
        "spns": info.spns,
        "msDS-SupportedEncryptionTypes": info.supported_enctypes,
        "aes_only": aes_only,
        "no_delegation": no_delegation,
        "domain_sid": info.domain_sid.as_ref().map(ToString::to_string),
    })
}

/// `seamless ad setup`.
pub(crate) fn setup(
    conn: &Connection,
    hosts: &[String],
    container: Option<&str>,
    force: bool,
    as_json: bool,
) -> Result<ExitCode, String> {
    if hosts.is_empty() {
        return Err(
            "name at least one --host (every name browsers may canonicalise the app's URL to)"
                .into(),
        );
    }
    let spns: Vec<String> = hosts
        .iter()
        .map(|h| format!("HTTP/{}", h.to_lowercase()))
        .collect();
    check_writable(&conn.keytab)?;
    let config = conn.config()?;
    let container = container
        .map(str::to_string)
        .unwrap_or_else(|| format!("CN=Computers,{}", conn.base_dn()));
    let rt = runtime()?;
    progress(
        as_json,
        &format!("connecting to {} as {}", conn.dc, conn.admin),
    );
    let (info, status) = rt.block_on(async {
        let mut admin = AccountAdmin::connect(&config)
            .await
            .map_err(|e| describe(&e))?;
        let sam = format!("{}$", conn.name);
        match admin.find(&sam).await.map_err(|e| describe(&e))? {
            Some(existing) if !force && !holds_keys(conn)? => Err(format!(
                "{} exists but {} holds no key for it (a setup that failed after creating it, \
                 or another host's keytab): pass --force to set a new password and write its keys \
                 here (a keytab elsewhere then stops working), or copy that keytab here",
                existing.dn,
                conn.keytab.display()
            )),
            Some(existing) if !force => Ok::<_, String>((existing, "exists")),
            Some(existing) => {
                progress(as_json, &format!("resetting {} (--force)", existing.dn));
                admin
                    .set_spns(&existing.dn, &spns)
                    .await
                    .map_err(|e| describe(&e))?;
                let password = random_password()?;
                let info = admin
                    .set_password(&existing.dn, &password)
                    .await
                    .map_err(|e| describe(&e))?;
                install_first_key(conn, &info, &spns, &password)?;
                Ok((info, "reset"))
            }
            None => {
                progress(as_json, &format!("creating CN={},{container}", conn.name));
                let password = random_password()?;
                let info = admin
                    .create(&conn.name, &container, &spns, &password)
                    .await
                    .map_err(|e| describe(&e))?;
                install_first_key(conn, &info, &spns, &password).map_err(|e| {
                    format!(
                        "{} was created but its keys could not be written: {e}. Nobody knows its \
                         password: fix the keytab path and run this again with --force (it sets a \
                         new password and writes the keys), or delete the account",
                        info.dn
                    )
                })?;
                Ok((info, "created"))
            }
        }
    })?;
    let (aes_only, no_delegation) = hardening_report(&info);
    if as_json {
        println!(
            "{}",
            json!({ "status": status, "account": account_json(&info), "keytab": conn.keytab.display().to_string() })
        );
    } else {
        match status {
            "exists" => println!(
                "{} already exists (kvno {}); nothing changed. Pass --force to reset its password and rewrite the keytab.",
                info.dn, info.kvno
            ),
            _ => println!(
                "{status} {} (kvno {}); keys written to {}",
                info.dn,
                info.kvno,
                conn.keytab.display()
            ),
        }
        println!("  SPNs: {}", info.spns.join(", "));
        println!(
            "  AES only: {}",
            if aes_only {
                "yes"
            } else {
                "NO: set msDS-SupportedEncryptionTypes = 24"
            }
        );
        println!(
            "  delegation: {}",
            if no_delegation {
                "none"
            } else {
                "CONFIGURED: remove it, the key must not open doors elsewhere"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the keytab's manifest has an entry for the account.
fn holds_keys(conn: &Connection) -> Result<bool, String> {
    let principal = conn.account_principal();
    Ok(read_manifest(&conn.keytab)?.is_some_and(|m| {
        m.accounts
            .iter()
            .any(|a| a.principal.eq_ignore_ascii_case(&principal))
    }))
}

fn install_first_key(
    conn: &Connection,
    info: &ServiceAccountInfo,
    spns: &[String],
    password: &str,
) -> Result<(), String> {
    let existing = read_keytab(&conn.keytab)?;
    let kvno = info.kvno;
    let entries = replace_account(
        existing,
        conn,
        &[],
        entries_for(conn, spns, password, kvno)?,
    );
    let mut manifest = read_manifest(&conn.keytab)?.unwrap_or(RingManifest {
        version: 1,
        accounts: Vec::new(),
    });
    let mut domains: Vec<Sid> = info.domain_sid.iter().cloned().collect();
    for d in &conn.allow_domains {
        domains.push(
            d.parse()
                .map_err(|_| format!("--allow-domain {d:?} is not a SID"))?,
        );
    }
    let account = manifest.account_mut(&conn.account_principal());
    account.aliases = aliases(conn, spns);
    account.domain_sids = domains;
    account.keys = vec![ManifestKey {
        kvno,
        state: ManifestState::Current,
        not_after: None,
    }];
    write_ring(&conn.keytab, &entries, &manifest)
}

fn describe(e: &seamless_core::error::BackendError) -> String {
    let cause = std::error::Error::source(e)
        .map(|s| format!(": {s}"))
        .unwrap_or_default();
    let hint = if cause.contains("Connection refused") || cause.contains("timed out") {
        " (is the DC reachable on that port? LDAPS is 636)"
    } else {
        ""
    };
    format!("{}{cause}{hint}", e.message)
}

/// Timing of a rollover.
pub(crate) struct RolloverTiming {
    pub(crate) max_ticket_lifetime: Duration,
    pub(crate) skew: Duration,
    pub(crate) replication_margin: Duration,
    /// Between installing the next key and changing the password in AD.
    pub(crate) wait_for_servers: Duration,
}

/// `seamless ad rollover`.
pub(crate) fn rollover(
    conn: &Connection,
    emergency: bool,
    if_older_than: Option<Duration>,
    timing: &RolloverTiming,
    as_json: bool,
) -> Result<ExitCode, String> {
    check_writable(&conn.keytab)?;
    let principal = conn.account_principal();
    let mut manifest = read_manifest(&conn.keytab)?
        .filter(|m| {
            m.accounts
                .iter()
                .any(|a| a.principal.eq_ignore_ascii_case(&principal))
        })
        .ok_or_else(|| {
            format!(
                "{} has no key-ring entry for {principal}: run `seamless ad setup` first",
                conn.keytab.display()
            )
        })?;
    let entries = read_keytab(&conn.keytab)?;
    let now = unix_now();
    let account = manifest.account_mut(&principal);
    let current = account
        .keys
        .iter()
        .find(|k| k.state == ManifestState::Current)
        .map(|k| k.kvno)
        .ok_or_else(|| format!("no current key for {principal} in the manifest"))?;
    if let Some(live) = account
        .keys
        .iter()
        .find(|k| k.state == ManifestState::Previous && k.not_after.is_none_or(|t| t > now))
        && !emergency
    {
        let until = live
            .not_after
            .map(|t| format!("until {t} (Unix time, {} min from now)", (t - now) / 60))
            .unwrap_or_else(|| "with no end".into());
        return Err(format!(
            "refusing to roll again: kvno {} is still accepted {until}. Rolling now would drop the key of tickets issued \
             before the last rollover. Wait, or pass --emergency (users with old tickets then fall back to their password \
             until they get new ones: `klist purge`).",
            live.kvno
        ));
    }
    let installed = entries
        .iter()
        .filter(|e| e.kvno == current)
        .map(|e| i64::from(e.timestamp))
        .max()
        .unwrap_or(0);
    if let Some(min_age) = if_older_than
        && now - installed < min_age.as_secs() as i64
    {
        let days = (now - installed) / 86_400;
        if as_json {
            println!(
                "{}",
                json!({ "status": "fresh", "kvno": current, "age_days": days })
            );
        } else {
            println!(
                "kvno {current} is {days} day(s) old: younger than --if-older-than, nothing to do"
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let spns: Vec<String> = account
        .aliases
        .iter()
        .map(|a| {
            a.rsplit_once('@')
                .map(|(n, _)| n.to_string())
                .unwrap_or_else(|| a.clone())
        })
        .collect();
    let config = conn.config()?;
    let rt = runtime()?;
    progress(
        as_json,
        &format!("connecting to {} as {}", conn.dc, conn.admin),
    );
    let result = rt.block_on(async {
        let mut admin = AccountAdmin::connect(&config).await.map_err(|e| describe(&e))?;
        let sam = format!("{}$", conn.name);
        let info = admin.find(&sam).await.map_err(|e| describe(&e))?.ok_or_else(|| format!("{sam} not found in AD"))?;
        if info.kvno != current {
            progress(as_json, &format!("warning: AD says kvno {}, the key ring says {current}; someone changed the password outside seamless", info.kvno));
        }
        // 1. Install the next key before AD knows it.
        let next = info.kvno + 1;
        let password = random_password()?;
        let next_entries = entries_for(conn, &spns, &password, next)?;
        // Keep only the current key beside the new one: anything older is retired.
        let staged = replace_account(read_keytab(&conn.keytab)?, conn, &[current], next_entries);
        {
            let account = manifest.account_mut(&principal);
            account.keys.retain(|k| k.kvno == current);
            account.keys.push(ManifestKey { kvno: next, state: ManifestState::Next, not_after: None });
        }
        write_ring(&conn.keytab, &staged, &manifest)?;
        if !timing.wait_for_servers.is_zero() {
            progress(as_json, &format!("kvno {next} installed as next; waiting {} s for running servers to load it", timing.wait_for_servers.as_secs_f32()));
            std::thread::sleep(timing.wait_for_servers);
        }
        progress(as_json, &format!("kvno {next} is live; setting the new password in AD"));
        // 2. Change the password in AD.
        let after = admin.set_password(&info.dn, &password).await.map_err(|e| describe(&e))?;
        let actual = after.kvno;
        let mut final_entries = staged;
        if actual != next {
            progress(as_json, &format!("AD moved to kvno {actual}, not {next}; relabelling the new keys"));
            final_entries = replace_account(read_keytab(&conn.keytab)?, conn, &[current], entries_for(conn, &spns, &password, actual)?);
        }
        // 3. Promote: new → current, old → previous until its tickets can no longer be valid.
        let not_after = unix_now() + (timing.max_ticket_lifetime + timing.skew + timing.replication_margin).as_secs() as i64;
        {
            let account = manifest.account_mut(&principal);
            account.keys = vec![ManifestKey { kvno: actual, state: ManifestState::Current, not_after: None }];
            if emergency {
                let names: Vec<String> = std::iter::once(principal.clone()).chain(account.aliases.iter().cloned()).collect();
                final_entries.retain(|e| {
                    let name = e.principal.to_string();
                    e.kvno != current || !names.iter().any(|n| n.eq_ignore_ascii_case(&name))
                });
            } else {
                account.keys.push(ManifestKey { kvno: current, state: ManifestState::Previous, not_after: Some(not_after) });
            }
        }
        write_ring(&conn.keytab, &final_entries, &manifest)?;
        Ok::<_, String>((current, actual, not_after))
    })?;
    let (old, new, not_after) = result;
    if as_json {
        println!(
            "{}",
            json!({ "status": "rolled", "previous": if emergency { None } else { Some(old) }, "current": new, "previous_not_after": if emergency { None } else { Some(not_after) }, "emergency": emergency })
        );
    } else if emergency {
        println!(
            "rolled to kvno {new}; kvno {old} dropped at once (--emergency). Tickets issued under it fail until users get new ones (up to the ticket lifetime, or `klist purge`)."
        );
    } else {
        println!(
            "rolled to kvno {new}; kvno {old} stays accepted until {not_after} (Unix time), then retires. The next rollover is possible after that."
        );
    }
    Ok(ExitCode::SUCCESS)
}
