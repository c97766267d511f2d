//! The contract every [`Directory`] must meet, as async cases over one
//! population ([`POPULATION`]): `alice` (enabled, in `staff`, answering to
//! `alice@ad.test`, `AD\alice` and `alice`) and `bob` (disabled).
//! [`directory_contract_tests!`] expands to one `#[test]` per case for a cheap
//! directory; [`run_all`] runs every case on one directory (a Samba DC is started
//! once). The static directory and the LDAP directory run the same cases.
//!
//! [`directory_contract_tests!`]: crate::directory_contract_tests

use std::sync::Arc;

use crate::backends::{Directory, User, UserQuery};

/// The population as a [`StaticDirectory`](crate::backends::StaticDirectory)
/// file. An LDAP directory under test holds the same users (`samba-tool user
/// create alice` / `bob`, `bob` disabled, `alice` in group `staff`).
pub const POPULATION: &str = r#"
[[users]]
id = "u-alice"
upn = "alice@ad.test"
display_name = "Alice Liddell"
sid = "S-1-5-21-1004336348-1177238915-682003330-1105"
groups = ["staff"]
alternate_logins = ["AD\\alice"]

[[users]]
id = "u-bob"
upn = "bob@ad.test"
sid = "S-1-5-21-1004336348-1177238915-682003330-1106"
alternate_logins = ["AD\\bob"]
enabled = false
"#;

async fn by_login(directory: &dyn Directory, login: &str) -> Option<User> {
    directory
        .find(&UserQuery::Logins(vec![login.into()]))
        .await
        .unwrap_or_else(|e| panic!("{login}: {e}"))
}

/// Every form a user may type finds the same user, whatever its case.
pub async fn every_login_form_finds_the_user(directory: Arc<dyn Directory>) {
    let alice = by_login(directory.as_ref(), "alice@ad.test")
        .await
        .expect("alice by UPN");
    assert!(
        alice.upn.eq_ignore_ascii_case("alice@ad.test"),
        "{}",
        alice.upn
    );
    for login in ["ALICE@AD.TEST", "AD\\alice", "ad\\ALICE", "alice"] {
        let found = by_login(directory.as_ref(), login).await;
        assert_eq!(found.map(|u| u.id), Some(alice.id.clone()), "{login}");
    }
}

/// The SID (what a ticket's PAC carries) finds whom the name finds.
pub async fn the_sid_finds_whom_the_name_finds(directory: Arc<dyn Directory>) {
    let alice = by_login(directory.as_ref(), "alice@ad.test")
        .await
        .expect("alice");
    let sid = alice.sid.clone().expect("alice has a SID");
    let by_sid = directory
        .find(&UserQuery::Sid(sid))
        .await
        .expect("search")
        .expect("alice by SID");
    assert_eq!(by_sid.id, alice.id);
    let stranger = "S-1-5-21-1-2-3-4242".parse().expect("sid");
    let nobody = directory.find(&UserQuery::Sid(stranger)).await;
    assert!(matches!(nobody, Ok(None)), "{nobody:?}");
}

/// Groups and the account's state are reported.
pub async fn groups_and_account_state_are_reported(directory: Arc<dyn Directory>) {
    let alice = by_login(directory.as_ref(), "alice").await.expect("alice");
    assert!(
        alice.groups.iter().any(|g| g.eq_ignore_ascii_case("staff")),
        "{:?}",
        alice.groups
    );
    assert!(alice.enabled && !alice.locked && !alice.expired);
    assert_eq!(alice.refusal(), None);
    let bob = by_login(directory.as_ref(), "bob").await.expect("bob");
    assert!(!bob.enabled, "bob is disabled");
    assert_eq!(bob.refusal(), Some(crate::error::Code::AccountDisabled));
}

/// Unknown names, and names written to be filters or wildcards, find nobody
/// (no LDAP injection, no prefix match) and are no error.
pub async fn unknown_and_hostile_names_find_nobody(directory: Arc<dyn Directory>) {
    for login in [
        "nobody",
        "nobody@ad.test",
        "*",
        "alice*",
        "*lice",
        "alice)(|(cn=*",
        "a\\00b",
        "OTHER\\alice",
        "alice@other.test",
    ] {
        assert_eq!(by_login(directory.as_ref(), login).await, None, "{login}");
    }
}

/// Runs every case on one directory, in order.
pub async fn run_all(directory: Arc<dyn Directory>) {
    every_login_form_finds_the_user(directory.clone()).await;
    the_sid_finds_whom_the_name_finds(directory.clone()).await;
    groups_and_account_state_are_reported(directory.clone()).await;
    unknown_and_hostile_names_find_nobody(directory).await;
}

/// One `#[test]` per case of the directory contract. `$run` takes a case
/// (`fn(Arc<dyn Directory>) -> impl Future`) and runs it on a directory that
/// holds [`POPULATION`].
#[macro_export]
macro_rules! directory_contract_tests {
    ($run:path) => {
        $crate::directory_contract_tests!(@cases $run,
            every_login_form_finds_the_user,
            the_sid_finds_whom_the_name_finds,
            groups_and_account_state_are_reported,
            unknown_and_hostile_names_find_nobody
        );
    };
    (@cases $run:path, $($case:ident),+) => {
        $(
            #[test]
            fn $case() {
                $run($crate::testkit::directory_contract::$case);
            }
        )+
    };
}
