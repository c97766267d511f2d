//! `seamless`: operator and developer tools. Set up the service account in Active
//! Directory and roll its key, inspect keytabs and captured tokens, validate a
//! token, run the dev realm. Every command takes `--json`.

mod ad;
mod decode;
mod keytab_cmd;
mod run;
mod serve;
mod signing_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "seamless",
    version,
    about = "Seamless single sign-on: operator and developer tools"
)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate an `Authorization: Negotiate` token against a keytab and print the identity.
    Validate {
        /// The keytab holding the service keys.
        #[arg(long)]
        keytab: PathBuf,
        /// Another principal name served by the keytab's account: `ACCOUNT=SPN`.
        #[arg(long = "alias", value_name = "ACCOUNT=SPN")]
        aliases: Vec<String>,
        /// Accept RC4-HMAC tickets (legacy AD accounts).
        #[arg(long)]
        allow_rc4: bool,
        /// Refuse tickets without a PAC.
        #[arg(long)]
        require_pac: bool,
        /// The token, `Negotiate <token>`, or a whole `Authorization:` header; `-` or absent reads standard input.
        token: Option<String>,
    },
    /// Decode a captured Negotiate token; with --keytab, decrypt it and say which check fails now.
    Decode {
        /// A keytab to decrypt the ticket with.
        #[arg(long)]
        keytab: Option<PathBuf>,
        /// Judge the ticket at this time (Unix seconds) instead of now: for a
        /// token captured earlier.
        #[arg(long)]
        now: Option<i64>,
        /// The token or header; `-` or absent reads standard input.
        token: Option<String>,
    },
    /// Inspect and build keytabs.
    Keytab {
        #[command(subcommand)]
        command: KeytabCommand,
    },
    /// The token signing key file (JWKS source): list, rotate.
    SigningKeys {
        #[command(subcommand)]
        command: SigningCommand,
    },
    /// Run Seamless as the identity provider (OIDC, sign-in pages, native
    /// endpoints, /healthz, /readyz) from a configuration file, on axum; TLS
    /// when `[server] tls_cert` and `tls_key` are set.
    Serve {
        /// The configuration file (default: $SEAMLESS_CONFIG, else the dev defaults).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Hash a password (read from standard input) for a users file's
    /// `password_hash` (argon2id).
    HashPassword,
    /// Manage the service account in Active Directory.
    Ad {
        #[command(subcommand)]
        command: AdCommand,
    },
    /// Run the dev realm: generate a service key, mint a ticket like AD would, and
    /// validate it through the same code a server uses.
    Dev {
        #[command(subcommand)]
        command: Option<DevCommand>,
        /// Where to write the dev realm's keytab (default: a temporary file).
        #[arg(long)]
        keytab_out: Option<PathBuf>,
        /// The user to sign in.
        #[arg(long, default_value = "alice")]
        user: String,
    },
}

