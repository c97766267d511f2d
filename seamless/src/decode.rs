//! `seamless decode`: what a captured `Authorization: Negotiate` header says, and
//! with a keytab, the decrypted ticket, its PAC, and which check fails now.

use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use seamless_core::kerberos::inspect::inspect;
use seamless_core::kerberos::manifest;
use seamless_core::kerberos::{AcceptorConfig, Etype, KeyRing};
use serde_json::json;

use crate::keytab_cmd::{read_keytab, read_manifest};
use crate::run::{bare_token, ticket_json, token_arg};

pub(crate) fn decode(
    token: Option<String>,
    keytab: Option<&Path>,
    at: Option<i64>,
    as_json: bool,
) -> Result<ExitCode, String> {
    let token = token_arg(token)?;
    let ring: Option<KeyRing> = match keytab {
        Some(path) => {
            let entries = read_keytab(path)?;
            if entries.is_empty() {
                return Err(format!("{} holds no keys", path.display()));
            }
            Some(
                manifest::key_ring(&entries, read_manifest(path)?.as_ref())
                    .map_err(|e| e.to_string())?,
            )
        }
        None => None,
    };
    let now = match at {
        Some(secs) => SystemTime::UNIX_EPOCH
            .checked_add(std::time::Duration::from_secs(
                u64::try_from(secs)
                    .map_err(|_| format!("--now {secs}: a time after 1970 (Unix seconds)"))?,
            ))
            .ok_or_else(|| format!("--now {secs}: out of range"))?,
        None => SystemTime::now(),
    };
    let report = inspect(
        bare_token(&token).as_bytes(),
        ring.as_ref(),
        &AcceptorConfig::default(),
        now,
    );
    let etype_name = report.etype.map(|n| {
        Etype::from_number(n)
            .map(|e| e.name().to_string())
            .unwrap_or_else(|_| format!("{n} (unsupported)"))
    });
    let ticket = report.ticket.as_ref().map(|t| {
        let pac = t.pac.as_ref().map(|p| match p {
            Ok(pac) => json!({
                "verified": true,
                "user_sid": pac.user_sid().map(ToString::to_string),
                "groups": pac.group_sids().iter().map(ToString::to_string).collect::<Vec<_>>(),
                "upn": pac.upn_dns_info.as_ref().map(|u| u.upn.clone()),
                "buffers": pac.buffer_types,
            }),
            Err(e) => json!({ "verified": false, "error": e.to_string() }),
        });
        json!({
            "client": t.client,
            "auth_time": t.auth_time,
            "start_time": t.start_time,
            "end_time": t.end_time,
            "renew_till": t.renew_till,
            "flags": format!("{:#010x}", t.flags),
            "session_etype": t.session_etype,
            "pac": pac,
        })
    });
    let verdict = match &report.verdict {
        Ok(t) => json!({ "valid": true, "ticket": ticket_json(t) }),
        Err(e) => {
            json!({ "valid": false, "code": e.code(), "reason": e.reason(), "rfc": e.rfc_name(), "message": e.to_string() })
        }
    };
    let out = json!({
        "mechanism": report.mechanism.map(|m| format!("{m:?}")),
        "service": report.service,
        "etype": etype_name,
        "kvno": report.kvno,
        "ap_options": report.ap_options.map(|o| format!("{o:#010x}")),
        "ticket": ticket,
        "verdict": verdict,
        "judged_at": now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "keytab": keytab.map(|p| p.display().to_string()),
    });
    if as_json {
        println!("{out}");
    } else {
        println!(
            "mechanism  {}",
            out["mechanism"]
                .as_str()
                .unwrap_or("(not a Kerberos Negotiate token)")
        );
        if let Some(service) = &report.service {
            println!("service    {service}");
            println!(
                "ticket     {} kvno {}",
                out["etype"].as_str().unwrap_or("?"),
                report
                    .kvno
                    .map(|k| k.to_string())
                    .unwrap_or_else(|| "(none)".into())
            );
        }
        match &report.ticket {
            Some(t) => {
                println!("client     {}", t.client);
                println!(
                    "times      auth {} start {} end {} (Unix seconds)",
                    t.auth_time,
                    t.start_time.unwrap_or(t.auth_time),
                    t.end_time
                );
                match &t.pac {
                    Some(Ok(pac)) => {
                        println!("PAC        server signature verified");
                        if let Some(sid) = pac.user_sid() {
                            println!("user SID   {sid}");
                        }
                        if let Some(upn) = &pac.upn_dns_info {
                            println!("UPN        {}", upn.upn);
                        }
                        let groups = pac.group_sids();
                        if !groups.is_empty() {
                            println!(
                                "groups     {}",
                                groups
                                    .iter()
                                    .map(ToString::to_string)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            );
                        }
                    }
                    Some(Err(e)) => println!("PAC        INVALID: {e}"),
                    None => println!("PAC        none"),
                }
            }
            None if keytab.is_some() && report.service.is_some() => {
                println!("decrypt    no key in the keytab opens this ticket")
            }
            None if report.service.is_some() => {
                println!("decrypt    no --keytab given: the ticket stays encrypted")
            }
            None => {}
        }
        let when = if at.is_some() { "at --now" } else { "now" };
        match &report.verdict {
            Ok(_) => println!("verdict    valid {when}"),
            Err(e) => println!(
                "verdict    refused {when}: {e} (code {}, {}{})",
                e.code(),
                e.reason(),
                e.rfc_name().map(|n| format!(", {n}")).unwrap_or_default()
            ),
        }
    }
    Ok(if report.verdict.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
