//! Signing keys (file, generation, rotation) and access-token verification,
//! including the classic JWT attacks.

use base64::Engine as _;
use seamless_core::backends::{Method, User};
use seamless_core::flow::{AuthFacts, SignInRequest};
use seamless_core::model::Completion;
use seamless_core::token::{KeyError, SigningAlgorithm, SigningKeys, TokenIssuer, TokenSettings};

const NOW: i64 = 1_800_000_000;

fn completion() -> Completion {
    let mut user = User::new("u-1", "alice@ad.test");
    user.groups = (0..200).map(|i| format!("g{i}")).collect();
    Completion {
        flow_id: "f".into(),
        user,
        auth: AuthFacts {
            methods: vec![Method::Kerberos],
            auth_time: NOW - 30,
            not_after: None,
            ticket: None,
        },
        request: SignInRequest::default(),
    }
}

fn issuer(keys: SigningKeys) -> TokenIssuer {
    TokenIssuer::new(
        TokenSettings {
            issuer: "https://idp.test".into(),
            ..TokenSettings::default()
        },
        keys,
    )
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("seamless-tokens-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join("signing-keys.json")
}

#[test]
fn key_file_is_created_private_and_read_back() {
    let path = tmp("file");
    let first =
        SigningKeys::load_or_generate(&path, &[SigningAlgorithm::Es256], NOW).expect("generate");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again =
        SigningKeys::load_or_generate(&path, &[SigningAlgorithm::Es256], NOW).expect("load");
    assert_eq!(
        first.keys()[0].kid(),
        again.keys()[0].kid(),
        "the same key survives a restart"
    );
    // Asking for another algorithm adds a key and keeps the first.
    let more = SigningKeys::load_or_generate(
        &path,
        &[SigningAlgorithm::Es256, SigningAlgorithm::EdDsa],
        NOW,
    )
    .expect("add");
    assert_eq!(more.keys().len(), 2);
    assert_eq!(
        more.signer(SigningAlgorithm::Es256).expect("es").kid(),
        first.keys()[0].kid()
    );

    // A file whose kid does not match its key is refused, naming the kid only.
    let text = std::fs::read_to_string(&path).expect("read");
    let kid = first.keys()[0].kid().to_string();
    std::fs::write(&path, text.replace(&kid, "forged-kid")).expect("write");
    let err = SigningKeys::load(&path).expect_err("mismatch");
    let shown = err.to_string();
    assert!(shown.contains("forged-kid"), "{shown}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    assert!(matches!(err, KeyError::Invalid { .. }));
    // Debug output of keys never shows key material.
    let debug = format!("{more:?}");
    assert!(
        !debug.contains("PRIVATE") && debug.contains("kid"),
        "{debug}"
    );
}

#[test]
fn rotation_keeps_the_previous_key_verifying() {
    let mut keys = SigningKeys::generate(&[SigningAlgorithm::Es256], NOW).expect("keys");
    let tokens = issuer(keys.clone());
    let (old_token, _) = tokens
        .access_token(
            &completion(),
            "app",
            "openid",
            "j1".into(),
            SigningAlgorithm::Es256,
            NOW,
        )
        .expect("sign");
    let old_kid = keys.keys()[0].kid().to_string();
    let new_kid = keys
        .rotate(SigningAlgorithm::Es256, NOW)
        .expect("rotate")
        .kid()
        .to_string();
    assert_ne!(old_kid, new_kid);
    tokens.replace_keys(keys.clone());
    assert_eq!(
        tokens.keys().jwks().keys.len(),
        2,
        "current and previous published"
    );
    assert!(
        tokens.verify_access(&old_token, NOW + 1).is_ok(),
        "old tokens live out their time"
    );
    let (new_token, _) = tokens
        .access_token(
            &completion(),
            "app",
            "openid",
            "j2".into(),
            SigningAlgorithm::Es256,
            NOW,
        )
        .expect("sign");
    let header = jsonwebtoken::decode_header(&new_token).expect("header");
    assert_eq!(
        header.kid.as_deref(),
        Some(new_kid.as_str()),
        "the newest key signs"
    );
    // A second rotation retires the first key and its tokens.
    keys.rotate(SigningAlgorithm::Es256, NOW).expect("rotate");
    tokens.replace_keys(keys);
    assert_eq!(tokens.keys().jwks().keys.len(), 2);
    assert!(tokens.verify_access(&old_token, NOW + 1).is_err());
    assert!(tokens.verify_access(&new_token, NOW + 1).is_ok());
}

#[test]
fn access_tokens_are_checked_strictly() {
    let keys = SigningKeys::generate(&[SigningAlgorithm::Rs256, SigningAlgorithm::EdDsa], NOW)
        .expect("keys");
    let tokens = issuer(keys.clone());
    let (token, claims) = tokens
        .access_token(
            &completion(),
            "app",
            "openid",
            "j".into(),
            SigningAlgorithm::Rs256,
            NOW,
        )
        .expect("sign");
    assert_eq!(
        claims.aud, "https://idp.test",
        "the API audience defaults to the issuer"
    );
    assert!(
        claims.user.groups.is_empty() && claims.user.hasgroups,
        "200 groups overflow"
    );
    assert!(tokens.verify_access(&token, NOW).is_ok());
    assert!(
        tokens.verify_access(&token, NOW + 600).is_err(),
        "expired by the engine's clock"
    );

    // An ID token is not an access token.
    let id = tokens
        .id_token(
            &completion(),
            "app",
            Some("n"),
            SigningAlgorithm::Rs256,
            NOW,
        )
        .expect("id");
    assert!(tokens.verify_access(&id, NOW).is_err());

    // Another issuer's (or API's) token with our key id.
    let other = TokenIssuer::new(
        TokenSettings {
            issuer: "https://idp.test".into(),
            api_audience: Some("https://other-api".into()),
            ..TokenSettings::default()
        },
        keys.clone(),
    );
    let (foreign, _) = other
        .access_token(
            &completion(),
            "app",
            "openid",
            "j".into(),
            SigningAlgorithm::Rs256,
            NOW,
        )
        .expect("sign");
    assert!(
        tokens.verify_access(&foreign, NOW).is_err(),
        "wrong audience"
    );

    // Algorithm confusion: HS256 keyed with the RSA public key, and alg=none.
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let kid = keys
        .signer(SigningAlgorithm::Rs256)
        .expect("rsa")
        .kid()
        .to_string();
    let payload = token.split('.').nth(1).expect("payload").to_string();
    let forged_hs = {
        let header = serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
        let input = format!("{}.{payload}", b64(&header));
        let jwk = serde_json::to_vec(keys.signer(SigningAlgorithm::Rs256).expect("rsa").jwk())
            .expect("jwk");
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(&jwk),
            jsonwebtoken::Algorithm::HS256,
        )
        .expect("hmac");
        format!("{input}.{sig}")
    };
    assert!(tokens.verify_access(&forged_hs, NOW).is_err());
    let none = format!(
        "{}.{payload}.",
        b64(&serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": kid}))
    );
    assert!(tokens.verify_access(&none, NOW).is_err());
    // A valid signature by the EdDSA key under the RSA key's kid.
    let ed_kid = keys
        .signer(SigningAlgorithm::EdDsa)
        .expect("ed")
        .kid()
        .to_string();
    let (ed_token, _) = tokens
        .access_token(
            &completion(),
            "app",
            "openid",
            "j".into(),
            SigningAlgorithm::EdDsa,
            NOW,
        )
        .expect("sign");
    let swapped = {
        let mut parts: Vec<String> = ed_token.split('.').map(str::to_string).collect();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&parts[0])
            .expect("b64");
        let header = String::from_utf8(header)
            .expect("utf8")
            .replace(&ed_kid, &kid);
        parts[0] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header);
        parts.join(".")
    };
    assert!(tokens.verify_access(&swapped, NOW).is_err());
    assert!(tokens.verify_access(&"x".repeat(20_000), NOW).is_err());
    assert!(tokens.verify_access("a.b.c", NOW).is_err());
}

