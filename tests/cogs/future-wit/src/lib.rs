//! A cog from the future: it exports `baseline:cog/handler@0.4.0`.

wit_bindgen::generate!({ path: "wit", world: "cog" });

#[used]
#[unsafe(link_section = "baseline:sdk")]
static SDK_STAMP: [u8; 41] = *b"baseline-sdk 0.4.0 wit baseline:cog@0.4.0";

struct Future;

impl exports::baseline::cog::handler::Guest for Future {
    fn manifest() -> String {
        "from the future".into()
    }
}

export!(Future);
