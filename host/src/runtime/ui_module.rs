//! A cog's browser UI module (`NAME.ui.wasm` beside `NAME.wasm`): checked
//! when the cog loads, served to the dashboard, run there in a worker with
//! only the bridge (`docs/ui-modules.md`).
//!
//! What the cog ships is a claim; the check here is what makes it a core
//! module the dashboard can run: under the size cap, valid, importing only
//! the bridge's three functions with their exact types (no memory, table or
//! global imports, nothing from another namespace), exporting `memory` and
//! the ABI's functions, its one memory declaring a maximum of at most 64
//! MiB (so the browser stops its growth there, mid-call, not the
//! dashboard's check after the call). The dashboard checks the imports again before it
//! instantiates, with namespace objects that have no prototype.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use baseline_api_types::pages::{MAX_UI_MEMORY_PAGES, MAX_UI_MODULE_BYTES, UI_EXPORTS, UI_IMPORTS};
use wasmparser::{ExternalKind, FuncType, Parser, Payload, TypeRef, ValType, Validator};

/// The most elements a UI module's table may grow to.
const MAX_UI_TABLE: u64 = 65_536;

/// A UI module that passed the checks.
#[derive(Debug)]
pub struct UiModule {
    /// The module's bytes, served as they are.
    pub bytes: Arc<[u8]>,
    /// SHA-256, hex (in the URL it is served at).
    pub sha256: String,
}

/// Where the UI module of the cog file `cog` would be.
pub fn path_for(cog: &Path) -> PathBuf {
    let stem = cog.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    cog.with_file_name(format!("{stem}.ui.wasm"))
}

/// The cog file a UI module belongs to (`NAME.ui.wasm` → `NAME.wasm`).
pub fn cog_for(ui: &Path) -> Option<PathBuf> {
    let name = ui.file_name()?.to_str()?;
    let stem = name.strip_suffix(".ui.wasm")?;
    Some(ui.with_file_name(format!("{stem}.wasm")))
}

/// Read and check the UI module beside `cog`: `None` when there is none,
/// `Some(Err(reason))` when it is refused.
pub async fn load_beside(cog: &Path) -> Option<Result<Arc<UiModule>, String>> {
    let path = path_for(cog);
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => return Some(Err(format!("cannot read {}: {error}", path.display()))),
    };
    let result = check(&bytes).map(|()| {
        Arc::new(UiModule {
            sha256: super::artifacts::wasm_hash(&bytes),
            bytes: bytes.into(),
        })
    });
    if let Err(reason) = &result {
        tracing::error!(file = %path.display(), %reason, "UI module refused");
    }
    Some(result)
}

fn i32s(count: usize) -> Vec<ValType> {
    vec![ValType::I32; count]
}

fn describe(ty: &FuncType) -> String {
    format!("{:?} -> {:?}", ty.params(), ty.results())
}

