//! What a Discord user is told when their interaction could not be answered
//! as the cog meant: one place for every such text, so they read alike. The
//! details (which cog, which limit, Discord's error) go to the operator's
//! log, never to the user.

use crate::runtime::FailureKind;

/// The host ended the cog's call (a limit, a trap, a panic).
pub fn for_failure(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Timeout => "This command took too long and was stopped.",
        FailureKind::Memory => {
            "This command needed more memory than it is allowed and was stopped."
        }
        FailureKind::OutputTooLarge => "This command's answer was too large to send.",
        _ => {
            "Something went wrong running this command. The bot's operator can see the details in the log."
        }
    }
}

/// The cog reported an internal error, or answered with something the host refuses.
pub const INTERNAL: &str =
    "Something went wrong on our side. The bot's operator can see the details in the log.";
/// The cog's answer breaks one of Discord's limits (checked before sending).
pub const OVER_LIMITS: &str = "This command failed: its answer breaks one of Discord's limits. The bot's operator can see which in the log.";
/// Discord refused the answer (a 400 the host's checks did not foresee).
pub const REFUSED_BY_DISCORD: &str =
    "This command failed: Discord refused its answer. The bot's operator can see why in the log.";
/// The answer has no form Discord can show for this kind of interaction.
pub const UNSENDABLE: &str = "This answer could not be sent.";
/// A deferred answer that never came.
pub const UNFINISHED: &str = "This command did not finish its answer.";
/// A component whose cog is gone.
pub const STALE_COMPONENT: &str = "This button no longer works.";
/// A component or modal of a cog switched off in the guild.
pub const FEATURE_OFF: &str = "This feature is turned off in this server.";
/// A modal that could not be opened in time.
pub const MODAL_TOO_LATE: &str = "This form took too long to open. Please try again.";

/// A command no loaded cog owns.
pub fn command_unavailable(name: &str) -> String {
    format!("`/{name}` is not available right now.")
}

/// A command whose cog is switched off in the guild.
pub fn command_off(name: &str) -> String {
    format!("`/{name}` is turned off in this server.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_failure_text_names_the_cog_or_the_detail() {
        for kind in FailureKind::ALL {
            let text = for_failure(kind);
            assert!(text.ends_with('.'), "{text}");
            assert!(!text.contains("cog"), "{text}");
        }
    }
}
