//! A cog whose start-up code never ends: a static constructor (run when
//! the instance starts, before any export) that spins. The host must refuse
//! it within its load deadline and go on loading the others.

use baseline_sdk::prelude::*;

extern "C" fn spin_forever() {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static SPIN_AT_START: extern "C" fn() = spin_forever;

struct SpinStart;

impl Cog for SpinStart {}

register_cog!(SpinStart);
