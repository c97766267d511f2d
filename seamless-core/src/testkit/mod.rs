//! A test KDC: mints service tickets and Negotiate tokens for a given service key,
//! with chosen encryption types, kvnos, times, flags, PACs and deliberate flaws,
//! so every rejection path of the acceptor can be exercised without a real KDC.
//!
//! Not for production: it holds service keys in the clear and signs whatever it is
//! told. Enabled by the `testkit` feature.
//!
//! ```
//! use std::time::SystemTime;
//! use seamless_core::kerberos::{Acceptor, Etype};
//! use seamless_core::testkit::{TestKdc, TicketSpec};
//!
//! let kdc = TestKdc::new("EXAMPLE.TEST", "HTTP/app.example.test", Etype::Aes256CtsHmacSha196);
//! let now = SystemTime::now();
//! let minted = kdc.mint(&TicketSpec::new("alice", now)).unwrap();
//! let ticket = Acceptor::default().validate(minted.token.as_bytes(), &kdc.key_ring(), now).unwrap();
//! assert_eq!(ticket.client.to_string(), "alice@EXAMPLE.TEST");
//! ```

pub mod dev_client;
pub mod directory_contract;
mod flaky;
pub mod fuzz;
mod pac;
mod shown;
pub mod sim;
pub mod store_contract;
pub mod world;

use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;

use crate::kerberos::acceptor::unix_seconds;
use crate::kerberos::crypto::{CryptoError, Entropy, Etype, Key, OsEntropy};
use crate::kerberos::der::{Writer, tag};
use crate::kerberos::messages::{self, AD_IF_RELEVANT, AD_WIN2K_PAC, EncryptedData, app};
use crate::kerberos::spnego::{self, oid};
use crate::kerberos::{KeyRing, KeyState, PrincipalName, ServiceAccount};

pub use flaky::FlakyStore;
pub use pac::{PacFlaw, PacSpec};
pub use shown::{Shown, StepExt};

/// GSS flags Windows sends (mutual, replay, sequence, confidentiality, integrity, extended error).
pub const WINDOWS_GSS_FLAGS: u32 = 0x403E;
/// GSS flags Chromium sends on Linux (replay, sequence, conf, integ: no mutual).
pub const CHROMIUM_GSS_FLAGS: u32 = 0x3C;

/// How the AP-REQ is wrapped in the Negotiate token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapping {
    /// SPNEGO, MS Kerberos OID first (Windows, Chromium).
    SpnegoMs,
    /// SPNEGO, standard Kerberos OID first (MIT clients, curl).
    SpnegoKrb5,
    /// Bare GSS Kerberos token.
    Raw,
}

/// Deliberate defects in the minted token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Flaw {
    /// Encrypt the ticket with this key instead of the service key.
    WrongServiceKey(Key),
    /// Authenticator names another client.
    AuthenticatorClient(String),
    /// Flip a bit in the ticket ciphertext.
    TamperTicket,
    /// Flip a bit in the authenticator ciphertext.
    TamperAuthenticator,
    /// Leave the kvno out of the ticket's EncryptedData.
    NoKvno,
    /// Set the ticket's INVALID flag.
    InvalidFlag,
}

/// What to mint. Defaults: AD-like ticket valid for 10 hours from `now`,
/// authenticator at `now`, Chromium GSS flags, SPNEGO with the MS OID, no PAC.
#[derive(Debug, Clone)]
pub struct TicketSpec {
    /// Client name (one component unless it contains `/`).
    pub client: String,
    /// Client realm (defaults to the KDC's).
    pub client_realm: Option<String>,
    /// Authentication time (Unix seconds).
    pub auth_time: i64,
    /// Start time, if different from auth_time.
    pub start_time: Option<i64>,
    /// End time.
    pub end_time: i64,
    /// Ticket flags (RFC 4120 numbering).
    pub flags: u32,
    /// Session key type (defaults to the ticket's).
    pub session_etype: Option<Etype>,
    /// Authenticator ctime.
    pub ctime: i64,
    /// Authenticator cusec.
    pub cusec: u32,
    /// GSS flags in the 0x8003 checksum; `None` leaves the checksum out.
    pub gss_flags: Option<u32>,
    /// Channel bindings (MD5) in the checksum.
    pub bindings: [u8; 16],
    /// Set mutual-required in ap-options.
    pub mutual_required: bool,
    /// Token wrapping.
    pub wrapping: Wrapping,
    /// PAC to include.
    pub pac: Option<PacSpec>,
    /// Defects.
    pub flaws: Vec<Flaw>,
}

