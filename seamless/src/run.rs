//! `seamless validate` and `seamless dev`, and how a validated ticket is printed.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use seamless_core::backends::{KeytabFileKeyStore, parse_alias};
use seamless_core::kerberos::{Acceptor, AcceptorConfig, Etype, KeyState, ValidatedTicket};
use seamless_core::testkit::{PacSpec, TestKdc, TicketSpec};
use serde_json::{Value, json};

/// Reads a token argument, or standard input for `-` / none.
pub(crate) fn token_arg(token: Option<String>) -> Result<String, String> {
    match token.as_deref() {
        Some("-") | None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("reading standard input: {e}"))?;
            Ok(s)
        }
        Some(t) => Ok(t.to_string()),
    }
}

/// Strips `Authorization:` and `Negotiate` prefixes so a pasted header works.
pub(crate) fn bare_token(input: &str) -> &str {
    let t = input.trim();
    let t = t.strip_prefix("Authorization:").map(str::trim).unwrap_or(t);
    t.strip_prefix("Negotiate").map(str::trim).unwrap_or(t)
}

pub(crate) fn validate(
    keytab_path: &PathBuf,
    aliases: &[String],
    allow_rc4: bool,
    require_pac: bool,
    token: Option<String>,
    as_json: bool,
) -> Result<ExitCode, String> {
    let aliases = aliases
        .iter()
        .map(|a| parse_alias(a).map_err(|e| format!("--alias {e}")))
        .collect::<Result<Vec<_>, String>>()?;
    let store =
        KeytabFileKeyStore::open_with(keytab_path, aliases, std::time::Duration::from_secs(5))
            .map_err(|e| e.message)?;
    let token = token_arg(token)?;
    let acceptor = Acceptor::new(AcceptorConfig {
        allow_rc4,
        require_pac,
        ..Default::default()
    });
    match acceptor.validate(
        bare_token(&token).as_bytes(),
        &store.current(),
        SystemTime::now(),
    ) {
        Ok(t) => {
            print_ticket(&t, as_json);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if as_json {
                println!(
                    "{}",
                    json!({ "valid": false, "code": e.code(), "reason": e.reason(), "rfc": e.rfc_name(), "message": e.to_string() })
                );
            } else {
                println!("rejected: {e}");
                println!(
                    "  code {} ({}){}",
                    e.code(),
                    e.reason(),
                    e.rfc_name().map(|n| format!(", {n}")).unwrap_or_default()
                );
            }
            Ok(ExitCode::from(1))
        }
    }
}

pub(crate) fn ticket_json(t: &ValidatedTicket) -> Value {
    let pac = t.pac.as_ref().map(|p| {
        json!({
            "user_sid": p.user_sid().map(ToString::to_string),
            "groups": p.group_sids().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "upn": p.upn_dns_info.as_ref().map(|u| u.upn.clone()),
            "dns_domain": p.upn_dns_info.as_ref().map(|u| u.dns_domain.clone()),
            "account": p.logon_info.as_ref().map(|l| l.effective_name.clone()),
            "display_name": p.logon_info.as_ref().map(|l| l.full_name.clone()),
            "domain": p.logon_info.as_ref().map(|l| l.logon_domain_name.clone()),
            "buffers": p.buffer_types,
        })
    });
    json!({
        "valid": true,
        "client": t.client.to_string(),
        "service": t.service.to_string(),
        "mechanism": format!("{:?}", t.mechanism),
        "etype": t.etype.name(),
        "kvno": t.kvno,
        "key_state": t.key_state.name(),
        "auth_time": t.auth_time,
        "end_time": t.end_time,
        "mutual": t.gss_flags.mutual(),
        "pac": pac,
    })
}