#[derive(Subcommand)]
enum KeytabCommand {
    /// List principals, kvnos, encryption types and rollover state (never key bytes).
    List {
        /// The keytab.
        path: PathBuf,
    },
    /// Derive keys from a password (read from standard input) and add them to a keytab.
    Derive {
        /// The keytab to add to (created if absent).
        #[arg(long)]
        out: PathBuf,
        /// The principal, e.g. `HTTP/app.contoso.com@CONTOSO.COM`.
        #[arg(long)]
        principal: String,
        /// The salt (default: realm + principal components; for an AD computer
        /// account use `seamless`'s computer-account salt, e.g. `CONTOSO.COMhostname.contoso.com`).
        #[arg(long)]
        salt: Option<String>,
        /// Encryption types (default aes256 and aes128).
        #[arg(long = "etype")]
        etypes: Vec<String>,
        /// Key version number.
        #[arg(long)]
        kvno: u32,
    },
    /// Merge keytabs into one (later inputs win).
    Merge {
        /// The output keytab.
        #[arg(long)]
        out: PathBuf,
        /// The inputs.
        inputs: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DevCommand {
    /// Walk a whole seamless sign-in against a running demo app (one of the
    /// examples on its dev realm): user name → 401 Negotiate → a ticket minted
    /// from the dev realm's key → sign-in token → code → tokens → protected page.
    Client {
        /// The app's origin.
        #[arg(long, default_value = "http://localhost:8080")]
        url: String,
        /// The dev realm keytab the app wrote (its start-up banner says where).
        #[arg(long)]
        keytab: Option<PathBuf>,
        /// The demo user (alice; bob needs a second factor, so only alice walks
        /// through without one).
        #[arg(long, default_value = "alice")]
        user: String,
    },
}

#[derive(Subcommand)]
enum SigningCommand {
    /// List the keys: algorithm, role (signing or previous), creation time, kid.
    List {
        /// The key file.
        path: PathBuf,
    },
    /// Add a new signing key per algorithm (the file is created, owner-only, if
    /// absent). The replaced key stays in the JWKS so tokens it signed stay valid;
    /// the one before it is dropped.
    Rotate {
        /// The key file.
        path: PathBuf,
        /// Algorithms: RS256 (default), ES256, EdDSA.
        #[arg(long = "alg")]
        algs: Vec<String>,
    },
}

#[derive(Subcommand)]
enum AdCommand {
    /// Create the service computer account (AES only, no delegation, SPNs for every
    /// host name), set a 120-character random password and write its keys.
    Setup {
        #[command(flatten)]
        connection: ad::Connection,
        /// A host name browsers reach the app by (repeat for every name they may canonicalise to).
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// The container/OU for the account (default `CN=Computers,<base DN>`).
        #[arg(long)]
        container: Option<String>,
        /// Reset an existing account's password and SPNs instead of reporting it.
        #[arg(long)]
        force: bool,
    },
    /// Roll the account's key over without refusing any valid ticket.
    Rollover {
        #[command(flatten)]
        connection: ad::Connection,
        /// Drop the previous key at once (after a compromise); tickets under it fail.
        #[arg(long)]
        emergency: bool,
        /// Only roll if the current key is older than this (e.g. 30d), for schedulers.
        #[arg(long, value_parser = ad::duration)]
        if_older_than: Option<std::time::Duration>,
        /// The domain's maximum service-ticket lifetime.
        #[arg(long, value_parser = ad::duration, default_value = "10h")]
        max_ticket_lifetime: std::time::Duration,
        /// Allowed clock skew.
        #[arg(long, value_parser = ad::duration, default_value = "5m")]
        skew: std::time::Duration,
        /// Time for the password change to reach every DC.
        #[arg(long, value_parser = ad::duration, default_value = "15m")]
        replication_margin: std::time::Duration,
        /// How long to wait, after writing the next key to the keytab and before
        /// changing the password in AD, for every running server to load it: the
        /// servers' keytab re-read interval (5 s) plus a margin. Raise it when the
        /// keytab is copied to other hosts.
        #[arg(long, value_parser = ad::duration, default_value = "7s")]
        wait_for_servers: std::time::Duration,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.command {
        Command::Validate {
            keytab,
            aliases,
            allow_rc4,
            require_pac,
            token,
        } => run::validate(&keytab, &aliases, allow_rc4, require_pac, token, json),
        Command::Decode { keytab, now, token } => {
            decode::decode(token, keytab.as_deref(), now, json)
        }
        Command::Keytab { command } => match command {
            KeytabCommand::List { path } => keytab_cmd::list(&path, json),
            KeytabCommand::Derive {
                out,
                principal,
                salt,
                etypes,
                kvno,
            } => keytab_cmd::derive(&out, &principal, salt.as_deref(), &etypes, kvno, json),
            KeytabCommand::Merge { out, inputs } => keytab_cmd::merge(&out, &inputs, json),
        },
        Command::SigningKeys { command } => match command {
            SigningCommand::List { path } => signing_cmd::list(&path, json),
            SigningCommand::Rotate { path, algs } => signing_cmd::rotate(&path, &algs, json),
        },
        Command::Ad { command } => match command {
            AdCommand::Setup {
                connection,
                hosts,
                container,
                force,
            } => ad::setup(&connection, &hosts, container.as_deref(), force, json),
            AdCommand::Rollover {
                connection,
                emergency,
                if_older_than,
                max_ticket_lifetime,
                skew,
                replication_margin,
                wait_for_servers,
            } => {
                let timing = ad::RolloverTiming {
                    max_ticket_lifetime,
                    skew,
                    replication_margin,
                    wait_for_servers,
                };
                ad::rollover(&connection, emergency, if_older_than, &timing, json)
            }
        },
        Command::HashPassword => keytab_cmd::hash_password(json),
        Command::Serve { config } => serve::serve(config),
        Command::Dev {
            command: Some(DevCommand::Client { url, keytab, user }),
            ..
        } => run::dev_client(&url, keytab, &user, json),
        Command::Dev {
            command: None,
            keytab_out,
            user,
        } => run::dev(keytab_out, &user, json),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            if json {
                println!("{}", json!({ "error": message }));
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(2)
        }
    }
}
