//! Kerberos principal names.

use std::fmt;
use std::str::FromStr;

/// `NT-PRINCIPAL`: a user.
pub const NT_PRINCIPAL: i32 = 1;
/// `NT-SRV-INST`: a service such as `HTTP/host`.
pub const NT_SRV_INST: i32 = 2;
/// `NT-SRV-HST`: a service with a host name.
pub const NT_SRV_HST: i32 = 3;
/// `NT-ENTERPRISE`: `user@upn.suffix` as one component.
pub const NT_ENTERPRISE: i32 = 10;

/// A principal with its realm, such as `HTTP/app.contoso.com@CONTOSO.COM`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrincipalName {
    /// The name type (1 principal, 2 service instance, 10 enterprise, ...).
    pub name_type: i32,
    /// The components (`["HTTP", "app.contoso.com"]`).
    pub components: Vec<String>,
    /// The realm.
    pub realm: String,
}

/// Why a principal name string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid principal name {0:?}: expected name[/instance]@REALM")]
pub struct PrincipalParseError(pub String);

impl PrincipalName {
    /// A service principal `service/host@REALM`.
    pub fn service(service: &str, host: &str, realm: &str) -> Self {
        Self {
            name_type: NT_SRV_INST,
            components: vec![service.into(), host.into()],
            realm: realm.into(),
        }
    }

    /// A user principal `user@REALM`.
    pub fn user(user: &str, realm: &str) -> Self {
        Self {
            name_type: NT_PRINCIPAL,
            components: vec![user.into()],
            realm: realm.into(),
        }
    }

    /// Components joined with `/`, without the realm.
    pub fn name(&self) -> String {
        self.components.join("/")
    }

    /// Same components and realm, ignoring ASCII case and the name type (AD treats
    /// SPNs case-insensitively; browsers lower-case host names).
    pub fn matches(&self, realm: &str, components: &[&str]) -> bool {
        self.realm.eq_ignore_ascii_case(realm)
            && self.components.len() == components.len()
            && self
                .components
                .iter()
                .zip(components)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }
}

impl fmt::Display for PrincipalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.components.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            for ch in c.chars() {
                if matches!(ch, '/' | '@' | '\\') {
                    f.write_str("\\")?;
                }
                write!(f, "{ch}")?;
            }
        }
        write!(f, "@{}", self.realm)
    }
}

impl FromStr for PrincipalName {
    type Err = PrincipalParseError;

    /// Parses `name[/instance...]@REALM` (backslash escapes `/` and `@`). A name
    /// with two components is taken as a service instance.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PrincipalParseError(s.to_string());
        let mut components = vec![String::new()];
        let mut realm: Option<String> = None;
        let mut chars = s.chars();
        while let Some(ch) = chars.next() {
            let in_name = realm.is_none();
            let ch = match ch {
                '\\' => chars.next().ok_or_else(bad)?,
                '/' if in_name => {
                    components.push(String::new());
                    continue;
                }
                '@' if in_name => {
                    realm = Some(String::new());
                    continue;
                }
                c => c,
            };
            match &mut realm {
                Some(r) => r.push(ch),
                None => components.last_mut().ok_or_else(bad)?.push(ch),
            }
        }
        let realm = realm.filter(|r| !r.is_empty()).ok_or_else(bad)?;
        if components.iter().any(String::is_empty) {
            return Err(bad());
        }
        let name_type = if components.len() == 1 {
            NT_PRINCIPAL
        } else {
            NT_SRV_INST
        };
        Ok(Self {
            name_type,
            components,
            realm,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_services_and_users() {
        let p: PrincipalName = "HTTP/app.contoso.com@CONTOSO.COM".parse().expect("parses");
        assert_eq!(
            p,
            PrincipalName::service("HTTP", "app.contoso.com", "CONTOSO.COM")
        );
        assert_eq!(p.to_string(), "HTTP/app.contoso.com@CONTOSO.COM");
        assert!(p.matches("contoso.com", &["http", "APP.contoso.com"]));
        let u: PrincipalName = "alice\\@corp@CONTOSO.COM".parse().expect("escaped");
        assert_eq!(u.components, vec!["alice@corp".to_string()]);
        assert_eq!(u.to_string(), "alice\\@corp@CONTOSO.COM");
        for bad in ["alice", "alice@", "/x@R", "a//b@R", "a\\"] {
            assert!(bad.parse::<PrincipalName>().is_err(), "{bad}");
        }
    }
}
