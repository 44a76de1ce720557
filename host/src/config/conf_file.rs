//! The Asterisk configuration file format (`manager.conf`, `users.conf`, `http.conf`, …),
//! parsed into a small model that keeps file order and line numbers.
//!
//! Syntax accepted:
//!
//! * `[category]`, optionally followed by `(options)` (template markers such as `(!)` or
//!   `(base)`); the parenthesised part is accepted and ignored: templates are not applied;
//! * `key = value` and `key => value` (an "object" line); the first `=` splits the line,
//!   names and values are trimmed;
//! * `;` starts a comment that runs to the end of the line, `\;` is a literal semicolon;
//! * `;--` … `--;` is a block comment, which may span lines and nest (`;---…` is an
//!   ordinary line comment, as in Asterisk);
//! * `#include file`, `#include "file"` or `#include <file>`: the file, relative to the
//!   directory of the including file, is parsed in place (its lines continue the current
//!   category). Include loops and nesting deeper than [`MAX_INCLUDE_DEPTH`] are errors,
//!   and so is a file, or a file with everything it includes, over [`MAX_CONFIG_BYTES`];
//! * `#exec` and any other directive are errors, as are lines that are none of the above.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// How deep `#include` may nest.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// The most bytes a configuration file may hold (16 MiB); also the most that one
/// [`load_conf`] reads, the `#include`d files counted in. Configurations are kilobytes: a
/// larger file is an error, not something to read into memory.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Reads the whole file at `path`, but no more than [`MAX_CONFIG_BYTES`] of it: a longer
/// file is an `InvalidData` error saying so (the caller names the file).
pub fn read_capped(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    fs::File::open(path)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The error for a configuration over [`MAX_CONFIG_BYTES`].
fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "larger than the {} MiB limit for a configuration file",
            MAX_CONFIG_BYTES >> 20
        ),
    )
}

/// A parsed configuration file, includes expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfFile {
    /// The categories in file order.
    pub categories: Vec<Category>,
    /// The files read: index 0 is the main file, then each included file in the order it
    /// was first included. Empty for [`parse_conf`], which reads no file.
    pub files: Vec<PathBuf>,
}

/// One `[category]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Category {
    /// The name between the brackets, trimmed.
    pub name: String,
    /// 1-based line of the `[category]` header, in file [`Category::file`].
    pub line: usize,
    /// Index into [`ConfFile::files`] of the file holding the header.
    pub file: usize,
    /// The variables in file order.
    pub vars: Vec<Var>,
}

/// One `key = value` (or `key => value`) line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Var {
    /// The key, trimmed.
    pub name: String,
    /// The value, trimmed, comments removed and `\;` unescaped.
    pub value: String,
    /// 1-based line, in file [`Var::file`].
    pub line: usize,
    /// True for `key => value`.
    pub object: bool,
    /// Index into [`ConfFile::files`] of the file holding the line (may be an included
    /// file).
    pub file: usize,
}

/// Why [`load_conf`] failed.
#[derive(Debug)]
pub enum ConfError {
    /// The main file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A syntax error, or an `#include` that failed.
    Syntax {
        /// The file holding the bad line.
        path: PathBuf,
        /// Its 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ConfError::Syntax {
                path,
                line,
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
        }
    }
}

impl std::error::Error for ConfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfError::Io { source, .. } => Some(source),
            ConfError::Syntax { .. } => None,
        }
    }
}

impl ConfFile {
    /// The first category named `name` (case-insensitive), as Asterisk looks one up.
    pub fn category(&self, name: &str) -> Option<&Category> {
        self.categories
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The path of file `index` (see [`ConfFile::files`]).
    pub fn file_path(&self, index: usize) -> Option<&Path> {
        self.files.get(index).map(PathBuf::as_path)
    }
}

impl Category {
    /// The first value of `name` (case-insensitive), as `ast_variable_retrieve` does.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.var(name).map(|v| v.value.as_str())
    }

    /// The first variable named `name` (case-insensitive).
    pub fn var(&self, name: &str) -> Option<&Var> {
        self.vars.iter().find(|v| v.name.eq_ignore_ascii_case(name))
    }
}

/// Parses configuration text that stands alone. `#include` is an error here (there is no
/// file to resolve it against: use [`load_conf`]). The error is the 1-based line and a
/// message.
pub fn parse_conf(text: &str) -> Result<ConfFile, (usize, String)> {
    let mut parser = Parser::default();
    match parser.feed(text, 0, None) {
        Ok(()) => Ok(parser.conf),
        Err(e) => Err((e.line, e.message)),
    }
}