/// Whether `bytes` is a UI module the dashboard may run; why not otherwise.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() > MAX_UI_MODULE_BYTES {
        return Err(format!(
            "it is {} bytes; UI modules may be at most {MAX_UI_MODULE_BYTES}",
            bytes.len()
        ));
    }
    // WebAssembly 2.0 and no more (what Rust and other toolchains emit for
    // the browser today): no GC heap, no shared or 64-bit memories —
    // nothing that could allocate outside the one linear memory whose
    // maximum is checked below. (Several memories and components parse, to
    // be refused below with their own words.)
    let features = wasmparser::WasmFeatures::WASM2
        | wasmparser::WasmFeatures::MULTI_MEMORY
        | wasmparser::WasmFeatures::COMPONENT_MODEL;
    Validator::new_with_features(features)
        .validate_all(bytes)
        .map_err(|e| format!("it is not a valid WebAssembly 2.0 module: {e}"))?;
    let mut memories = 0;
    let mut types: Vec<Option<FuncType>> = Vec::new();
    // Function index → type index, imports first.
    let mut functions: Vec<u32> = Vec::new();
    let mut exports: Vec<(String, ExternalKind, u32)> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            Payload::Version { encoding, .. } if encoding != wasmparser::Encoding::Module => {
                return Err(
                    "it is a component; a UI module is a core module (see docs/ui-modules.md)"
                        .into(),
                );
            }
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(|e| e.to_string())?.into_types() {
                        types.push(match sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => Some(f),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    let TypeRef::Func(index) = import.ty else {
                        return Err(format!(
                            "it imports `{}.{}`, which is not a function; a UI module imports only the bridge's functions",
                            import.module, import.name
                        ));
                    };
                    let allowed = UI_IMPORTS.iter().find(|(module, name, ..)| {
                        *module == import.module && *name == import.name
                    });
                    let Some(&(_, _, params, results)) = allowed else {
                        return Err(format!(
                            "it imports `{}.{}`; a UI module may import only bridge.emit_view, bridge.call_action and bridge.page_context",
                            import.module, import.name
                        ));
                    };
                    let ty = types.get(index as usize).cloned().flatten();
                    match ty {
                        Some(ty)
                            if ty.params() == i32s(params) && ty.results() == i32s(results) => {}
                        other => {
                            return Err(format!(
                                "it imports `{}.{}` with the type {}; the bridge's is {params} i32 in, {results} i32 out",
                                import.module,
                                import.name,
                                other.as_ref().map(describe).unwrap_or_default()
                            ));
                        }
                    }
                    functions.push(index);
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(|e| e.to_string())?;
                    memories += 1;
                    let cap = MAX_UI_MEMORY_PAGES;
                    match memory.maximum {
                        None => {
                            return Err(format!(
                                "its memory declares no maximum; a UI module's may grow to at most {cap} pages (64 MiB): link with `--max-memory=67108864` (see docs/ui-modules.md)"
                            ));
                        }
                        Some(max) if max > cap || memory.memory64 || memory.shared => {
                            return Err(format!(
                                "its memory may grow to {max} pages; a UI module's may grow to at most {cap} (64 MiB), 32-bit and not shared"
                            ));
                        }
                        Some(_) => {}
                    }
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table.map_err(|e| e.to_string())?;
                    if table.ty.maximum.is_none_or(|max| max > MAX_UI_TABLE) {
                        return Err(format!(
                            "its table may grow to {}; a UI module's tables declare a maximum of at most {MAX_UI_TABLE} elements",
                            table
                                .ty
                                .maximum
                                .map_or("any size".to_string(), |m| format!("{m} elements"))
                        ));
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    functions.push(ty.map_err(|e| e.to_string())?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| e.to_string())?;
                    exports.push((export.name.to_string(), export.kind, export.index));
                }
            }
            _ => {}
        }
    }
    if memories > 1 {
        return Err(format!(
            "it defines {memories} memories; a UI module has one, capped at 64 MiB"
        ));
    }
    if !exports
        .iter()
        .any(|(name, kind, _)| name == "memory" && *kind == ExternalKind::Memory)
    {
        return Err("it does not export its `memory`".into());
    }
    for &(name, params, results) in UI_EXPORTS {
        let Some((_, kind, index)) = exports.iter().find(|(n, ..)| n == name) else {
            return Err(format!("it does not export `{name}`"));
        };
        let ty = (*kind == ExternalKind::Func)
            .then(|| functions.get(*index as usize))
            .flatten()
            .and_then(|t| types.get(*t as usize).cloned().flatten());
        match ty {
            Some(ty) if ty.params() == i32s(params) && ty.results() == i32s(results) => {}
            _ => {
                return Err(format!(
                    "its export `{name}` is not a function of {params} i32 to {results} i32"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_pair_up() {
        let cog = Path::new("/cogs/reference.wasm");
        assert_eq!(path_for(cog), Path::new("/cogs/reference.ui.wasm"));
        assert_eq!(
            cog_for(Path::new("/cogs/reference.ui.wasm")).as_deref(),
            Some(cog)
        );
        assert_eq!(cog_for(cog), None);
    }

    #[test]
    fn not_wasm_is_refused() {
        assert!(
            check(b"hello")
                .unwrap_err()
                .contains("not a valid WebAssembly")
        );
        let big = vec![0u8; MAX_UI_MODULE_BYTES + 1];
        assert!(check(&big).unwrap_err().contains("at most"));
    }

    fn with_memory(memory: &str) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(module
                (memory (export "memory") {memory})
                (func (export "ui_alloc") (param i32) (result i32) i32.const 1024)
                (func (export "ui_abi_version") (result i32) i32.const 1)
                (func (export "ui_init"))
                (func (export "ui_event") (param i32 i32)))"#
        ))
        .unwrap()
    }

    #[test]
    fn memory_must_be_capped_at_64_mib() {
        assert_eq!(check(&with_memory("1 1024")), Ok(()));
        assert_eq!(check(&with_memory("17 17")), Ok(()));
        let uncapped = check(&with_memory("1")).unwrap_err();
        assert!(uncapped.contains("declares no maximum"), "{uncapped}");
        let big = check(&with_memory("1 65536")).unwrap_err();
        assert!(big.contains("65536 pages"), "{big}");
        let big = check(&with_memory("1 1025")).unwrap_err();
        assert!(big.contains("at most 1024"), "{big}");
    }

    #[test]
    fn nothing_may_allocate_outside_the_capped_memory() {
        let with = |extra: &str| {
            wat::parse_str(format!(
                r#"(module
                    (memory (export "memory") 1 16)
                    {extra}
                    (func (export "ui_alloc") (param i32) (result i32) i32.const 1024)
                    (func (export "ui_abi_version") (result i32) i32.const 1)
                    (func (export "ui_init"))
                    (func (export "ui_event") (param i32 i32)))"#
            ))
            .unwrap()
        };
        assert_eq!(check(&with("(table 4 4 funcref)")), Ok(()));
        let growing = check(&with("(table 1 funcref)")).unwrap_err();
        assert!(growing.contains("any size"), "{growing}");
        let huge = check(&with("(table 1 10000000 externref)")).unwrap_err();
        assert!(huge.contains("10000000 elements"), "{huge}");
        let gc = check(&with("(type $a (array (mut i8)))")).unwrap_err();
        assert!(gc.contains("2.0"), "{gc}");
        let second = check(&with("(memory 1 1)")).unwrap_err();
        assert!(second.contains("2 memories"), "{second}");
    }
}
