//! The on-disk cache of compiled cogs, keyed by the wasm file's SHA-256 and
//! the engine's compatibility hash (wasmtime version + settings), so a restart
//! or a reload of an unchanged file never runs Cranelift again.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::LoadError;

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Compiled now (and written to the cache).
    Compiled,
    /// Loaded from the cache.
    Cached,
}

/// A compiled-artifact cache in one folder.
pub struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
}

/// SHA-256 of a wasm file, hex.
pub fn wasm_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl ArtifactCache {
    /// A cache in `dir` for `engine` (created on first write).
    pub fn new(dir: impl Into<PathBuf>, engine: &Engine) -> Self {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self {
            dir: dir.into(),
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    fn path_for(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}-{}.cwasm", self.engine_key))
    }

    /// The component for `bytes` (whose hash is `hash`), from the cache when
    /// possible. Blocking: call it off the async threads.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        hash: &str,
        bytes: &[u8],
        what: &str,
    ) -> Result<(Component, Origin, Duration), LoadError> {
        let started = Instant::now();
        let path = self.path_for(hash);
        if path.exists() {
            // SAFETY: files in the artifact folder are written only by this
            // cache, from `Engine::precompile_component` of the same engine
            // configuration (the file name carries its compatibility hash).
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, Origin::Cached, started.elapsed())),
                Err(error) => {
                    tracing::warn!(file = %path.display(), %error, "unusable compiled artifact; recompiling");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        if bytes.len() > BIG {
            // Seconds of Cranelift: say so while it runs, not only after.
            tracing::info!(
                cog = what,
                mib = format!("{:.1}", bytes.len() as f64 / 1048576.0),
                "compiling a large component (an interpreter inside, likely); this takes a few seconds, once: the result is cached"
            );
        }
        let compiled = engine
            .precompile_component(bytes)
            .map_err(|error| LoadError::Compile(format!("{error:#}")))?;
        if let Err(error) = write_atomically(&path, &compiled) {
            tracing::warn!(file = %path.display(), %error, "cannot write the compiled-artifact cache; continuing without it");
        }
        // SAFETY: `compiled` was just produced by `precompile_component` of this engine.
        let component = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|error| LoadError::Compile(format!("{error:#}")))?;
        Ok((component, Origin::Compiled, started.elapsed()))
    }
}

/// Components larger than this (bytes) get a line before they compile.
const BIG: usize = 2 << 20;

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}