impl TicketSpec {
    /// A ticket for `client`, issued and used at `now`.
    pub fn new(client: &str, now: SystemTime) -> Self {
        let now = unix_seconds(now);
        Self {
            client: client.to_string(),
            client_realm: None,
            auth_time: now,
            start_time: None,
            end_time: now + 10 * 3600,
            flags: (1 << 30) | (1 << 21), // forwardable, pre-authent
            session_etype: None,
            ctime: now,
            cusec: 123_456,
            gss_flags: Some(CHROMIUM_GSS_FLAGS),
            bindings: [0; 16],
            mutual_required: false,
            wrapping: Wrapping::SpnegoMs,
            pac: None,
            flaws: Vec::new(),
        }
    }

    /// With an AD-style PAC.
    pub fn with_pac(mut self, pac: PacSpec) -> Self {
        self.pac = Some(pac);
        self
    }

    /// With a defect.
    pub fn with_flaw(mut self, flaw: Flaw) -> Self {
        self.flaws.push(flaw);
        self
    }
}

/// A minted token.
#[derive(Debug, Clone)]
pub struct Minted {
    /// Base64 token for `Authorization: Negotiate <token>`.
    pub token: String,
    /// The ticket's session key (to check an AP-REP).
    pub session_key: Key,
    /// The authenticator ctime and cusec (what an AP-REP must echo).
    pub ctime_cusec: (i64, u32),
}

/// A test KDC holding one service's key.
#[derive(Clone)]
pub struct TestKdc {
    realm: String,
    service: PrincipalName,
    key: Key,
    kvno: u32,
    entropy: Arc<dyn Entropy>,
}

impl std::fmt::Debug for TestKdc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKdc")
            .field("service", &self.service.to_string())
            .field("kvno", &self.kvno)
            .finish()
    }
}

impl TestKdc {
    /// A KDC for `service` (`HTTP/host`) in `realm` with a random key of `etype`, kvno 2.
    pub fn new(realm: &str, service: &str, etype: Etype) -> Self {
        let key = Key::random(etype, &OsEntropy).unwrap_or_else(|_| fallback_key(etype));
        Self::with_key(realm, service, key, 2)
    }

    /// A KDC with a given service key and kvno.
    pub fn with_key(realm: &str, service: &str, key: Key, kvno: u32) -> Self {
        let service = format!("{service}@{realm}")
            .parse()
            .unwrap_or_else(|_| PrincipalName::service("HTTP", "localhost", realm));
        Self {
            realm: realm.to_string(),
            service,
            key,
            kvno,
            entropy: Arc::new(OsEntropy),
        }
    }

    /// Uses `entropy` for confounders and session keys (deterministic output).
    pub fn with_entropy(mut self, entropy: Arc<dyn Entropy>) -> Self {
        self.entropy = entropy;
        self
    }

    /// The service principal.
    pub fn service(&self) -> &PrincipalName {
        &self.service
    }

    /// The service key.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The kvno.
    pub fn kvno(&self) -> u32 {
        self.kvno
    }

    /// A keytab holding the service key (what `ktadd` would write).
    pub fn keytab(&self) -> Vec<u8> {
        crate::kerberos::keytab::write(&[crate::kerberos::keytab::KeytabEntry {
            principal: self.service().clone(),
            timestamp: 0,
            kvno: self.kvno(),
            key: Ok(self.key().clone()),
        }])
    }

    /// A key ring holding this KDC's service key as the current key.
    pub fn key_ring(&self) -> KeyRing {
        let account = ServiceAccount::new(self.service.clone());
        match account.with_key(self.kvno, self.key.clone(), KeyState::Current) {
            Ok(a) => KeyRing::new(vec![a]),
            Err(_) => KeyRing::default(),
        }
    }

