//! Asterisk-format `.conf` files in the config directory: the engine behind the
//! `config-files` WIT interface (GetConfig, UpdateConfig).
//!
//! * Reading uses [`crate::config::conf_file`]: `;` and `;-- --;` comments, `=` and `=>`,
//!   `#include` (expanded in place), `[category](template)` (the template part is ignored).
//! * Every name is relative to the config directory. A name that is absolute, has a `..`
//!   component, or resolves (symlinks followed) outside the directory is
//!   [`ConfigFileError::Forbidden`]; so is a file that `#include`s one outside it. The
//!   include check scans `#include` lines before anything is read, without telling
//!   commented-out lines from live ones: a commented-out include that points outside the
//!   directory refuses the file too.
//! * [`ConfigDir::update`] applies the steps of UpdateConfig (reference §4.9) and writes
//!   the result atomically (temporary file in the same directory, fsync, rename, fsync of
//!   the directory). The file is written from the parsed model, Asterisk-style: a
//!   generated `;!` header, then each category and its variables. **Comments and blank
//!   lines of the source are not preserved, and included files are written inline** into
//!   the destination (the `#include` lines are not kept).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::clock::utc_date_time;
use crate::config::conf_file::{self, ConfFile, MAX_INCLUDE_DEPTH};

/// Serializes updates in this process, so two UpdateConfigs of one file do not interleave
/// their load and write.
static UPDATE_LOCK: Mutex<()> = Mutex::new(());

/// Distinguishes the temporary files of concurrent writes.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Why a config operation failed (mirrors WIT `config-files.config-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFileError {
    /// The file does not exist or cannot be parsed.
    NotFound,
    /// The name leaves the config directory.
    Forbidden,
    /// Writing the destination failed; it was left unchanged.
    SaveFailed,
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigFileError::NotFound => "config file not found",
            ConfigFileError::Forbidden => "config file outside the config directory",
            ConfigFileError::SaveFailed => "save of config file failed",
        })
    }
}

impl std::error::Error for ConfigFileError {}

/// One `name = value` (or `name => value`) line (mirrors WIT `config-files.variable`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variable {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Written with `=>`.
    pub object: bool,
}

/// One `[category]` and its variables in file order (mirrors WIT
/// `config-files.category`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Category {
    /// Category name.
    pub name: String,
    /// Its variables.
    pub variables: Vec<Variable>,
}

/// One UpdateConfig step (mirrors WIT `config-files.update-step`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateStep {
    /// Verb (case-insensitive): `NewCat`, `RenameCat`, `DelCat`, `Update`, `Delete`,
    /// `Append`.
    pub action: String,
    /// Category.
    pub category: String,
    /// Variable name.
    pub variable: String,
    /// Value; a leading `>` is removed and marks an object (`=>`).
    pub value: String,
    /// For Update/Delete the current value that must match (case-insensitive); for
    /// Append, `object` marks an object.
    pub match_value: String,
}

/// The config directory: every file name is relative to it and must stay inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDir {
    root: PathBuf,
}

impl ConfigDir {
    /// The config directory at `root` (it need not exist yet: until it does, every
    /// [`load`](Self::load) is `NotFound`).
    pub fn new(root: impl Into<PathBuf>) -> ConfigDir {
        ConfigDir { root: root.into() }
    }

    /// The directory as given to [`new`](Self::new).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Loads `filename` (relative to the config directory), includes expanded, as
    /// GetConfig lists it.
    ///
    /// `NotFound` when the file is missing or does not parse; `Forbidden` when it, or a
    /// file it includes, lies outside the directory.
    pub fn load(&self, filename: &str) -> Result<Vec<Category>, ConfigFileError> {
        let root = self.canonical_root()?;
        let path = source_path(&root, filename)?;
        let conf = load_checked(&root, &path)?;
        Ok(to_model(conf))
    }

    /// Loads `source`, applies `steps` in order (reference §4.9; steps that do not apply
    /// are ignored) and writes the result to `destination` atomically. Comments of the
    /// source are not preserved (see the module documentation).
    ///
    /// Errors, in the order they are checked: `NotFound`/`Forbidden` for the source as in
    /// [`load`](Self::load); `Forbidden` when `destination` leaves the directory;
    /// `SaveFailed` when writing failed, the destination then being left as it was.
    pub fn update(
        &self,
        source: &str,
        destination: &str,
        steps: &[UpdateStep],
    ) -> Result<(), ConfigFileError> {
        let _guard = UPDATE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let root = self.canonical_root()?;
        let path = source_path(&root, source)?;
        let mut categories = to_model(load_checked(&root, &path)?);
        let target = destination_path(&root, destination)?;
        apply_steps(&mut categories, steps);
        let text = render(destination, &categories, SystemTime::now());
        write_atomic(&target, text.as_bytes(), |from, to| fs::rename(from, to)).map_err(|e| {
            tracing::warn!(file = %target.display(), error = %e, "UpdateConfig: save failed");
            ConfigFileError::SaveFailed
        })
    }

