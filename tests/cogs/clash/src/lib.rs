//! A cog that claims `/status`, which the `status` cog already owns.

use baseline_sdk::prelude::*;

struct Clash;

impl Cog for Clash {
    fn manifest(&self) -> Manifest {
        Manifest::new().command(Command::new("status", "A second /status"))
    }
}

register_cog!(Clash);
