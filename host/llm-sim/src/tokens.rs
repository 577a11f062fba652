//! The simulator's token arithmetic: a fixed estimate (a token per four
//! characters, at least one), and the prompt prefixes it has seen, for
//! cache hits. Real providers tokenize differently; what matters to the
//! host is that the numbers are deterministic and add up the way each
//! provider's usage fields do.

use std::collections::HashSet;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

/// Tokens of `text`.
pub fn count(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

/// Tokens an image costs in a prompt.
pub const IMAGE_TOKENS: u64 = 85;
/// Tokens of overhead per message.
pub const PER_MESSAGE: u64 = 3;
/// The shortest prefix a provider caches.
pub const MIN_CACHED: u64 = 1024;
/// OpenAI caches in steps of this many tokens.
pub const CACHE_STEP: u64 = 128;

/// Prefixes seen, by provider and content hash.
#[derive(Default)]
pub struct PrefixCache {
    seen: Mutex<HashSet<(String, [u8; 32])>>,
}

impl PrefixCache {
    /// Whether `provider` saw `prefix` before; remember it either way.
    pub fn hit(&self, provider: &str, prefix: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(prefix.as_bytes()).into();
        !self.seen.lock().insert((provider.to_string(), digest))
    }
}
