//! A Samba Active Directory domain controller for realm `AD.TEST`, provisioned in a
//! temporary directory and bound to loopback (KDC on 127.0.0.1:88, LDAP on :389).
//! Gives real AD PACs (LOGON_INFO with SIDs) and real AD key rollover.

use std::io::Write as _;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{TempDir, require, run, which};

/// The Administrator password of the test domain.
pub const ADMIN_PASSWORD: &str = "Adm1n-Passw0rd!";

/// A running Samba AD DC.
pub struct SambaDc {
    dir: TempDir,
    samba: Child,
    /// The realm (`AD.TEST`).
    pub realm: String,
}

impl SambaDc {
    /// Provisions and starts the DC. `None` (or a panic in CI) without Samba.
    pub fn start() -> Option<Self> {
        if !require(&["samba", "samba-tool", "ldbmodify", "kinit", "openssl"]) {
            return None;
        }
        assert!(
            TcpStream::connect(("127.0.0.1", 88)).is_err(),
            "something already listens on 127.0.0.1:88; the Samba KDC port is fixed"
        );
        let dir = TempDir::new("seamless-samba");
        let target = dir.path().join("dc");
        let tls = issue_certificates(&dir.path().join("tls"));
        run(Command::new("samba-tool").args([
            "domain",
            "provision",
            "--realm=AD.TEST",
            "--domain=AD",
            "--server-role=dc",
            "--dns-backend=NONE",
            &format!("--adminpass={ADMIN_PASSWORD}"),
            &format!("--targetdir={}", target.display()),
            "--host-name=dc1",
            "--option=interfaces=lo",
            "--option=bind interfaces only=yes",
            "--option=server services=kdc,ldap,cldap",
            "--option=tls enabled=yes",
            &format!("--option=tls keyfile={}", tls.join("server.key").display()),
            &format!("--option=tls certfile={}", tls.join("server.pem").display()),
            &format!("--option=tls cafile={}", tls.join("ca.pem").display()),
        ]));
        std::fs::write(
            dir.path().join("krb5.conf"),
            "[libdefaults]\n default_realm = AD.TEST\n dns_lookup_kdc = false\n dns_lookup_realm = false\n \
             dns_canonicalize_hostname = false\n rdns = false\n allow_rc4 = true\n allow_weak_crypto = true\n\
             [realms]\n AD.TEST = {\n  kdc = 127.0.0.1\n }\n[domain_realm]\n .ad.test = AD.TEST\n",
        )
        .ok()?;
        // Its own process group: samba forks workers (and renames them), and the
        // whole group must go when the test ends.
        let samba = Command::new(which("samba")?)
            .process_group(0)
            .args(["-F", "-s"])
            .stdin(Stdio::null())
            .arg(target.join("etc/smb.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let dc = Self {
            dir,
            samba,
            realm: "AD.TEST".into(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", 88)).is_err()
            || TcpStream::connect(("127.0.0.1", 389)).is_err()
        {
            assert!(
                Instant::now() < deadline,
                "samba did not start its KDC and LDAP"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(dc)
    }

    /// The CA that issued the DC's LDAPS certificate (SAN: 127.0.0.1, dc1.ad.test).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }

    /// The krb5.conf pointing at this DC.
    pub fn krb5_conf(&self) -> PathBuf {
        self.dir.path().join("krb5.conf")
    }

    /// The working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn smb_conf(&self) -> PathBuf {
        self.dir.path().join("dc/etc/smb.conf")
    }

    /// Runs `samba-tool <args> -s smb.conf`.
    pub fn tool(&self, args: &[&str]) -> String {
        run(Command::new("samba-tool")
            .args(args)
            .arg("-s")
            .arg(self.smb_conf()))
    }

    /// One attribute of an account, as `samba-tool user show` prints it.
    pub fn attribute(&self, account: &str, attribute: &str) -> Option<String> {
        let out = self.tool(&[
            "user",
            "show",
            account,
            &format!("--attributes={attribute}"),
        ]);
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{attribute}: ")))
            .map(str::to_string)
    }

    /// One attribute of a computer account, as `samba-tool computer show` prints it.
    pub fn computer_attribute(&self, account: &str, attribute: &str) -> Option<String> {
        let out = self.tool(&[
            "computer",
            "show",
            account,
            &format!("--attributes={attribute}"),
        ]);
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{attribute}: ")))
            .map(str::to_string)
    }

    /// Creates a user with a given name and surname (AD's displayName is
    /// "Given Surname").
    pub fn add_person(&self, user: &str, password: &str, given: &str, surname: &str) {
        self.tool(&[
            "user",
            "create",
            user,
            password,
            &format!("--given-name={given}"),
            &format!("--surname={surname}"),
        ]);
    }

    /// Sets `msDS-SupportedEncryptionTypes` on an account in the `Users` container.
    pub fn set_enctypes(&self, account: &str, bits: u32) {
        let ldif = self.dir.path().join("enctypes.ldif");
        let mut f = std::fs::File::create(&ldif).unwrap_or_else(|e| panic!("ldif: {e}"));
        let _ = write!(
            f,
            "dn: CN={account},CN=Users,DC=ad,DC=test\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\n\
             msDS-SupportedEncryptionTypes: {bits}\n"
        );
        run(Command::new("ldbmodify")
            .arg("-H")
            .arg(self.dir.path().join("dc/private/sam.ldb"))
            .arg(&ldif));
    }

    /// Exports the current keys of `principal` to a new keytab file.
    pub fn export_keytab(&self, principal: &str, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let _ = std::fs::remove_file(&path);
        self.tool(&[
            "domain",
            "exportkeytab",
            &path.display().to_string(),
            &format!("--principal={principal}"),
        ]);
        path
    }

    /// `kinit`s `user` into a fresh cache named `cache`.
    pub fn kinit(&self, user: &str, password: &str, cache: &str) -> PathBuf {
        crate::kinit(
            &self.krb5_conf(),
            &self.dir.path().join(cache),
            user,
            password,
        )
    }
}

/// A throwaway CA and a server certificate for the DC (Samba's own has no
/// subjectAltName, which rustls rightly refuses).
fn issue_certificates(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    let openssl = |args: &[&str]| run(Command::new("openssl").current_dir(dir).args(args));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Seamless Test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=dc1.ad.test",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:dc1.ad.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap_or_else(|e| panic!("server.ext: {e}"));
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    // Samba refuses a key file others can read.
    use std::os::unix::fs::PermissionsExt as _;
    let _ = std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    );
    dir.to_path_buf()
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        // `kill -s SIG -- -PGID`: procps misreads `kill -TERM -PGID` as a kill of
        // every process (-1).
        let group = format!("-{}", self.samba.id());
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &group])
            .status();
        let _ = self.samba.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", 88)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .status();
    }
}