    fn canonical_root(&self) -> Result<PathBuf, ConfigFileError> {
        fs::canonicalize(&self.root).map_err(|_| ConfigFileError::NotFound)
    }
}

/// Checks that `name` is a plain relative path (no root, no `..`) and names something.
fn relative(name: &str) -> Result<&Path, ConfigFileError> {
    if name.is_empty() {
        return Err(ConfigFileError::NotFound);
    }
    let path = Path::new(name);
    let mut normal = false;
    for component in path.components() {
        match component {
            Component::Normal(_) => normal = true,
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(ConfigFileError::Forbidden)
            }
        }
    }
    if path.is_absolute() {
        return Err(ConfigFileError::Forbidden);
    }
    if !normal {
        return Err(ConfigFileError::NotFound);
    }
    Ok(path)
}

/// The path of an existing source file under `root` (canonical). The returned path is not
/// canonicalized itself, so `#include`s resolve against the directory the name is in.
fn source_path(root: &Path, name: &str) -> Result<PathBuf, ConfigFileError> {
    let path = root.join(relative(name)?);
    let real = fs::canonicalize(&path).map_err(|_| ConfigFileError::NotFound)?;
    if !real.starts_with(root) {
        return Err(ConfigFileError::Forbidden);
    }
    Ok(path)
}

/// The file to write for `name` under `root` (canonical): the canonical parent joined
/// with the file name, or, when the name is a symlink, the file it points to (which must
/// be inside `root`).
fn destination_path(root: &Path, name: &str) -> Result<PathBuf, ConfigFileError> {
    let joined = root.join(relative(name).map_err(|e| match e {
        ConfigFileError::Forbidden => ConfigFileError::Forbidden,
        _ => ConfigFileError::SaveFailed,
    })?);
    let (Some(parent), Some(file_name)) = (joined.parent(), joined.file_name()) else {
        return Err(ConfigFileError::SaveFailed);
    };
    let parent = fs::canonicalize(parent).map_err(|_| ConfigFileError::SaveFailed)?;
    if !parent.starts_with(root) {
        return Err(ConfigFileError::Forbidden);
    }
    let target = parent.join(file_name);
    match fs::symlink_metadata(&target) {
        Ok(meta) if meta.file_type().is_symlink() => match fs::canonicalize(&target) {
            Ok(real) if real.starts_with(root) => Ok(real),
            _ => Err(ConfigFileError::Forbidden),
        },
        _ => Ok(target),
    }
}

/// Parses `path` after checking its includes, and checks every file read.
fn load_checked(root: &Path, path: &Path) -> Result<ConfFile, ConfigFileError> {
    let mut seen = Vec::new();
    check_includes(root, path, 0, &mut seen)?;
    let conf = conf_file::load_conf(path).map_err(|e| {
        tracing::debug!(error = %e, "config file not loaded");
        ConfigFileError::NotFound
    })?;
    for file in &conf.files {
        match fs::canonicalize(file) {
            Ok(real) if real.starts_with(root) => {}
            _ => return Err(ConfigFileError::Forbidden),
        }
    }
    Ok(conf)
}

/// Walks the `#include` lines of `path` and the files they name (before the parser reads
/// them), refusing any target that resolves outside `root`. Missing or unreadable files
/// are left to the parser to report.
fn check_includes(
    root: &Path,
    path: &Path,
    depth: usize,
    seen: &mut Vec<PathBuf>,
) -> Result<(), ConfigFileError> {
    let Ok(bytes) = conf_file::read_capped(path) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&bytes);
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for line in text.lines() {
        let Some(target) = include_target(line) else {
            continue;
        };
        let Ok(real) = fs::canonicalize(base.join(target)) else {
            continue;
        };
        if !real.starts_with(root) {
            return Err(ConfigFileError::Forbidden);
        }
        if depth < MAX_INCLUDE_DEPTH && !seen.contains(&real) {
            seen.push(real);
            check_includes(root, &base.join(target), depth + 1, seen)?;
        }
    }
    Ok(())
}

