//! On-disk cache of compiled components (wasmtime's serialized form), keyed by the
//! SHA-256 of the `.wasm` file and the engine's compatibility hash, so a restart or a
//! reload of unchanged plugins skips compilation.
//!
//! Every swap of a plugin adds an entry, so the cache is bounded: an entry's modification
//! time is when it was last used, and each write drops the least recently used entries
//! beyond [`BUDGET`] bytes (and temporary files of interrupted writes).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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

/// The bytes of compiled code the cache keeps (the built-in plugins take about 10 MiB).
pub const BUDGET: u64 = 512 * 1024 * 1024;

/// Age after which a temporary file is taken for the leftover of an interrupted write.
const STALE_TEMP: Duration = Duration::from_secs(3600);

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
                    Ok(c) => {
                        touch(path);
                        return Ok((c, true));
                    }
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "discarding unreadable cache entry")
                    }
                }
            }
        }
        let component = Component::new(engine, bytes).wctx("compiling the component")?;
        if let Some(path) = &path {
            match store(path, &component) {
                Ok(()) => prune(path, BUDGET),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = format!("{e:#}"), "cannot write compile cache")
                }
            }
        }
        Ok((component, false))
    }
}

/// Marks the entry at `path` as used now.
fn touch(path: &Path) {
    let now = SystemTime::now();
    if let Err(e) = std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(now))
    {
        tracing::debug!(path = %path.display(), error = %e, "cannot mark cache entry as used");
    }
}

/// Keeps the most recently used entries of `kept`'s directory up to `budget` bytes, and
/// always `kept` itself (just written); removes the others, and temporary files older than
/// [`STALE_TEMP`]. Errors (another host pruning the same directory) are skipped.
fn prune(kept: &Path, budget: u64) {
    let Some(dir) = kept.parent() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    let mut cached: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
    for entry in entries.map_while(Result::ok) {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext)
                if ext.starts_with("tmp")
                    && now.duration_since(used).unwrap_or_default() > STALE_TEMP =>
            {
                remove(&path)
            }
            Some("cwasm") if path != kept => cached.push((used, meta.len(), path)),
            _ => {}
        }
    }
    let mut total = std::fs::metadata(kept).map(|m| m.len()).unwrap_or(0);
    cached.sort_by_key(|(used, _, _)| std::cmp::Reverse(*used));
    for (_, len, path) in cached {
        total = total.saturating_add(len);
        if total > budget {
            remove(&path);
        }
    }
}

fn remove(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(path = %path.display(), "removed from the compile cache"),
        Err(e) => tracing::debug!(path = %path.display(), error = %e, "cannot remove cache file"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;

    /// Writes `len` bytes to `name`, last used `age` ago.
    fn entry(dir: &TempDir, name: &str, len: usize, age: Duration) -> PathBuf {
        let path = dir.write(name, &"x".repeat(len));
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
        path
    }

    #[test]
    fn keeps_the_most_recently_used_entries_within_the_budget() {
        let dir = TempDir::new("cache-prune");
        let hour = Duration::from_secs(3600);
        entry(&dir, "a-e.cwasm", 100, hour * 3);
        entry(&dir, "b-e.cwasm", 100, hour * 2);
        entry(&dir, "c-other.cwasm", 100, hour);
        let kept = entry(&dir, "new-e.cwasm", 100, Duration::ZERO);
        entry(&dir, "old-e.tmp123", 10, hour * 2);
        entry(&dir, "fresh-e.tmp456", 10, Duration::from_secs(60));
        entry(&dir, "notes.txt", 10, hour * 5);

        prune(&kept, 250);
        assert_eq!(
            dir.names(),
            [
                "c-other.cwasm",
                "fresh-e.tmp456",
                "new-e.cwasm",
                "notes.txt"
            ]
        );
        prune(&kept, 1000);
        assert_eq!(dir.names().len(), 4, "nothing more to remove");
    }

    #[test]
    fn the_entry_just_written_stays_even_beyond_the_budget() {
        let dir = TempDir::new("cache-big");
        entry(&dir, "old-e.cwasm", 10, Duration::from_secs(10));
        let kept = entry(&dir, "big-e.cwasm", 500, Duration::ZERO);
        prune(&kept, 100);
        assert_eq!(dir.names(), ["big-e.cwasm"]);
    }

    #[test]
    fn a_cache_hit_marks_the_entry_as_used() {
        let dir = TempDir::new("cache-touch");
        let path = entry(&dir, "a-e.cwasm", 10, Duration::from_secs(7200));
        touch(&path);
        let used = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert!(SystemTime::now().duration_since(used).unwrap() < Duration::from_secs(60));
    }
}