/// Reads and parses the file at `path`, expanding `#include`s.
pub fn load_conf(path: &Path) -> Result<ConfFile, ConfError> {
    let text = read_text(path).map_err(|source| ConfError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut parser = Parser::default();
    parser.conf.files.push(path.to_path_buf());
    let mut includes = Includes {
        stack: vec![canonical(path)],
        read: text.len() as u64,
    };
    match parser.feed(&text, 0, Some(&mut includes)) {
        Ok(()) => Ok(parser.conf),
        Err(e) => Err(ConfError::Syntax {
            path: parser
                .conf
                .file_path(e.file)
                .map(Path::to_path_buf)
                .unwrap_or_else(|| path.to_path_buf()),
            line: e.line,
            message: e.message,
        }),
    }
}

/// Reads a file as text (at most [`MAX_CONFIG_BYTES`]); bytes that are not UTF-8 (old
/// Latin-1 comments) are replaced rather than refused.
fn read_text(path: &Path) -> std::io::Result<String> {
    let bytes = read_capped(path)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The path used to detect include loops.
fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A located parse error: file index, 1-based line, message.
struct ParseError {
    file: usize,
    line: usize,
    message: String,
}

/// The files being parsed, outermost first, for loop and depth checks.
struct Includes {
    stack: Vec<PathBuf>,
    /// Bytes read so far, the main file and every include (each time it is included).
    read: u64,
}

#[derive(Default)]
struct Parser {
    conf: ConfFile,
}

impl Parser {
    fn feed(
        &mut self,
        text: &str,
        file: usize,
        mut includes: Option<&mut Includes>,
    ) -> Result<(), ParseError> {
        let err = |line: usize, message: String| ParseError {
            file,
            line,
            message,
        };
        // Block comment depth and the line where the outermost one opened.
        let mut nest = 0usize;
        let mut nest_line = 0usize;
        for (index, raw) in text.split('\n').enumerate() {
            let lineno = index + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let was_open = nest > 0;
            let stripped = strip_comments(raw, &mut nest);
            if !was_open && nest > 0 {
                nest_line = lineno;
            }
            let line = stripped.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(directive) = line.strip_prefix('#') {
                let (name, arg) = match directive.find(char::is_whitespace) {
                    Some(at) => (&directive[..at], directive[at..].trim()),
                    None => (directive, ""),
                };
                if name.eq_ignore_ascii_case("include") {
                    let target = unquote(arg);
                    if target.is_empty() {
                        return Err(err(lineno, "#include without a file name".to_string()));
                    }
                    match includes.as_deref_mut() {
                        Some(inc) => self.include(target, file, lineno, inc)?,
                        None => {
                            return Err(err(
                                lineno,
                                "#include is not available when parsing text without a file"
                                    .to_string(),
                            ))
                        }
                    }
                } else if name.eq_ignore_ascii_case("exec") {
                    return Err(err(lineno, "#exec is not supported".to_string()));
                } else {
                    return Err(err(lineno, format!("unknown directive \"#{name}\"")));
                }
            } else if let Some(rest) = line.strip_prefix('[') {
                let Some(close) = rest.find(']') else {
                    return Err(err(lineno, "no closing ']' in category header".to_string()));
                };
                let name = rest[..close].trim();
                if name.is_empty() {
                    return Err(err(lineno, "empty category name".to_string()));
                }
                let after = rest[close + 1..].trim();
                let options = after.starts_with('(') && after.ends_with(')');
                if !after.is_empty() && !options {
                    return Err(err(
                        lineno,
                        format!("unexpected text \"{after}\" after category [{name}]"),
                    ));
                }
                self.conf.categories.push(Category {
                    name: name.to_string(),
                    line: lineno,
                    file,
                    vars: Vec::new(),
                });
            } else {
                let Some(eq) = line.find('=') else {
                    return Err(err(
                        lineno,
                        format!("expected \"key = value\", \"[category]\" or a directive, found \"{line}\""),
                    ));
                };
                let name = line[..eq].trim();
                let (object, value) = match line[eq + 1..].strip_prefix('>') {
                    Some(v) => (true, v),
                    None => (false, &line[eq + 1..]),
                };
                if name.is_empty() {
                    return Err(err(lineno, format!("missing key name in \"{line}\"")));
                }
                let Some(category) = self.conf.categories.last_mut() else {
                    return Err(err(
                        lineno,
                        format!("\"{name}\" appears before any [category]"),
                    ));
                };
                category.vars.push(Var {
                    name: name.to_string(),
                    value: value.trim().to_string(),
                    line: lineno,
                    object,
                    file,
                });
            }
        }
        if nest > 0 {
            return Err(err(
                nest_line,
                "block comment ';--' is never closed with '--;'".to_string(),
            ));
        }
        Ok(())
    }

    fn include(
        &mut self,
        target: &str,
        file: usize,
        lineno: usize,
        includes: &mut Includes,
    ) -> Result<(), ParseError> {
        let err = |message: String| ParseError {
            file,
            line: lineno,
            message,
        };
        let base = self
            .conf
            .file_path(file)
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let path = base.join(target);
        if includes.stack.len() > MAX_INCLUDE_DEPTH {
            return Err(err(format!(
                "#include \"{target}\": includes nested more than {MAX_INCLUDE_DEPTH} levels deep"
            )));
        }
        let key = canonical(&path);
        if includes.stack.contains(&key) {
            return Err(err(format!(
                "#include \"{target}\": include loop ({} is already being read)",
                path.display()
            )));
        }
        let text = read_text(&path)
            .map_err(|e| err(format!("#include \"{target}\": {}: {e}", path.display())))?;
        includes.read += text.len() as u64;
        if includes.read > MAX_CONFIG_BYTES {
            return Err(err(format!(
                "#include \"{target}\": with its includes the configuration is {}",
                too_large()
            )));
        }
        let index = match self.conf.files.iter().position(|f| *f == path) {
            Some(i) => i,
            None => {
                self.conf.files.push(path);
                self.conf.files.len() - 1
            }
        };
        includes.stack.push(key);
        let result = self.feed(&text, index, Some(&mut *includes));
        includes.stack.pop();
        result
    }
}

/// Strips `"…"` or `<…>` around an include target.
fn unquote(arg: &str) -> &str {
    let arg = arg.trim();
    for (open, close) in [('"', '"'), ('<', '>')] {
        if let Some(inner) = arg
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
        {
            return inner.trim();
        }
    }
    arg
}

/// True when a block comment opens at `at` (`;--` not followed by a third `-`).
fn opens_block(bytes: &[u8], at: usize) -> bool {
    bytes[at..].starts_with(b";--") && bytes.get(at + 3) != Some(&b'-')
}

/// Removes comments from one line, tracking block comment depth across lines, and
/// unescapes `\;`.
fn strip_comments(line: &str, nest: &mut usize) -> String {
    let bytes = line.as_bytes();
    let mut out = String::new();
    // Start of the text not yet copied (only meaningful outside block comments).
    let mut from = 0;
    let mut i = 0;
    while i < bytes.len() {
        if *nest > 0 {
            if bytes[i..].starts_with(b"--;") {
                *nest -= 1;
                i += 3;
                from = i;
            } else if opens_block(bytes, i) {
                *nest += 1;
                i += 3;
            } else {
                i += 1;
            }
            continue;
        }
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b';') => {
                out.push_str(&line[from..i]);
                out.push(';');
                i += 2;
                from = i;
            }
            b';' if opens_block(bytes, i) => {
                out.push_str(&line[from..i]);
                *nest += 1;
                i += 3;
            }
            b';' => {
                out.push_str(&line[from..i]);
                return out;
            }
            _ => i += 1,
        }
    }
    if *nest == 0 {
        out.push_str(&line[from..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_vars_and_objects() {
        let conf = parse_conf(
            "; leading comment\n[general]\nenabled = yes ; trailing\n\n[admin](!)\nsecret=>a\\;b\n permit = 1.2.3.4 \n",
        )
        .unwrap();
        assert_eq!(conf.categories.len(), 2);
        let general = &conf.categories[0];
        assert_eq!((general.name.as_str(), general.line), ("general", 2));
        assert_eq!(general.vars[0].name, "enabled");
        assert_eq!(general.vars[0].value, "yes");
        assert_eq!(general.vars[0].line, 3);
        let admin = conf.category("ADMIN").unwrap();
        assert_eq!(admin.line, 5);
        assert_eq!(admin.vars[0].value, "a;b");
        assert!(admin.vars[0].object);
        assert!(!admin.vars[1].object);
        assert_eq!(admin.get("PERMIT"), Some("1.2.3.4"));
    }

    #[test]
    fn block_comments() {
        let text = "[a]\nx = 1 ;-- start\ny = 2\n still --; z = 3\n;----- banner -----\nw = 4 ;-- inline --; ; tail\n;-- outer ;-- inner --; still outer --;\nv = 5\n";
        let conf = parse_conf(text).unwrap();
        let vars: Vec<(&str, &str, usize)> = conf.categories[0]
            .vars
            .iter()
            .map(|v| (v.name.as_str(), v.value.as_str(), v.line))
            .collect();
        assert_eq!(
            vars,
            vec![("x", "1", 2), ("z", "3", 4), ("w", "4", 6), ("v", "5", 8)]
        );
    }

    #[test]
    fn errors_carry_lines() {
        assert_eq!(parse_conf("x = 1\n").unwrap_err().0, 1);
        assert_eq!(parse_conf("[a]\n\n[b\n").unwrap_err().0, 3);
        assert_eq!(parse_conf("[a]\njunk\n").unwrap_err().0, 2);
        assert_eq!(parse_conf("[a]\n#exec /bin/true\n").unwrap_err().0, 2);
        assert_eq!(parse_conf("[a]\n;-- open\nx=1\n").unwrap_err().0, 2);
        assert_eq!(parse_conf("[a] junk\n").unwrap_err().0, 1);
        assert_eq!(parse_conf("[a]\n#include x.conf\n").unwrap_err().0, 2);
        assert!(parse_conf("[a]\n = 1\n").is_err());
        assert!(parse_conf("[ ]\n").is_err());
    }

    #[test]
    fn crlf_and_equals_in_values() {
        let conf = parse_conf("[a]\r\nk = v=w\r\n").unwrap();
        assert_eq!(conf.categories[0].vars[0].value, "v=w");
    }
}