#[test]
fn an_issuer_follows_its_key_file() {
    let path = tmp("follow");
    let settings = TokenSettings {
        issuer: "https://idp.test".into(),
        key_file_check: std::time::Duration::ZERO,
        ..TokenSettings::default()
    };
    let tokens =
        TokenIssuer::from_file(settings, &path, &[SigningAlgorithm::EdDsa], NOW).expect("issuer");
    let before = tokens
        .keys()
        .signer(SigningAlgorithm::EdDsa)
        .expect("key")
        .kid()
        .to_string();
    // An operator rotates the file (`seamless signing-keys rotate`).
    let mut keys = SigningKeys::load(&path).expect("load");
    let after = keys
        .rotate(SigningAlgorithm::EdDsa, NOW)
        .expect("rotate")
        .kid()
        .to_string();
    keys.save(&path).expect("save");
    let now_keys = tokens.keys();
    assert_eq!(
        now_keys.signer(SigningAlgorithm::EdDsa).expect("key").kid(),
        after
    );
    assert!(
        now_keys.by_kid(&before).is_some(),
        "the previous key still verifies"
    );
    // A broken file keeps the last good keys.
    std::fs::write(&path, b"{not json").expect("write");
    assert_eq!(
        tokens
            .keys()
            .signer(SigningAlgorithm::EdDsa)
            .expect("key")
            .kid(),
        after
    );
}