/// The file named by an `#include` line (`#include x`, `"x"` or `<x>`, a trailing `;`
/// comment removed), `None` for any other line.
fn include_target(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let directive = line.get(..8)?;
    if !directive.eq_ignore_ascii_case("#include") {
        return None;
    }
    let rest = &line[8..];
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.split(';').next().unwrap_or_default().trim();
    let target = [('"', '"'), ('<', '>')]
        .iter()
        .find_map(|&(open, close)| rest.strip_prefix(open)?.strip_suffix(close))
        .unwrap_or(rest)
        .trim();
    (!target.is_empty()).then_some(target)
}

fn to_model(conf: ConfFile) -> Vec<Category> {
    conf.categories
        .into_iter()
        .map(|category| Category {
            name: category.name,
            variables: category
                .vars
                .into_iter()
                .map(|var| Variable {
                    name: var.name,
                    value: var.value,
                    object: var.object,
                })
                .collect(),
        })
        .collect()
}

/// Can `name` be written as a category header and read back unchanged?
fn writable_category(name: &str) -> bool {
    !name.is_empty() && name.trim() == name && !name.contains(['[', ']', ';', '\r', '\n'])
}

/// Can `name` be written as a variable name and read back unchanged?
fn writable_variable(name: &str) -> bool {
    !name.is_empty()
        && name.trim() == name
        && !name.starts_with(['[', '#'])
        && !name.contains(['=', ';', '\r', '\n'])
}

/// Can `value` be written and read back (line breaks cannot)?
fn writable_value(value: &str) -> bool {
    !value.contains(['\r', '\n'])
}

/// Applies UpdateConfig steps in order (reference §4.9). Steps with an unknown verb,
/// missing fields, a category that does not exist, or a name or value that cannot be
/// written to a file (line breaks, brackets in a category name, `=` in a variable name)
/// are ignored.
pub fn apply_steps(categories: &mut Vec<Category>, steps: &[UpdateStep]) {
    for step in steps {
        apply_step(categories, step);
    }
}

fn apply_step(categories: &mut Vec<Category>, step: &UpdateStep) {
    let (object, value) = match step.value.strip_prefix('>') {
        Some(rest) => (true, rest),
        None => (false, step.value.as_str()),
    };
    let cat = step.category.as_str();
    let var = step.variable.as_str();
    let matching = step.match_value.as_str();
    if cat.is_empty() {
        return;
    }
    let find = |categories: &[Category]| {
        categories
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(cat))
    };
    let verb = step.action.to_ascii_lowercase();
    match verb.as_str() {
        "newcat" if writable_category(cat) => categories.push(Category {
            name: cat.to_string(),
            variables: Vec::new(),
        }),
        "renamecat" => {
            if value.is_empty() || !writable_category(value) {
                return;
            }
            if let Some(at) = find(categories.as_slice()) {
                categories[at].name = value.to_string();
            }
        }
        "delcat" => {
            if let Some(at) = find(categories.as_slice()) {
                categories.remove(at);
            }
        }
        "update" => {
            if !writable_variable(var) || !writable_value(value) {
                return;
            }
            let Some(at) = find(categories.as_slice()) else {
                return;
            };
            let variables = &mut categories[at].variables;
            let new = Variable {
                name: var.to_string(),
                value: value.to_string(),
                object,
            };
            match variables
                .iter()
                .position(|v| variable_matches(v, var, matching))
            {
                Some(i) => variables[i] = new,
                None => variables.push(new),
            }
        }
        "delete" => {
            if var.is_empty() {
                return;
            }
            if let Some(at) = find(categories.as_slice()) {
                categories[at]
                    .variables
                    .retain(|v| !variable_matches(v, var, matching));
            }
        }
        "append" => {
            if !writable_variable(var) || !writable_value(value) {
                return;
            }
            let Some(at) = find(categories.as_slice()) else {
                return;
            };
            categories[at].variables.push(Variable {
                name: var.to_string(),
                value: value.to_string(),
                object: object || matching.eq_ignore_ascii_case("object"),
            });
        }
        _ => {}
    }
}

/// Is `v` named `name` and, when `matching` is not empty, valued `matching`? Both
/// comparisons are case-insensitive.
fn variable_matches(v: &Variable, name: &str, matching: &str) -> bool {
    v.name.eq_ignore_ascii_case(name)
        && (matching.is_empty() || v.value.eq_ignore_ascii_case(matching))
}

