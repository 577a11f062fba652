//! Reading a `.wasm` file before compiling it: is it a component, which
//! version of the Baseline WIT does it export, which SDK stamped it. Cheap
//! (one pass of the parser), so a wrong file is refused with a clear reason
//! before Cranelift spends time on it.

use wasmparser::{Encoding, Parser, Payload};

use super::LoadError;
use crate::wit::WitVersion;

/// The interface every cog exports; its version is the cog's WIT version.
pub const HANDLER_EXPORT: &str = "baseline:cog/handler";
/// Custom section the guest SDK writes its version into.
pub const SDK_SECTION: &str = "baseline:sdk";

/// What the file says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ComponentFacts {
    /// Version of `baseline:cog/handler` the component exports.
    pub wit_version: String,
    /// The same, as the host knows it.
    #[serde(skip)]
    pub version: WitVersion,
    /// The SDK stamp (`baseline-sdk 0.1.0 wit baseline:cog@0.1.0`), when present.
    pub sdk: Option<String>,
}

/// Check that `bytes` is a component exporting a supported Baseline WIT.
pub fn inspect(bytes: &[u8]) -> Result<ComponentFacts, LoadError> {
    if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
        return Err(LoadError::NotWasm);
    }
    let mut depth = 0usize;
    let mut exports = Vec::new();
    let mut sdk = None;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|error| LoadError::Malformed(error.message().to_string()))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding == Encoding::Module {
                    return Err(LoadError::NotAComponent);
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(section) if depth == 1 => {
                for export in section {
                    let export = export
                        .map_err(|error| LoadError::Malformed(error.message().to_string()))?;
                    exports.push(export.name.name.to_string());
                }
            }
            Payload::CustomSection(section) if section.name() == SDK_SECTION => {
                sdk = Some(
                    String::from_utf8_lossy(section.data())
                        .trim_end_matches('\0')
                        .to_string(),
                );
            }
            _ => {}
        }
    }
    let handler = exports.iter().find_map(|name| {
        name.strip_prefix(HANDLER_EXPORT)
            .map(|rest| rest.trim_start_matches('@').to_string())
    });
    let Some(wit_version) = handler else {
        return Err(LoadError::WrongWorld { exports });
    };
    let Some(version) = WitVersion::parse(&wit_version) else {
        return Err(LoadError::UnsupportedWit {
            found: wit_version,
            sdk,
        });
    };
    Ok(ComponentFacts {
        wit_version,
        version,
        sdk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_wasm() {
        assert!(matches!(
            inspect(b"hello world, not wasm"),
            Err(LoadError::NotWasm)
        ));
        assert!(matches!(inspect(b""), Err(LoadError::NotWasm)));
    }

    #[test]
    fn refuses_a_core_module() {
        // The smallest core module: magic + version 1.
        let module = b"\0asm\x01\0\0\0";
        assert!(matches!(inspect(module), Err(LoadError::NotAComponent)));
    }

    #[test]
    fn refuses_a_truncated_component() {
        // Component header followed by a section that claims more bytes than exist.
        let truncated = b"\0asm\x0d\0\x01\0\x07\x7f\x01";
        assert!(
            matches!(inspect(truncated), Err(LoadError::Malformed(_))),
            "{:?}",
            inspect(truncated)
        );
    }
}