    /// Mints a Negotiate token.
    pub fn mint(&self, spec: &TicketSpec) -> Result<Minted, CryptoError> {
        let has = |f: &Flaw| {
            spec.flaws
                .iter()
                .any(|x| std::mem::discriminant(x) == std::mem::discriminant(f))
        };
        let crealm = spec
            .client_realm
            .clone()
            .unwrap_or_else(|| self.realm.clone());
        let cname: Vec<&str> = spec.client.split('/').collect();
        let session_etype = spec.session_etype.unwrap_or(self.key.etype());
        let session_key = Key::random(session_etype, self.entropy.as_ref())?;

        let authorization_data = match &spec.pac {
            Some(p) => {
                let raw = pac::build(p, &spec.client, spec.auth_time, &self.key)?;
                let mut inner = Writer::new();
                encode_authdata(&mut inner, &[(AD_WIN2K_PAC, raw)]);
                let mut outer = Writer::new();
                encode_authdata(&mut outer, &[(AD_IF_RELEVANT, inner.into_bytes())]);
                Some(outer.into_bytes())
            }
            None => None,
        };
        let mut flags = spec.flags;
        if has(&Flaw::InvalidFlag) {
            flags |= 1 << (31 - 7);
        }
        let mut enc_part = Writer::new();
        enc_part.nest(tag::application(app::ENC_TICKET_PART), |w| {
            w.nest(tag::SEQUENCE, |w| {
                w.field(0, |w| w.flags(flags));
                w.field(1, |w| {
                    messages::encode_key(w, session_etype.number(), session_key.expose_secret())
                });
                w.field(2, |w| w.general_string(&crealm));
                w.field(3, |w| {
                    messages::encode_name(w, crate::kerberos::NT_PRINCIPAL, &cname)
                });
                w.field(4, |w| {
                    w.nest(tag::SEQUENCE, |w| {
                        w.field(0, |w| w.integer(1));
                        w.field(1, |w| w.octet_string(b""));
                    })
                });
                w.field(5, |w| w.time(spec.auth_time));
                if let Some(t) = spec.start_time {
                    w.field(6, |w| w.time(t));
                }
                w.field(7, |w| w.time(spec.end_time));
                if let Some(ad) = &authorization_data {
                    w.field(10, |w| w.raw_tlv(ad));
                }
            })
        });
        let ticket_key = spec
            .flaws
            .iter()
            .find_map(|f| match f {
                Flaw::WrongServiceKey(k) => Some(k.clone()),
                _ => None,
            })
            .unwrap_or_else(|| self.key.clone());
        let mut ticket_cipher =
            ticket_key.encrypt(2, &enc_part.into_bytes(), self.entropy.as_ref())?;
        if has(&Flaw::TamperTicket) {
            flip(&mut ticket_cipher);
        }

        let auth_client = spec
            .flaws
            .iter()
            .find_map(|f| match f {
                Flaw::AuthenticatorClient(c) => Some(c.clone()),
                _ => None,
            })
            .unwrap_or_else(|| spec.client.clone());
        let auth_cname: Vec<&str> = auth_client.split('/').collect();
        let mut auth = Writer::new();
        auth.nest(tag::application(app::AUTHENTICATOR), |w| {
            w.nest(tag::SEQUENCE, |w| {
                w.field(0, |w| w.integer(5));
                w.field(1, |w| w.general_string(&crealm));
                w.field(2, |w| {
                    messages::encode_name(w, crate::kerberos::NT_PRINCIPAL, &auth_cname)
                });
                if let Some(gss) = spec.gss_flags {
                    let mut c = 16u32.to_le_bytes().to_vec();
                    c.extend_from_slice(&spec.bindings);
                    c.extend_from_slice(&gss.to_le_bytes());
                    w.field(3, |w| {
                        w.nest(tag::SEQUENCE, |w| {
                            w.field(0, |w| w.integer(0x8003));
                            w.field(1, |w| w.octet_string(&c));
                        })
                    });
                }
                w.field(4, |w| w.integer(i64::from(spec.cusec)));
                w.field(5, |w| w.time(spec.ctime));
                w.field(7, |w| w.integer(0x1234));
            })
        });
        let mut auth_cipher = session_key.encrypt(11, &auth.into_bytes(), self.entropy.as_ref())?;
        if has(&Flaw::TamperAuthenticator) {
            flip(&mut auth_cipher);
        }

        let kvno = if has(&Flaw::NoKvno) {
            None
        } else {
            Some(self.kvno)
        };
        let mut ap_req = Writer::new();
        ap_req.nest(tag::application(app::AP_REQ), |w| {
            w.nest(tag::SEQUENCE, |w| {
                w.field(0, |w| w.integer(5));
                w.field(1, |w| w.integer(14));
                w.field(2, |w| {
                    w.flags(if spec.mutual_required {
                        messages::AP_OPTION_MUTUAL_REQUIRED
                    } else {
                        0
                    })
                });
                w.field(3, |w| {
                    w.nest(tag::application(app::TICKET), |w| {
                        w.nest(tag::SEQUENCE, |w| {
                            w.field(0, |w| w.integer(5));
                            w.field(1, |w| w.general_string(&self.realm));
                            let parts: Vec<&str> =
                                self.service.components.iter().map(String::as_str).collect();
                            w.field(2, |w| {
                                messages::encode_name(w, self.service.name_type, &parts)
                            });
                            w.field(3, |w| {
                                EncryptedData::encode(
                                    w,
                                    ticket_key.etype().number(),
                                    kvno,
                                    &ticket_cipher,
                                )
                            });
                        })
                    })
                });
                w.field(4, |w| {
                    EncryptedData::encode(w, session_etype.number(), None, &auth_cipher)
                });
            })
        });
        let framed = spnego::frame_ap_req(&ap_req.into_bytes());
        let token = match spec.wrapping {
            Wrapping::Raw => framed,
            Wrapping::SpnegoMs => spnego::wrap_init(
                &[oid::MS_KRB5, oid::KRB5, oid::NEGOEX, oid::NTLMSSP],
                Some(&framed),
            ),
            Wrapping::SpnegoKrb5 => spnego::wrap_init(&[oid::KRB5], Some(&framed)),
        };
        Ok(Minted {
            token: base64::engine::general_purpose::STANDARD.encode(token),
            session_key,
            ctime_cusec: (spec.ctime, spec.cusec),
        })
    }
}