/// The file text for `categories`, as Asterisk's `config_text_file_save` lays it out: a
/// `;!` header naming the file, the generator (`Manager`) and the creation time (UTC),
/// then per category `[name]`, its `name = value` / `name => value` lines and a blank
/// line. A `;` in a value or a name (a file can hold one, written `\;`) is written `\;`
/// so that it reads back as part of it.
pub fn render(filename: &str, categories: &[Category], now: SystemTime) -> String {
    let (date, time) = utc_date_time(now);
    let mut out = String::new();
    out.push_str(";!\n");
    out.push_str(";! Automatically generated configuration file\n");
    out.push_str(&format!(";! Filename: {filename}\n"));
    out.push_str(";! Generator: Manager\n");
    out.push_str(&format!(";! Creation Date: {date} {time} UTC\n"));
    out.push_str(";!\n\n");
    for category in categories {
        out.push_str(&format!("[{}]\n", category.name.replace(';', "\\;")));
        for var in &category.variables {
            let op = if var.object { "=>" } else { "=" };
            let name = var.name.replace(';', "\\;");
            let value = var.value.replace(';', "\\;");
            out.push_str(&format!("{name} {op} {value}\n"));
        }
        out.push('\n');
    }
    out
}

/// Writes `bytes` to `target` atomically: a new temporary file in the same directory
/// (permissions copied from the existing target), written and fsynced, moved over
/// `target` with `rename`, then the directory fsynced. On failure before the rename the
/// temporary file is removed and `target` is untouched. `rename` is a parameter so tests
/// can make it fail.
fn write_atomic(
    target: &Path,
    bytes: &[u8],
    rename: impl FnOnce(&Path, &Path) -> io::Result<()>,
) -> io::Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"))?;
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
        .to_string_lossy();
    sweep_stale_temps(dir, &name);
    let (temp, file) = create_temp(dir, &name)?;
    let written = fill(file, target, bytes).and_then(|()| rename(&temp, target));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    // The new content is in place; a failed directory sync only weakens durability.
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(dir = %dir.display(), error = %e, "fsync of config directory failed");
    }
    Ok(())
}

/// Removes temporary files of `name` left in `dir` by a host process that no longer runs
/// (killed in the middle of a write): `.<name>.<pid>.<n>.tmp` whose pid has no
/// `/proc/<pid>`. Our own and live processes' files are left alone.
fn sweep_stale_temps(dir: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    let own = std::process::id();
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|r| r.strip_suffix(".tmp"))
        else {
            continue;
        };
        let Some(pid) = rest
            .split_once('.')
            .and_then(|(pid, n)| n.parse::<u64>().ok().and(pid.parse::<u32>().ok()))
        else {
            continue;
        };
        if pid != own && !Path::new("/proc").join(pid.to_string()).exists() {
            match fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::info!(file = %entry.path().display(), "removed a temporary file left by an interrupted write")
                }
                Err(e) => {
                    tracing::debug!(file = %entry.path().display(), error = %e, "could not remove a stale temporary file")
                }
            }
        }
    }
}

/// Creates a new, empty temporary file beside `name` in `dir`.
fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..16 {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no temporary file name free")))
}

