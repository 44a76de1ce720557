//! On-disk cache of compiled components (wasmtime's serialized form), keyed by the
//! SHA-256 of the `.wasm` file and the engine's compatibility hash, so a restart or a
//! reload of unchanged plugins skips compilation.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::WasmContext as _;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The cache: a directory of `<content-hash>-<engine-hash>.cwasm` files.
#[derive(Clone, Debug)]
pub struct ArtifactCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

impl ArtifactCache {
    /// A cache in `dir`, or in the default location (`$XDG_CACHE_HOME/amihost`,
    /// `$HOME/.cache/amihost`, else the temp dir) when `None`.
    pub fn new(dir: Option<&Path>, engine: &Engine) -> ArtifactCache {
        let dir = dir.map(Path::to_path_buf).or_else(default_dir);
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        ArtifactCache {
            dir,
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    fn path_for(&self, hash: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{hash}-{}.cwasm", self.engine_key)))
    }

    /// The compiled component for `bytes` (whose SHA-256 is `hash`), from the cache when
    /// present, else compiled and stored. Returns whether it came from the cache.
    pub fn component(
        &self,
        engine: &Engine,
        bytes: &[u8],
        hash: &str,
    ) -> anyhow::Result<(Component, bool)> {
        let path = self.path_for(hash);
        if let Some(path) = &path {
            if path.exists() {
                // SAFETY: the file is one this cache wrote with `Component::serialize` for
                // an engine of the same compatibility hash (the key says so), in a
                // directory only this user writes.
                #[allow(unsafe_code)]
                let loaded = unsafe { Component::deserialize_file(engine, path) };
                match loaded {
                    Ok(c) => return Ok((c, true)),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "discarding unreadable cache entry")
                    }
                }
            }
        }
        let component = Component::new(engine, bytes).wctx("compiling the component")?;
        if let Some(path) = &path {
            if let Err(e) = store(path, &component) {
                tracing::warn!(path = %path.display(), error = format!("{e:#}"), "cannot write compile cache");
            }
        }
        Ok((component, false))
    }
}

fn store(path: &Path, component: &Component) -> anyhow::Result<()> {
    let dir = path.parent().context("cache path has no directory")?;
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let bytes = component.serialize()?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn default_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x).join("amihost"));
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(h).join(".cache").join("amihost"));
    }
    Some(std::env::temp_dir().join("amihost-cache"))
}