pub(crate) fn print_ticket(t: &ValidatedTicket, as_json: bool) {
    if as_json {
        println!("{}", ticket_json(t));
        return;
    }
    println!("valid ticket");
    println!("  client      {}", t.client);
    println!("  service     {}", t.service);
    println!(
        "  encryption  {} (kvno {}, {} key)",
        t.etype,
        t.kvno,
        t.key_state.name()
    );
    println!("  valid until {} (Unix seconds)", t.end_time);
    match &t.pac {
        Some(p) => {
            if let Some(sid) = p.user_sid() {
                println!("  user SID    {sid}");
            }
            if let Some(u) = &p.upn_dns_info {
                println!("  UPN         {}", u.upn);
            }
            if let Some(l) = &p.logon_info {
                println!(
                    "  account     {}\\{} ({})",
                    l.logon_domain_name, l.effective_name, l.full_name
                );
            }
            let groups = p.group_sids();
            if !groups.is_empty() {
                println!(
                    "  groups      {}",
                    groups
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        None => println!("  PAC         none (identity from the principal name)"),
    }
}

pub(crate) fn dev(
    keytab_out: Option<PathBuf>,
    user: &str,
    as_json: bool,
) -> Result<ExitCode, String> {
    let realm = seamless_core::config::DEV_REALM;
    let kdc = TestKdc::new(
        realm,
        seamless_core::config::DEV_SERVICE,
        Etype::Aes256CtsHmacSha196,
    );
    let path = keytab_out.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("seamless-dev-{}.keytab", std::process::id()))
    });
    write_new_private(&path, &kdc.keytab())?;
    let say = |step: &str| {
        if !as_json {
            println!("{step}");
        }
    };
    say(&format!(
        "1. dev realm {realm}: service HTTP/localhost, aes256 key at kvno {}, keytab {}",
        kdc.kvno(),
        path.display()
    ));

    let domain = "S-1-5-21-3623811015-3361044348-30300820"
        .parse()
        .map_err(|_| "bad dev SID".to_string())?;
    let now = SystemTime::now();
    let mut pac = PacSpec::new(domain, 1105).with_upn(&format!("{user}@dev.seamless.test"));
    pac.logon_domain_name = "DEV".into();
    pac.full_name = format!("{user} (dev realm)");
    pac.dns_domain = "dev.seamless.test".into();
    let minted = kdc
        .mint(&TicketSpec::new(user, now).with_pac(pac))
        .map_err(|e| e.to_string())?;
    say(&format!(
        "2. minted a service ticket for {user}@{realm} with an AD-style PAC, wrapped in SPNEGO ({} bytes base64)",
        minted.token.len()
    ));
    say(&format!(
        "   Authorization: Negotiate {}…",
        &minted.token[..48.min(minted.token.len())]
    ));

    let store = KeytabFileKeyStore::open(&path).map_err(|e| e.to_string())?;
    let ring = store.current();
    let account = ring
        .accounts()
        .first()
        .map(|a| a.keys().iter().any(|k| k.state() == KeyState::Current))
        .unwrap_or(false);
    say(&format!(
        "3. loaded the keytab back: {} account(s), current key present: {account}",
        ring.accounts().len()
    ));
    let acceptor = Acceptor::default();
    let ticket = acceptor
        .validate(minted.token.as_bytes(), &ring, now)
        .map_err(|e| format!("{e} (code {})", e.code()))?;
    say(
        "4. validated through the acceptor (SPNEGO → AP-REQ → ticket → authenticator → PAC signature):",
    );
    if as_json {
        println!(
            "{}",
            json!({ "keytab": path.display().to_string(), "ticket": ticket_json(&ticket), "token": minted.token })
        );
    } else {
        print_ticket(&ticket, false);
        println!(
            "\nTry it yourself: seamless validate --keytab {} '{}'",
            path.display(),
            minted.token
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Creates `path` exclusively (never following or replacing an existing file or
/// link) with owner-only permissions, and writes `bytes` to it.
fn write_new_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "{} already exists; choose another --keytab-out",
                path.display()
            )
        } else {
            format!("cannot create {}: {e}", path.display())
        }
    })?;
    file.write_all(bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `seamless dev client`: a whole sign-in against a running demo app.
pub(crate) fn dev_client(
    url: &str,
    keytab: Option<PathBuf>,
    user: &str,
    as_json: bool,
) -> Result<ExitCode, String> {
    let keytab =
        keytab.unwrap_or_else(|| seamless_core::config::Settings::default().dev.keytab_out);
    let walk = seamless_core::testkit::dev_client::walk(url, &keytab, user)?;
    if as_json {
        let steps: Vec<serde_json::Value> = walk
            .steps
            .iter()
            .map(|s| serde_json::json!({"request": s.request, "outcome": s.outcome}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"steps": steps, "id_token": walk.id_claims, "greeting": walk.greeting, "api": walk.api})
        );
    } else {
        for (i, step) in walk.steps.iter().enumerate() {
            println!("{}. {}\n   → {}", i + 1, step.request, step.outcome);
        }
        println!(
            "ID token claims:\n{}",
            serde_json::to_string_pretty(&walk.id_claims).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}