fn fallback_key(etype: Etype) -> Key {
    // Only reached if the OS RNG fails; a fixed key is fine for a test KDC.
    Key::from_password(etype, "testkit", "EXAMPLE.TESTtestkit")
        .unwrap_or_else(|_| unreachable!("valid etype"))
}

fn flip(bytes: &mut [u8]) {
    if let Some(b) = bytes.get_mut(bytes.len() / 2) {
        *b ^= 0x01;
    }
}

fn encode_authdata(w: &mut Writer, elements: &[(i32, Vec<u8>)]) {
    w.nest(tag::SEQUENCE, |w| {
        for (ad_type, data) in elements {
            w.nest(tag::SEQUENCE, |w| {
                w.field(0, |w| w.integer(i64::from(*ad_type)));
                w.field(1, |w| w.octet_string(data));
            });
        }
    });
}

/// Checks an acceptor's `WWW-Authenticate: Negotiate` answer the way a client
/// would: decrypts the AP-REP with the session key and returns the echoed
/// (ctime, cusec).
pub fn verify_response(response_b64: &str, session_key: &Key) -> Result<(i64, u32), String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(response_b64)
        .map_err(|e| e.to_string())?;
    let ap_rep = spnego::ap_rep_from_response(&raw).map_err(|e| format!("{e:?}"))?;
    let enc = messages::decode_ap_rep(ap_rep).map_err(|e| e.to_string())?;
    let plain = session_key
        .decrypt(12, enc.cipher)
        .map_err(|e| e.to_string())?;
    let part = messages::decode_enc_ap_rep_part(&plain).map_err(|e| e.to_string())?;
    if part.seq_number.is_none() {
        return Err("AP-REP without a sequence number".into());
    }
    Ok((part.ctime, part.cusec))
}

/// Wraps a raw GSS token (from any client) as an SPNEGO NegTokenInit with the given
/// mechanism list. For differential tests.
pub fn spnego_wrap(mechs_first_ms: bool, gss_token: &[u8]) -> Vec<u8> {
    if mechs_first_ms {
        spnego::wrap_init(&[oid::MS_KRB5, oid::KRB5], Some(gss_token))
    } else {
        spnego::wrap_init(&[oid::KRB5], Some(gss_token))
    }
}
