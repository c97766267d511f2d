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
