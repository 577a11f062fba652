//! A sign-in in flight, kept in the browser that started it: the OAuth
//! `state`, the PKCE verifier, the return path and an expiry, as JSON
//! signed with HMAC-SHA256 under a key derived from the client secret
//! (shared by every process of the bot, so the callback may land on any of
//! them). Nothing is stored on the host before Discord sends the browser
//! back, so a flood of `GET /auth/login` from many addresses costs the host
//! no memory and can evict nothing.
//!
//! The cookie is HttpOnly and short-lived, sent only to this site; the
//! signature makes it unforgeable (a made-up verifier or return path is
//! refused). One use: Discord's code is single-use, and the callback clears
//! the cookie.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::store::now_millis;

type Signer = Hmac<Sha256>;

/// What the cookie carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// The OAuth `state` this browser was sent to Discord with.
    pub state: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// Where to go once signed in (a local path, checked when made).
    pub return_to: String,
    /// When it stops being accepted, ms since the epoch.
    pub expires_ms: i64,
}

/// Seals and opens [`PendingSignIn`] cookies.
pub struct SignInSeal {
    key: [u8; 32],
}

/// The longest cookie value opened (anything longer is not one of ours).
const MAX_COOKIE: usize = 2_048;

impl SignInSeal {
    /// A seal whose key is derived from the OAuth client `secret`.
    pub fn new(secret: &str) -> Self {
        let mut mac = Signer::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(b"baseline sign-in cookie v1");
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    fn signer(&self) -> Signer {
        Signer::new_from_slice(&self.key).expect("HMAC takes any key")
    }

    /// The cookie value for `pending`.
    pub fn seal(&self, pending: &PendingSignIn) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body = engine.encode(serde_json::to_vec(pending).unwrap_or_default());
        let mut mac = self.signer();
        mac.update(body.as_bytes());
        let tag = engine.encode(mac.finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// The sign-in `value` carries, if it is one of ours, intact and not
    /// expired.
    pub fn open(&self, value: &str) -> Option<PendingSignIn> {
        if value.len() > MAX_COOKIE {
            return None;
        }
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (body, tag) = value.split_once('.')?;
        let mut mac = self.signer();
        mac.update(body.as_bytes());
        mac.verify_slice(&engine.decode(tag).ok()?).ok()?;
        let pending: PendingSignIn = serde_json::from_slice(&engine.decode(body).ok()?).ok()?;
        (pending.expires_ms > now_millis()).then_some(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(expires_ms: i64) -> PendingSignIn {
        PendingSignIn {
            state: "s".into(),
            verifier: "v".into(),
            return_to: "/guilds/1".into(),
            expires_ms,
        }
    }

    #[test]
    fn a_sealed_sign_in_opens_only_intact_unexpired_and_under_its_key() {
        let seal = SignInSeal::new("secret");
        let live = pending(now_millis() + 60_000);
        let value = seal.seal(&live);
        assert_eq!(seal.open(&value), Some(live.clone()));
        // Another key (another bot's secret) does not open it.
        assert_eq!(SignInSeal::new("other").open(&value), None);
        // A changed body (another return path) breaks the signature.
        let (_, tag) = value.split_once('.').unwrap();
        let mut forged = live.clone();
        forged.return_to = "/evil".into();
        let forged_body = seal.seal(&forged);
        let (body, _) = forged_body.split_once('.').unwrap();
        assert_eq!(seal.open(&format!("{body}.{tag}")), None);
        // Expired, malformed, oversized.
        assert_eq!(seal.open(&seal.seal(&pending(now_millis() - 1))), None);
        for bad in ["", ".", "x", "x.y", &"a".repeat(5_000)] {
            assert_eq!(seal.open(bad), None, "{bad}");
        }
    }
}
