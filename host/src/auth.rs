//! Login: plaintext secrets and the MD5 challenge, permit/deny ACLs. No I/O here.
//!
//! Secrets and keys are compared in constant time. Every failure looks the same on the
//! wire (`Authentication failed`); the reason goes to the log only.

use std::net::IpAddr;

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use crate::config::{Config, User};
use crate::message::Message;
use crate::state::fill_random;

/// Why a login failed (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginFailure {
    /// No such user.
    NoSuchUser(String),
    /// The peer address is denied by the user's ACL.
    Acl(String),
    /// Wrong secret or key, or none configured.
    BadSecret(String),
}

impl std::fmt::Display for LoginFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoginFailure::NoSuchUser(u) => {
                write!(f, "tried to authenticate with nonexistent user '{u}'")
            }
            LoginFailure::Acl(u) => write!(f, "failed to pass IP ACL as '{u}'"),
            LoginFailure::BadSecret(u) => write!(f, "failed to authenticate as '{u}'"),
        }
    }
}

/// A new challenge nonce: decimal, at most nine digits, as Asterisk's `%ld` of `random()`
/// in a 10-byte buffer; drawn from the OS CSPRNG.
pub fn new_challenge() -> String {
    let mut b = [0u8; 4];
    fill_random(&mut b);
    (u32::from_le_bytes(b) % 1_000_000_000).to_string()
}

/// `lowercase_hex(md5(challenge ++ secret))`.
pub fn md5_key(challenge: &str, secret: &str) -> String {
    let mut h = Md5::new();
    h.update(challenge.as_bytes());
    h.update(secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Checks a Login request against the configuration (`authenticate()`), for a peer at
/// `ip` on a session that issued `challenge` (if any).
pub fn authenticate<'c>(
    config: &'c Config,
    req: &Message,
    ip: IpAddr,
    challenge: Option<&str>,
) -> Result<&'c User, LoginFailure> {
    let name = req.header("Username");
    let user = config
        .user(name)
        .ok_or_else(|| LoginFailure::NoSuchUser(name.to_string()))?;
    if !user.acl_allows(ip) {
        return Err(LoginFailure::Acl(user.name.clone()));
    }
    let bad = || LoginFailure::BadSecret(user.name.clone());
    let secret = user.secret.as_deref().ok_or_else(bad)?;
    if req.header("AuthType").eq_ignore_ascii_case("md5") && user.md5_allowed() {
        let key = req.header("Key");
        let challenge = challenge.ok_or_else(bad)?;
        if key.is_empty() || !ct_eq(key, &md5_key(challenge, secret)) {
            return Err(bad());
        }
    } else if !ct_eq(req.header("Secret"), secret) {
        return Err(bad());
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        Config::from_toml_str(
            "[users.admin]\nsecret = \"amp111\"\nread = \"all\"\nwrite = \"all\"\n\
             [users.lan]\nsecret = \"x\"\ndeny = [\"0.0.0.0/0\"]\npermit = [\"10.0.0.0/8\"]\n",
            Path::new("test.toml"),
        )
        .unwrap()
    }

    fn login(pairs: &[(&str, &str)]) -> Message {
        Message::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn md5_key_matches_asterisk() {
        // From the Asterisk 22 transcript 19: challenge 213148923, secret amp111.
        assert_eq!(
            md5_key("213148923", "amp111"),
            "cec95e5db4b2ecb7c815c2fb1326ca6f"
        );
    }

    #[test]
    fn plaintext_and_md5() {
        let c = config();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(authenticate(
            &c,
            &login(&[("Username", "ADMIN"), ("Secret", "amp111")]),
            ip,
            None
        )
        .is_ok());
        assert!(authenticate(
            &c,
            &login(&[("Username", "admin"), ("Secret", "nope")]),
            ip,
            None
        )
        .is_err());
        assert!(matches!(
            authenticate(
                &c,
                &login(&[("Username", "ghost"), ("Secret", "x")]),
                ip,
                None
            ),
            Err(LoginFailure::NoSuchUser(_))
        ));
        let key = md5_key("42", "amp111");
        let ok = login(&[("Username", "admin"), ("AuthType", "md5"), ("Key", &key)]);
        assert!(authenticate(&c, &ok, ip, Some("42")).is_ok());
        assert!(authenticate(&c, &ok, ip, None).is_err());
        assert!(authenticate(&c, &ok, ip, Some("43")).is_err());
        let upper = login(&[
            ("Username", "admin"),
            ("AuthType", "MD5"),
            ("Key", &key.to_uppercase()),
        ]);
        assert!(authenticate(&c, &upper, ip, Some("42")).is_err());
    }

    #[test]
    fn acl_is_checked() {
        let c = config();
        let req = login(&[("Username", "lan"), ("Secret", "x")]);
        assert!(matches!(
            authenticate(&c, &req, "127.0.0.1".parse().unwrap(), None),
            Err(LoginFailure::Acl(_))
        ));
        assert!(authenticate(&c, &req, "10.1.2.3".parse().unwrap(), None).is_ok());
    }

    #[test]
    fn challenges_have_at_most_nine_digits() {
        for _ in 0..100 {
            let c = new_challenge();
            assert!(c.len() <= 9 && c.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
