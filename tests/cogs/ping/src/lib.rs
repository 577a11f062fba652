//! The smallest useful cog: `/fine`, answered at once with an ephemeral
//! "fine", no capabilities, no events. `just bench-cpu` runs it against
//! minimal serenity and twilight bots that give the same answer, so the
//! figures compare the same work (the hostile cog's `fine` answers
//! publicly, which makes Discord send a MESSAGE_CREATE back, and that cog
//! subscribes to messages and panics on each).

use baseline_sdk::prelude::*;

struct Ping;

impl Cog for Ping {
    fn manifest(&self) -> Manifest {
        Manifest::new().command(Command::new("fine", "Answer at once, only to you"))
    }

    fn on_command(&self, _command: CommandInvocation) -> Result<CommandResponse, CogError> {
        Ok(CommandResponse::ephemeral(Message::text("fine")))
    }
}

register_cog!(Ping);
