//! An interpreter-like cog gone wrong: its `manifest` (the first call every
//! instance gets, a spare's warm-up included) computes for about 150 ms,
//! and every command traps. Made ahead of calls as spares, such instances
//! must be charged to the cog — and a cog whose calls all fail must not
//! have each failure paid for with another warm-up.

use baseline_sdk::prelude::*;

struct HeavyStart;

impl Cog for HeavyStart {
    fn manifest(&self) -> Manifest {
        // ~150 ms of computing (a few hundred million additions).
        let mut n: u64 = 0;
        for i in 0..300_000_000u64 {
            n = std::hint::black_box(n.wrapping_add(i));
        }
        std::hint::black_box(n);
        Manifest::new().command(Command::new("heavy", "Trap, every time"))
    }

    fn on_command(&self, _command: CommandInvocation) -> Result<CommandResponse, CogError> {
        panic!("heavy-start fails every call on purpose")
    }
}

register_cog!(HeavyStart);