/// Every algorithm's ID and access tokens carry exactly `typ`, `alg` and `kid`
/// in their header (written once per key) and verify with `jsonwebtoken` from
/// the published JWK alone, with the claims the sign-in gives.
#[test]
fn tokens_of_every_algorithm_verify_from_the_published_key() {
    for alg in SigningAlgorithm::ALL {
        let keys = SigningKeys::generate(&[alg], NOW).expect("keys");
        let tokens = issuer(keys.clone());
        // Over `max_groups` (150) with one factor; then a few groups, an
        // on-premises SID and two factors.
        let mut few = completion();
        few.user.groups.truncate(3);
        few.user.display_name = "Alice \"A\" Example".into();
        few.user.sid = Some("S-1-5-21-1-2-3-1105".parse().expect("sid"));
        few.auth.methods.push(Method::Otp);
        for completion in [completion(), few] {
            signed_tokens_verify(&tokens, &completion, alg);
        }
    }
}

/// `completion`'s ID and access tokens, signed with `alg`, checked as above.
fn signed_tokens_verify(tokens: &TokenIssuer, completion: &Completion, alg: SigningAlgorithm) {
    let id = tokens
        .id_token(completion, "app", Some("n-1"), alg, NOW)
        .expect("id token");
    let (access, claims) = tokens
        .access_token(completion, "app", "openid", "j1".into(), alg, NOW)
        .expect("access token");
    let jwk = &tokens.keys().jwks().keys[0];
    let kid = jwk.common.key_id.clone().expect("kid");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
    for (token, typ) in [(&id, "JWT"), (&access, "at+jwt")] {
        let header = token.split('.').next().expect("header");
        let header: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header)
                .expect("base64url"),
        )
        .expect("json");
        assert_eq!(
            header,
            serde_json::json!({"typ": typ, "alg": alg.name(), "kid": kid}),
            "{alg:?}"
        );
    }
    let mut validation =
        jsonwebtoken::Validation::new(alg.name().parse().expect("a JWS algorithm"));
    validation.validate_exp = false;
    validation.set_issuer(&["https://idp.test"]);
    validation.set_audience(&["app"]);
    let id = jsonwebtoken::decode::<seamless_core::token::IdClaims>(&id, &key, &validation)
        .expect("ID token verifies")
        .claims;
    assert_eq!((id.aud.as_str(), id.nonce.as_deref()), ("app", Some("n-1")));
    validation.set_audience(&["https://idp.test"]);
    let access =
        jsonwebtoken::decode::<seamless_core::token::AccessClaims>(&access, &key, &validation)
            .expect("access token verifies")
            .claims;
    assert_eq!(access, claims);
    assert_eq!(access.user, id.user);
    assert_eq!(
        id.user,
        seamless_core::token::jwt::UserClaims::from_completion(completion, 150)
    );
    assert_eq!(access.user.sub, "u-1");
    let mfa = completion.auth.methods.len() > 1;
    assert_eq!(id.user.hasgroups, completion.user.groups.len() > 150);
    assert_eq!(id.user.groups.len(), if mfa { 3 } else { 0 });
    assert_eq!(id.user.onprem_sid.is_some(), mfa);
    let amr: &[&str] = if mfa {
        &["kerberos", "otp", "mfa"]
    } else {
        &["kerberos"]
    };
    assert_eq!(id.user.amr, amr);
}