/// Writes and fsyncs the temporary file, giving it the permissions of `target` if that
/// exists.
fn fill(mut file: File, target: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Ok(meta) = fs::metadata(target) {
        file.set_permissions(meta.permissions())?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;
    use std::time::{Duration, UNIX_EPOCH};

    /// The scratch directory as a config directory.
    trait AsConfigDir {
        fn dir(&self) -> ConfigDir;
    }

    impl AsConfigDir for TempDir {
        fn dir(&self) -> ConfigDir {
            ConfigDir::new(&self.0)
        }
    }

    fn var(name: &str, value: &str) -> Variable {
        Variable {
            name: name.into(),
            value: value.into(),
            object: false,
        }
    }

    fn obj(name: &str, value: &str) -> Variable {
        Variable {
            object: true,
            ..var(name, value)
        }
    }

    fn cat(name: &str, variables: Vec<Variable>) -> Category {
        Category {
            name: name.into(),
            variables,
        }
    }

    fn step(action: &str, category: &str, variable: &str, value: &str, m: &str) -> UpdateStep {
        UpdateStep {
            action: action.into(),
            category: category.into(),
            variable: variable.into(),
            value: value.into(),
            match_value: m.into(),
        }
    }

    fn applied(mut categories: Vec<Category>, steps: &[UpdateStep]) -> Vec<Category> {
        apply_steps(&mut categories, steps);
        categories
    }

    fn sample() -> Vec<Category> {
        vec![
            cat("general", vec![var("enabled", "yes"), var("port", "5038")]),
            cat(
                "admin",
                vec![
                    var("secret", "pw"),
                    var("permit", "1.2.3.4"),
                    var("PERMIT", "5.6.7.8"),
                ],
            ),
        ]
    }

    const MANAGER: &str = "; manager.conf\n[general]\nenabled = yes\nport=5038 ; the port\n\n\
                           [admin]\nsecret => pw\nread = all\n";

    #[test]
    fn load_lists_name_value_whatever_the_spacing() {
        let tmp = TempDir::new("load");
        tmp.write("manager.conf", MANAGER);
        let cats = tmp.dir().load("manager.conf").unwrap();
        assert_eq!(
            cats,
            vec![
                cat("general", vec![var("enabled", "yes"), var("port", "5038")]),
                cat("admin", vec![obj("secret", "pw"), var("read", "all")]),
            ]
        );
        assert_eq!(
            tmp.dir().load("./manager.conf").unwrap(),
            cats,
            "./ is fine"
        );
    }

    #[test]
    fn load_missing_or_invalid_is_not_found() {
        let tmp = TempDir::new("missing");
        tmp.write("bad.conf", "no category = 1\n");
        let dir = tmp.dir();
        assert_eq!(dir.load("nope.conf"), Err(ConfigFileError::NotFound));
        assert_eq!(dir.load("bad.conf"), Err(ConfigFileError::NotFound));
        assert_eq!(dir.load(""), Err(ConfigFileError::NotFound));
        assert_eq!(dir.load("."), Err(ConfigFileError::NotFound));
        let gone = ConfigDir::new(tmp.0.join("no-such-dir"));
        assert_eq!(gone.load("x.conf"), Err(ConfigFileError::NotFound));
    }

    #[test]
    fn load_expands_includes() {
        let tmp = TempDir::new("include");
        tmp.write(
            "main.conf",
            "[a]\nx = 1\n#include \"extra.conf\"\n[c]\nz => 3\n",
        );
        tmp.write("extra.conf", "y = 2\n[b]\n#include sub/more.conf\n");
        tmp.write("sub/more.conf", "w=4\n");
        assert_eq!(
            tmp.dir().load("main.conf").unwrap(),
            vec![
                cat("a", vec![var("x", "1"), var("y", "2")]),
                cat("b", vec![var("w", "4")]),
                cat("c", vec![obj("z", "3")]),
            ]
        );
    }

    #[test]
    fn path_escapes_are_forbidden() {
        let outer = TempDir::new("outer");
        outer.write("secret.conf", "[s]\nk = v\n");
        let tmp = TempDir::new("escape");
        tmp.write("ok.conf", "[a]\n");
        let dir = tmp.dir();
        assert_eq!(dir.load("../x.conf"), Err(ConfigFileError::Forbidden));
        assert_eq!(dir.load("sub/../ok.conf"), Err(ConfigFileError::Forbidden));
        assert_eq!(dir.load("/etc/passwd"), Err(ConfigFileError::Forbidden));
        let outside = outer.0.join("secret.conf");
        assert_eq!(
            dir.load(&outside.to_string_lossy()),
            Err(ConfigFileError::Forbidden)
        );
        std::os::unix::fs::symlink(&outside, tmp.0.join("link.conf")).unwrap();
        assert_eq!(dir.load("link.conf"), Err(ConfigFileError::Forbidden));
        std::os::unix::fs::symlink(&outer.0, tmp.0.join("linkdir")).unwrap();
        assert_eq!(
            dir.load("linkdir/secret.conf"),
            Err(ConfigFileError::Forbidden)
        );
        // A symlink that stays inside is fine.
        std::os::unix::fs::symlink(tmp.0.join("ok.conf"), tmp.0.join("alias.conf")).unwrap();
        assert_eq!(dir.load("alias.conf").unwrap(), vec![cat("a", vec![])]);
    }

    #[test]
    fn includes_must_stay_inside() {
        let outer = TempDir::new("outer-inc");
        let secret = outer.write("secret.conf", "[s]\nk = v\n");
        let tmp = TempDir::new("inc-escape");
        tmp.write("abs.conf", &format!("[a]\n#include {}\n", secret.display()));
        tmp.write(
            "rel.conf",
            "[a]\n#include ../../../../../../../etc/passwd\n",
        );
        tmp.write("nested.conf", "[a]\n#include <abs.conf>\n");
        std::os::unix::fs::symlink(&secret, tmp.0.join("link.conf")).unwrap();
        tmp.write("vialink.conf", "[a]\n#include link.conf ; comment\n");
        let dir = tmp.dir();
        for name in ["abs.conf", "rel.conf", "nested.conf", "vialink.conf"] {
            assert_eq!(dir.load(name), Err(ConfigFileError::Forbidden), "{name}");
        }
        assert_eq!(
            dir.update("abs.conf", "out.conf", &[]),
            Err(ConfigFileError::Forbidden)
        );
        assert!(!tmp.0.join("out.conf").exists());
    }

    #[test]
    fn new_cat_appends_even_duplicates() {
        let cats = applied(
            sample(),
            &[
                step("NewCat", "bob", "", "", ""),
                step("newcat", "bob", "", "", ""),
                step("NewCat", "", "", "", ""),
            ],
        );
        let names: Vec<&str> = cats.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["general", "admin", "bob", "bob"]);
    }

    #[test]
    fn rename_and_delete_categories() {
        let cats = applied(
            sample(),
            &[
                step("RenameCat", "ADMIN", "", "root", ""),
                step("RenameCat", "missing", "", "x", ""),
                step("RenameCat", "general", "", "", ""),
                step("DelCat", "GENERAL", "", "", ""),
                step("DelCat", "missing", "", "", ""),
            ],
        );
        assert_eq!(cats.len(), 1);
        assert_eq!(cats[0].name, "root");
        assert_eq!(cats[0].variables.len(), 3);
    }

    #[test]
    fn update_replaces_first_match_or_appends() {
        let cats = applied(
            sample(),
            &[
                step("Update", "general", "PORT", "5039", ""),
                step("Update", "general", "bindaddr", "0.0.0.0", ""),
                step("Update", "missing", "x", "1", ""),
            ],
        );
        assert_eq!(
            cats[0].variables,
            vec![
                var("enabled", "yes"),
                var("PORT", "5039"),
                var("bindaddr", "0.0.0.0")
            ]
        );
        assert_eq!(cats.len(), 2);
    }

    #[test]
    fn update_with_match() {
        let cats = applied(
            sample(),
            &[step("Update", "admin", "permit", "9.9.9.9", "5.6.7.8")],
        );
        assert_eq!(
            cats[1].variables,
            vec![
                var("secret", "pw"),
                var("permit", "1.2.3.4"),
                var("permit", "9.9.9.9")
            ]
        );
        // Match is case-insensitive; nothing matching appends.
        let cats = applied(
            vec![cat("a", vec![var("k", "Yes")])],
            &[
                step("Update", "a", "k", "no", "YES"),
                step("Update", "a", "k", "maybe", "other"),
            ],
        );
        assert_eq!(cats[0].variables, vec![var("k", "no"), var("k", "maybe")]);
    }

    #[test]
    fn delete_removes_every_match() {
        let cats = applied(sample(), &[step("Delete", "admin", "permit", "", "")]);
        assert_eq!(cats[1].variables, vec![var("secret", "pw")]);
        let cats = applied(
            sample(),
            &[
                step("Delete", "admin", "permit", "", "5.6.7.8"),
                step("Delete", "missing", "permit", "", ""),
                step("Delete", "admin", "", "", ""),
            ],
        );
        assert_eq!(
            cats[1].variables,
            vec![var("secret", "pw"), var("permit", "1.2.3.4")]
        );
    }

    #[test]
    fn append_adds_at_the_end() {
        let cats = applied(
            sample(),
            &[
                step("Append", "general", "port", "6000", ""),
                step("Append", "missing", "x", "1", ""),
                step("Append", "general", "", "1", ""),
            ],
        );
        assert_eq!(
            cats[0].variables,
            vec![
                var("enabled", "yes"),
                var("port", "5038"),
                var("port", "6000")
            ]
        );
        assert_eq!(cats.len(), 2);
    }

    #[test]
    fn object_values() {
        let cats = applied(
            vec![cat("a", vec![var("k", "1")])],
            &[
                step("Append", "a", "exten", ">100,1,Answer", ""),
                step("Append", "a", "exten", "101,1,Hangup", "OBJECT"),
                step("Update", "a", "k", ">2", ""),
                step("Append", "a", "plain", "x", "other"),
            ],
        );
        assert_eq!(
            cats[0].variables,
            vec![
                obj("k", "2"),
                obj("exten", "100,1,Answer"),
                obj("exten", "101,1,Hangup"),
                var("plain", "x"),
            ]
        );
    }

    #[test]
    fn unknown_and_unwritable_steps_are_ignored() {
        let before = sample();
        let cats = applied(
            before.clone(),
            &[
                step("Frobnicate", "general", "x", "1", ""),
                step("", "general", "x", "1", ""),
                step("NewCat", "bad]name", "", "", ""),
                step("Append", "general", "a=b", "1", ""),
                step("Append", "general", "x", "line\nbreak", ""),
                step("RenameCat", "general", "", "x[y", ""),
            ],
        );
        assert_eq!(cats, before);
    }

    #[test]
    fn render_layout() {
        let text = render(
            "manager.conf",
            &[
                cat("general", vec![var("a", "1"), obj("b", "x;y")]),
                cat("empty", vec![]),
            ],
            UNIX_EPOCH + Duration::from_secs(86_400 + 3_661),
        );
        assert_eq!(
            text,
            ";!\n;! Automatically generated configuration file\n;! Filename: manager.conf\n\
             ;! Generator: Manager\n;! Creation Date: 1970-01-02 01:01:01 UTC\n;!\n\n\
             [general]\na = 1\nb => x\\;y\n\n[empty]\n\n"
        );
    }

    #[test]
    fn update_writes_and_reads_back() {
        let tmp = TempDir::new("update");
        tmp.write("manager.conf", MANAGER);
        let dir = tmp.dir();
        dir.update(
            "manager.conf",
            "manager.conf",
            &[
                step("Update", "general", "port", "5039", ""),
                step("NewCat", "bob", "", "", ""),
                step("Append", "bob", "secret", "p;w", ""),
                step("Append", "bob", "exten", ">1,1,Noop", ""),
            ],
        )
        .unwrap();
        let text = tmp.read("manager.conf");
        assert!(text.starts_with(";!\n;! Automatically generated configuration file\n"));
        assert!(text.contains(";! Generator: Manager\n"));
        assert!(text.contains("[general]\nenabled = yes\nport = 5039\n\n"));
        assert!(!text.contains("the port"), "comments are not preserved");
        assert_eq!(
            dir.load("manager.conf").unwrap(),
            vec![
                cat("general", vec![var("enabled", "yes"), var("port", "5039")]),
                cat("admin", vec![obj("secret", "pw"), var("read", "all")]),
                cat("bob", vec![var("secret", "p;w"), obj("exten", "1,1,Noop")]),
            ]
        );
        assert_eq!(tmp.names(), ["manager.conf"], "no temporary file left");
    }

    #[test]
    fn update_to_another_file_and_subdirectory() {
        let tmp = TempDir::new("update-dst");
        tmp.write("manager.conf", MANAGER);
        fs::create_dir(tmp.0.join("sub")).unwrap();
        let dir = tmp.dir();
        dir.update(
            "manager.conf",
            "sub/copy.conf",
            &[step("DelCat", "admin", "", "", "")],
        )
        .unwrap();
        assert_eq!(tmp.read("manager.conf"), MANAGER, "source untouched");
        assert_eq!(
            dir.load("sub/copy.conf").unwrap(),
            vec![cat(
                "general",
                vec![var("enabled", "yes"), var("port", "5038")]
            )]
        );
        // A symlinked destination inside the directory: its target is rewritten and the
        // link kept.
        std::os::unix::fs::symlink(tmp.0.join("sub/copy.conf"), tmp.0.join("alias.conf")).unwrap();
        dir.update("manager.conf", "alias.conf", &[]).unwrap();
        assert!(fs::symlink_metadata(tmp.0.join("alias.conf"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(dir.load("sub/copy.conf").unwrap().len(), 2);
    }

    #[test]
    fn update_errors() {
        let outer = TempDir::new("outer-upd");
        let victim = outer.write("victim.conf", "[v]\n");
        let tmp = TempDir::new("update-err");
        tmp.write("manager.conf", MANAGER);
        let dir = tmp.dir();
        assert_eq!(
            dir.update("nope.conf", "x.conf", &[]),
            Err(ConfigFileError::NotFound)
        );
        assert_eq!(
            dir.update("../manager.conf", "x.conf", &[]),
            Err(ConfigFileError::Forbidden)
        );
        for dst in ["../x.conf", "/etc/passwd", "a/../../x.conf"] {
            assert_eq!(
                dir.update("manager.conf", dst, &[]),
                Err(ConfigFileError::Forbidden),
                "{dst}"
            );
        }
        std::os::unix::fs::symlink(&victim, tmp.0.join("link.conf")).unwrap();
        std::os::unix::fs::symlink(&outer.0, tmp.0.join("linkdir")).unwrap();
        std::os::unix::fs::symlink(outer.0.join("new.conf"), tmp.0.join("dangling.conf")).unwrap();
        for dst in [
            "link.conf",
            "linkdir/victim.conf",
            "linkdir/new.conf",
            "dangling.conf",
        ] {
            assert_eq!(
                dir.update("manager.conf", dst, &[]),
                Err(ConfigFileError::Forbidden),
                "{dst}"
            );
        }
        assert_eq!(fs::read_to_string(&victim).unwrap(), "[v]\n");
        assert!(!outer.0.join("new.conf").exists());
        assert_eq!(
            dir.update("manager.conf", "no-dir/x.conf", &[]),
            Err(ConfigFileError::SaveFailed)
        );
        assert_eq!(
            dir.update("manager.conf", "", &[]),
            Err(ConfigFileError::SaveFailed)
        );
    }

    #[test]
    fn failed_temp_creation_leaves_destination_identical() {
        let tmp = TempDir::new("fail-temp");
        tmp.write("manager.conf", MANAGER);
        let dir = tmp.dir();
        // The parent of the destination is a file: the temporary file cannot be created.
        assert_eq!(
            dir.update("manager.conf", "manager.conf/x.conf", &[]),
            Err(ConfigFileError::SaveFailed)
        );
        // A destination whose name is so long that the temporary name beside it is
        // refused (ENAMETOOLONG, which root cannot bypass).
        let long = format!("{}.conf", "m".repeat(240));
        tmp.write(&long, MANAGER);
        assert_eq!(
            dir.update(&long, &long, &[step("DelCat", "general", "", "", "")]),
            Err(ConfigFileError::SaveFailed)
        );
        assert_eq!(tmp.read(&long), MANAGER);
        assert_eq!(tmp.read("manager.conf"), MANAGER);
        let mut expected = vec![long, "manager.conf".to_string()];
        expected.sort();
        assert_eq!(tmp.names(), expected, "no temporary file left");
    }

    #[test]
    fn failed_rename_removes_temp_and_keeps_destination() {
        let tmp = TempDir::new("fail-rename");
        let target = tmp.write("manager.conf", MANAGER);
        let result = write_atomic(&target, b"new", |_, _| {
            Err(io::Error::other("injected rename failure"))
        });
        assert!(result.is_err());
        assert_eq!(tmp.read("manager.conf"), MANAGER);
        assert_eq!(tmp.names(), ["manager.conf"]);
        write_atomic(&target, b"new", |from, to| fs::rename(from, to)).unwrap();
        assert_eq!(tmp.read("manager.conf"), "new");
        assert_eq!(tmp.names(), ["manager.conf"]);
    }

    #[test]
    fn a_write_sweeps_temp_files_left_by_a_dead_process_only() {
        let tmp = TempDir::new("sweep");
        let target = tmp.write("manager.conf", MANAGER);
        // No process has pid 4294967295 (above pid_max); our own pid is alive.
        tmp.write(".manager.conf.4294967295.3.tmp", "half");
        let own = format!(".manager.conf.{}.999.tmp", std::process::id());
        tmp.write(&own, "in flight");
        tmp.write(".other.conf.4294967295.1.tmp", "another file's");
        write_atomic(&target, b"new", |from, to| fs::rename(from, to)).unwrap();
        assert_eq!(tmp.read("manager.conf"), "new");
        let mut expected = vec![
            ".other.conf.4294967295.1.tmp".to_string(),
            own,
            "manager.conf".to_string(),
        ];
        expected.sort();
        assert_eq!(tmp.names(), expected);
    }

    #[test]
    fn keeps_permissions_of_the_destination() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = TempDir::new("perms");
        let target = tmp.write("manager.conf", MANAGER);
        fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
        tmp.dir()
            .update("manager.conf", "manager.conf", &[])
            .unwrap();
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn include_target_forms() {
        assert_eq!(include_target("#include x.conf"), Some("x.conf"));
        assert_eq!(
            include_target("  #INCLUDE \"a b.conf\" ; c"),
            Some("a b.conf")
        );
        assert_eq!(include_target("#include <y.conf>"), Some("y.conf"));
        assert_eq!(include_target("#include"), None);
        assert_eq!(include_target("#includex"), None);
        assert_eq!(include_target("[a]"), None);
        assert_eq!(include_target("x = #include"), None);
    }

    #[test]
    fn error_display_is_lowercase() {
        for e in [
            ConfigFileError::NotFound,
            ConfigFileError::Forbidden,
            ConfigFileError::SaveFailed,
        ] {
            let text = e.to_string();
            assert_eq!(text, text.to_lowercase());
        }
    }
}
