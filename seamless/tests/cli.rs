//! The CLI as an operator runs it.

use std::process::Command;

fn seamless(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(args)
        .output()
        .expect("run seamless");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("seamless-cli-{}-{name}", std::process::id()))
}

#[test]
fn dev_mints_and_validates_then_validate_and_list_agree() {
    let keytab = temp("dev.keytab");
    let (code, out, err) = seamless(&[
        "dev",
        "--json",
        "--user",
        "carol",
        "--keytab-out",
        keytab.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["ticket"]["client"], "carol@DEV.SEAMLESS.TEST");
    assert_eq!(
        v["ticket"]["pac"]["user_sid"],
        "S-1-5-21-3623811015-3361044348-30300820-1105"
    );
    assert_eq!(v["ticket"]["pac"]["upn"], "carol@dev.seamless.test");

    let (code, out, _) = seamless(&["keytab", "list", "--json", keytab.to_str().expect("utf8")]);
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(rows[0]["principal"], "HTTP/localhost@DEV.SEAMLESS.TEST");
    assert_eq!(
        (rows[0]["kvno"].as_u64(), rows[0]["state"].as_str()),
        (Some(2), Some("current"))
    );
    assert!(!out.contains("key\""), "never prints key bytes: {out}");
    let _ = std::fs::remove_file(keytab);
}

#[test]
fn validate_reports_codes_for_bad_tokens_and_errors_for_bad_keytabs() {
    let keytab = temp("v.keytab");
    let (code, _, err) = seamless(&["dev", "--keytab-out", keytab.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = seamless(&["dev", "--keytab-out", keytab.to_str().expect("utf8")]);
    assert_eq!(code, 2, "never overwrites: {err}");
    assert!(err.contains("already exists"), "{err}");
    let k = keytab.to_str().expect("utf8");
    let (code, out, _) = seamless(&[
        "validate",
        "--json",
        "--keytab",
        k,
        "Authorization: Negotiate TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(
        (
            v["valid"].as_bool(),
            v["code"].as_u64(),
            v["reason"].as_str()
        ),
        (Some(false), Some(81005), Some("ntlm"))
    );

    let (code, out, _) = seamless(&["validate", "--keytab", k, "Negotiate !!!"]);
    assert_eq!(code, 1);
    assert!(out.contains("81009"), "{out}");

    let missing = temp("missing.keytab");
    let (code, _, err) = seamless(&[
        "validate",
        "--keytab",
        missing.to_str().expect("utf8"),
        "abc",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read keytab"), "{err}");
    let garbage = temp("garbage.keytab");
    std::fs::write(&garbage, b"\x05\x02\x00\x00\x00\x30garbage").expect("write");
    let (code, _, err) = seamless(&[
        "validate",
        "--keytab",
        garbage.to_str().expect("utf8"),
        "abc",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("invalid") && err.contains("corrupt at byte"),
        "{err}"
    );
    for f in [keytab, garbage] {
        let _ = std::fs::remove_file(f);
    }
}

fn seamless_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn derived_keys_validate_tickets_and_merge_keeps_both_services() {
    use seamless_core::kerberos::{Etype, Key, ad_computer_salt};
    use seamless_core::testkit::{TestKdc, TicketSpec};

    let a = temp("derive-a.keytab");
    let b = temp("derive-b.keytab");
    let merged = temp("merged.keytab");
    let salt = ad_computer_salt("AD.TEST", "WEBSSO$");
    let (code, _, err) = seamless_stdin(
        &[
            "keytab",
            "derive",
            "--out",
            a.to_str().expect("utf8"),
            "--principal",
            "HTTP/a.ad.test@AD.TEST",
            "--salt",
            &salt,
            "--kvno",
            "7",
        ],
        "Pa55-word-for-websso\n",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = seamless_stdin(
        &[
            "keytab",
            "derive",
            "--out",
            b.to_str().expect("utf8"),
            "--principal",
            "HTTP/b.ad.test@AD.TEST",
            "--etype",
            "aes128",
            "--kvno",
            "1",
        ],
        "other-password\n",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = seamless(&[
        "keytab",
        "merge",
        "--out",
        merged.to_str().expect("utf8"),
        a.to_str().expect("utf8"),
        b.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = seamless(&["keytab", "list", "--json", merged.to_str().expect("utf8")]);
    let rows: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(
        rows.as_array().map(Vec::len),
        Some(3),
        "aes256 + aes128 for a, aes128 for b: {out}"
    );

    // A ticket encrypted with the key AD would derive from that password validates.
    let key =
        Key::from_password(Etype::Aes256CtsHmacSha196, "Pa55-word-for-websso", &salt).expect("key");
    let kdc = TestKdc::with_key("AD.TEST", "HTTP/a.ad.test", key, 7);
    let token = kdc
        .mint(&TicketSpec::new("alice", std::time::SystemTime::now()))
        .expect("mint")
        .token;
    let (code, out, err) = seamless(&[
        "validate",
        "--json",
        "--keytab",
        merged.to_str().expect("utf8"),
        &token,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = seamless_stdin(
        &[
            "keytab",
            "derive",
            "--out",
            a.to_str().expect("utf8"),
            "--principal",
            "x@Y",
            "--kvno",
            "1",
        ],
        "",
    );
    assert_eq!(code, 2, "no password on stdin: {err}");
    for f in [a, b, merged] {
        let _ = std::fs::remove_file(f);
    }
}

#[test]
fn signing_keys_rotate_keeps_one_previous_key_and_never_prints_secrets() {
    let file = temp("signing-keys.json");
    let _ = std::fs::remove_file(&file);
    let path = file.to_str().expect("utf-8");
    let (code, out, err) = seamless(&["--json", "signing-keys", "rotate", path, "--alg", "ES256"]);
    assert_eq!(code, 0, "{err}");
    let first: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(first.as_array().expect("rows").len(), 1);
    assert_eq!(first[0]["role"], "signing");
    for _ in 0..2 {
        let (code, _, err) = seamless(&["signing-keys", "rotate", path, "--alg", "ES256"]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, _) = seamless(&["--json", "signing-keys", "list", path]);
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&out).expect("json");
    let roles: Vec<&str> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["role"].as_str().expect("role"))
        .collect();
    assert_eq!(roles, ["signing", "previous"], "the oldest key was dropped");
    assert!(
        rows.as_array()
            .expect("rows")
            .iter()
            .all(|r| r["kid"] != first[0]["kid"])
    );
    assert!(!out.contains("PRIVATE"));
    let (code, _, err) = seamless(&["signing-keys", "rotate", path, "--alg", "HS256"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown signing algorithm"), "{err}");
}

/// `hash-password` prints a hash a users file accepts: the password it was made
/// from verifies, another does not, and the password itself is never printed.
#[test]
fn hash_password_prints_a_hash_the_users_file_accepts() {
    use seamless_core::backends::{
        Argon2Verifier, Directory, Password, PasswordVerifier, StaticDirectory, UserQuery,
    };
    let (code, out, err) = seamless_stdin(&["hash-password"], "Corr3ct-Horse\n");
    assert_eq!(code, 0, "{err}");
    let hash = out.trim();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!out.contains("Corr3ct-Horse") && !err.contains("Corr3ct-Horse"));
    let users = format!(
        "[[users]]\nid = \"u1\"\nupn = \"erin@example.test\"\npassword_hash = \"{hash}\"\n"
    );
    let directory = std::sync::Arc::new(StaticDirectory::from_text(&users).expect("users file"));
    let verifier = Argon2Verifier::new(directory.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let erin = rt
        .block_on(directory.find(&UserQuery::Logins(vec!["erin@example.test".into()])))
        .expect("find")
        .expect("erin");
    let check = |pw: &str| {
        rt.block_on(verifier.verify(Some(&erin), &Password::new(pw)))
            .expect("verify")
    };
    assert!(check("Corr3ct-Horse"));
    assert!(!check("corr3ct-horse"));
    let (code, _, err) = seamless_stdin(&["hash-password"], "");
    assert_ne!(code, 0);
    assert!(err.contains("no password on standard input"), "{err}");
}

/// `decode` shows the UPN, says when no keytab was given, judges a captured token
/// at `--now`; `keytab list` lines its header up with its rows.
#[test]
fn decode_shows_the_upn_and_judges_at_now_and_list_lines_up() {
    let keytab = temp("decode.keytab");
    let k = keytab.to_str().expect("utf8");
    let (code, out, err) = seamless(&["dev", "--json", "--user", "dora", "--keytab-out", k]);
    assert_eq!(code, 0, "{err}");
    let dev: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let token = dev["token"].as_str().expect("token").to_string();
    let header = format!("Negotiate {token}");

    let (code, out, _) = seamless(&["decode", "--keytab", k, &header]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("UPN        dora@dev.seamless.test"), "{out}");
    assert!(out.contains("verdict    valid now"), "{out}");

    let (_, out, _) = seamless(&["decode", &header]);
    assert!(out.contains("no --keytab given"), "{out}");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let later = (now + 2 * 86_400).to_string();
    let (code, out, _) = seamless(&["decode", "--keytab", k, "--now", &later, &header]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("refused at --now") && out.contains("81010"),
        "{out}"
    );
    let (code, out, _) = seamless(&[
        "decode",
        "--json",
        "--keytab",
        k,
        "--now",
        &now.to_string(),
        &header,
    ]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["judged_at"].as_u64(), Some(now));

    let (code, out, _) = seamless(&["keytab", "list", k]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    for column in ["encryption", "state", "principal"] {
        let at = lines[0].find(column).expect("header");
        let cell = lines[1][at..].split_whitespace().next().unwrap_or_default();
        assert!(
            !cell.is_empty() && lines[1].as_bytes()[at - 1] == b' ',
            "{column} misaligned:\n{out}"
        );
    }
    assert!(
        lines[1][lines[0].find("principal").expect("principal")..].starts_with("HTTP/localhost@"),
        "{out}"
    );
    let _ = std::fs::remove_file(keytab);
}
