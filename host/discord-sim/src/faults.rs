//! REST faults a test injects: the next `count` requests whose path
//! contains `path` (and whose method matches, when given) are delayed and/or
//! answered with `status` (429 comes with `Retry-After` and Discord's
//! rate-limit headers and body).

use parking_lot::Mutex;

/// One injected REST fault.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct RestFault {
    /// HTTP method to match (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// A substring of the request path to match.
    pub path: String,
    /// Status to answer with; absent means only delay, then answer normally.
    #[serde(default)]
    pub status: Option<u16>,
    /// For a 429: the `Retry-After`, in milliseconds.
    #[serde(default = "default_retry_after")]
    pub retry_after_ms: u64,
    /// Delay before answering, in milliseconds.
    #[serde(default)]
    pub delay_ms: u64,
    /// How many requests it applies to.
    #[serde(default = "default_count")]
    pub count: u32,
}

fn default_retry_after() -> u64 {
    200
}

fn default_count() -> u32 {
    1
}

/// The queue of injected REST faults.
#[derive(Default)]
pub struct RestFaults {
    queue: Mutex<Vec<RestFault>>,
}

impl RestFaults {
    /// Add a fault.
    pub fn push(&self, fault: RestFault) {
        self.queue.lock().push(fault);
    }

    /// Take one use of the first fault matching this request, if any.
    pub fn take(&self, method: &str, path: &str) -> Option<RestFault> {
        let mut queue = self.queue.lock();
        let index = queue.iter().position(|f| {
            f.count > 0
                && path.contains(&f.path)
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
        })?;
        let fault = &mut queue[index];
        fault.count -= 1;
        let taken = fault.clone();
        if fault.count == 0 {
            queue.remove(index);
        }
        Some(taken)
    }

    /// Faults still pending.
    pub fn pending(&self) -> Vec<RestFault> {
        self.queue.lock().clone()
    }
}
