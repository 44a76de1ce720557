//! Fuzz target bodies, shared by the `cargo fuzz` crate in `host/fuzz/` and by the replay
//! test below (which runs every committed seed and regression input on stable).
//!
//! Each function takes arbitrary bytes and panics only when an invariant is broken; a
//! parse error is never a failure. Targets (README, "Fuzzing"):
//!
//! * [`decoder`]: the AMI framing decoder, fed whole, byte by byte and in chunks whose
//!   sizes come from the data; all three and a line-by-line model give the same frames,
//!   and the buffered bytes stay under [`MAX_LINE`];
//! * [`toml_config`]: the TOML configuration loader never panics and locates its errors;
//! * [`conf_roundtrip`]: an Asterisk `.conf` text that parses is written out by the
//!   UpdateConfig writer, and the written text parses back to the same data;
//! * [`http_query`]: the HTTP path routing, the query/form parameters, the message built
//!   from them and the replies (and the request echoed back as UserEvent does): no
//!   control character reaches a header, every AMI line stays one line, the `/mxml` body
//!   has XML names, unique attributes and escaped values.

use std::collections::HashSet;
use std::path::Path;
use std::time::UNIX_EPOCH;

use bytes::BytesMut;

use crate::codec::{Decoder, Frame, Rejection, MAX_HEADERS, MAX_LINE};
use crate::config::conf_file::{self, ConfFile};
use crate::config::{Config, ConfigError};
use crate::dialect::Dialect;
use crate::events::put_header;
use crate::http::{render, request};
use crate::message::Message;
use crate::pbx::conffiles::{self, Category, Variable};
use crate::response::{put_message, send_error, send_response};

// ---------------------------------------------------------------------------------------
// decoder
// ---------------------------------------------------------------------------------------

/// Frames of `data` and whether a message is left partly read, feeding the pieces that
/// `chunks` cuts, draining the decoder after each and checking the buffer bound.
fn decode_in_chunks(data: &[u8], chunks: impl Iterator<Item = usize>) -> (Vec<Frame>, bool) {
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut at = 0;
    let mut chunks = chunks;
    while at < data.len() {
        let len = chunks
            .next()
            .unwrap_or(data.len())
            .clamp(1, data.len() - at);
        buf.extend_from_slice(&data[at..at + len]);
        at += len;
        while let Some(frame) = decoder.decode(&mut buf) {
            frames.push(frame);
        }
        assert!(
            buf.len() < MAX_LINE,
            "decoder keeps {} bytes buffered (limit {MAX_LINE})",
            buf.len()
        );
    }
    (frames, decoder.in_message())
}

/// What the decoder must produce for the whole of `data`, written independently of it:
/// complete lines one by one, then the incomplete tail.
fn decode_model(data: &[u8]) -> (Vec<Frame>, bool) {
    let mut frames = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut rejected: Option<Rejection> = None;
    let mut pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    // The text after the last LF (empty when the data ends with one) is incomplete.
    let tail = pieces.pop().unwrap_or_default();
    for piece in pieces {
        if piece.len() + 1 > MAX_LINE {
            rejected.get_or_insert(Rejection::LineTooLong);
            continue;
        }
        let content = piece.strip_suffix(b"\r").unwrap_or(piece);
        if content.is_empty() {
            let lines = std::mem::take(&mut lines);
            frames.push(match rejected.take() {
                Some(reason) => Frame::Rejected {
                    reason,
                    lines: lines.into_iter().collect(),
                },
                None => Frame::Message(lines.into_iter().collect()),
            });
        } else if lines.len() >= MAX_HEADERS {
            rejected.get_or_insert(Rejection::TooManyHeaders);
        } else {
            lines.push(String::from_utf8_lossy(content).into_owned());
        }
    }
    if tail.len() >= MAX_LINE {
        rejected.get_or_insert(Rejection::LineTooLong);
    }
    (frames, !lines.is_empty() || rejected.is_some())
}

/// A small deterministic generator (xorshift64*), seeded from the data.
struct Rng(u64);

impl Rng {
    fn from_data(data: &[u8]) -> Rng {
        // FNV-1a over the data; never zero (xorshift would stay at zero).
        let hash = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        Rng(hash | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `1..=max`.
    fn upto(&mut self, max: usize) -> usize {
        let max = u64::try_from(max.max(1)).unwrap_or(u64::MAX);
        usize::try_from(self.next() % max).unwrap_or(0) + 1
    }
}

/// The AMI decoder: arbitrary bytes split at arbitrary points.
///
/// Invariants: decoding the bytes whole, one byte at a time, and in chunks whose sizes
/// are derived from the data gives the same frames and the same "inside a message" state,
/// equal to an independent line-by-line model; at most [`MAX_LINE`] bytes stay buffered;
/// frames keep at most [`MAX_HEADERS`] lines, none empty, none holding a line feed; a
/// message parses in both dialects with one header per line.
pub fn decoder(data: &[u8]) {
    let whole = decode_in_chunks(data, std::iter::once(data.len()));
    let model = decode_model(data);
    assert_eq!(whole, model, "decoder differs from the line model");

    let bytewise = decode_in_chunks(data, std::iter::repeat(1));
    assert_eq!(whole, bytewise, "decoder differs when fed byte by byte");

    let mut rng = Rng::from_data(data);
    // The range of chunk sizes: small, around a line, around the line limit.
    let max = match rng.next() % 4 {
        0 => 8,
        1 => 100,
        2 => MAX_LINE,
        _ => 3 * MAX_LINE,
    };
    let chunked = decode_in_chunks(data, std::iter::from_fn(|| Some(rng.upto(max))));
    assert_eq!(
        whole, chunked,
        "decoder differs with chunks of up to {max} bytes"
    );

    for frame in &whole.0 {
        let lines = match frame {
            Frame::Message(lines) => lines,
            Frame::Rejected { reason, lines } => {
                assert!(!reason.message().is_empty());
                lines
            }
        };
        assert!(lines.len() <= MAX_HEADERS, "{} lines kept", lines.len());
        for line in lines.iter() {
            assert!(!line.is_empty(), "an empty line inside a message");
            assert!(!line.contains('\n'), "a line feed inside a line: {line:?}");
        }
        if let Frame::Message(lines) = frame {
            for dialect in Dialect::ALL {
                let message = Message::parse(lines.clone(), dialect);
                assert_eq!(message.headers().len(), lines.len());
                let _ = message.action_id();
                let _ = message.header("Action");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// toml_config
// ---------------------------------------------------------------------------------------

/// The TOML configuration loader (`Config::from_toml_str`; it reads no file).
///
/// Invariants: never panics; an error is `Invalid` (never `Io`: no file is read), on a
/// line of the text, with a message; a configuration that loads loads again the same.
pub fn toml_config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("/fuzz/amihost.toml");
    match Config::from_toml_str(&text, path) {
        Ok(config) => {
            assert_eq!(config.source, path);
            let again = Config::from_toml_str(&text, path)
                .unwrap_or_else(|e| panic!("loaded once, then failed: {e}"));
            assert_eq!(format!("{config:?}"), format!("{again:?}"));
        }
        Err(ConfigError::Invalid {
            path: at,
            line,
            message,
            ..
        }) => {
            assert_eq!(at, path);
            let lines = text.split('\n').count();
            assert!(
                (1..=lines).contains(&line),
                "error on line {line} of {lines}: {message}"
            );
            assert!(!message.is_empty(), "error without a message");
        }
        Err(e @ ConfigError::Io { .. }) => panic!("TOML text read a file: {e}"),
    }
}

// ---------------------------------------------------------------------------------------
// conf_roundtrip
// ---------------------------------------------------------------------------------------

/// The model GetConfig and UpdateConfig work on.
fn conf_model(conf: ConfFile) -> Vec<Category> {
    conf.categories
        .into_iter()
        .map(|c| Category {
            name: c.name,
            variables: c
                .vars
                .into_iter()
                .map(|v| Variable {
                    name: v.name,
                    value: v.value,
                    object: v.object,
                })
                .collect(),
        })
        .collect()
}

/// The Asterisk `.conf` parser and the UpdateConfig writer.
///
/// Invariants: a parse error names a line of the text; text that parses, written by
/// [`conffiles::render`] and parsed again, gives the same categories, variables and
/// values; writing that again gives the same text.
pub fn conf_roundtrip(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let first = match conf_file::parse_conf(&text) {
        Ok(conf) => conf_model(conf),
        Err((line, message)) => {
            let lines = text.split('\n').count();
            assert!(
                (1..=lines).contains(&line),
                "error on line {line} of {lines}: {message}"
            );
            return;
        }
    };
    let written = conffiles::render("fuzz.conf", &first, UNIX_EPOCH);
    let second = match conf_file::parse_conf(&written) {
        Ok(conf) => conf_model(conf),
        Err((line, message)) => {
            panic!("written text does not parse: line {line}: {message}\n{written}")
        }
    };
    assert_eq!(first, second, "data changed on the way through\n{written}");
    assert_eq!(written, conffiles::render("fuzz.conf", &second, UNIX_EPOCH));
}

// ---------------------------------------------------------------------------------------
// http_query
// ---------------------------------------------------------------------------------------

/// Percent-encodes `text` as a query component (unreserved bytes kept).
fn encode_component(text: &str, out: &mut String) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Checks that `out` is AMI output made of whole CR LF lines with no CR or LF inside.
fn assert_whole_lines(out: &[u8]) {
    assert!(
        out.ends_with(b"\r\n"),
        "output does not end a line: {out:?}"
    );
    // Each piece between LFs (the last LF ends the last piece) is a line and its CR.
    for line in out[..out.len() - 1].split(|&b| b == b'\n') {
        let content = line
            .strip_suffix(b"\r")
            .unwrap_or_else(|| panic!("bare LF in output: {:?}", String::from_utf8_lossy(out)));
        assert!(
            !content.contains(&b'\r'),
            "CR inside a header line: {:?}",
            String::from_utf8_lossy(out)
        );
    }
}

/// XML 1.0 (fifth edition) `NameStartChar`.
fn xml_name_start(c: char) -> bool {
    matches!(c, ':' | 'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 (fifth edition) `NameChar`.
fn xml_name_char(c: char) -> bool {
    xml_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}'
            | '\u{203F}'..='\u{2040}')
}

/// The HTTP request path and query, up to the message and the replies built from it.
///
/// The bytes are a request target: the path before the first `?`, the query after it.
/// Invariants: routing never panics; accepted parameters have a name and no control
/// character (a tab only in values) and survive percent-encoding unchanged; the message
/// respects the AMI limits, and when within them, written as AMI lines, decodes back to
/// one message with the same lines; replies echoing it, and its headers written back as
/// an event, are whole CR LF lines; `/manager` does not panic and `/mxml` is well formed
/// (see `assert_mxml`). The query is also read as a `Cookie` header.
pub fn http_query(data: &[u8]) {
    let (path, query) = match data.iter().position(|&b| b == b'?') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let path = String::from_utf8_lossy(path);
    let _ = request::route(&path, "asterisk");
    let _ = request::route(&path, "");
    let _ = request::session_cookie(query);

    let Ok(params) = request::parse_params(query) else {
        return;
    };
    let mut encoded = String::new();
    for (name, value) in &params {
        assert!(!name.is_empty(), "parameter without a name");
        assert!(
            !name.chars().any(char::is_control),
            "control character in name {name:?}"
        );
        assert!(
            !value.chars().any(|c| c.is_control() && c != '\t'),
            "control character in value {value:?}"
        );
        if !encoded.is_empty() {
            encoded.push('&');
        }
        encode_component(name, &mut encoded);
        encoded.push('=');
        encode_component(value, &mut encoded);
    }
    assert_eq!(
        request::parse_params(encoded.as_bytes()).as_ref(),
        Ok(&params),
        "re-encoded as {encoded:?}"
    );
    let cookies: [&[u8]; 1] = [query];
    let _ = request::session_id(&params, cookies);

    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let dest = param("ajaxdest").unwrap_or_else(|| "unknown".to_string());
    let objtype = param("ajaxobjtype").unwrap_or_else(|| "generic".to_string());

    let mut out = BytesMut::new();
    let message = match crate::http::limited(params.clone()) {
        Ok(message) => {
            assert!(message.headers().len() <= MAX_HEADERS);
            // The message as a TCP client would send it reads back line for line.
            let mut wire = BytesMut::new();
            let mut lines = Vec::new();
            for (name, value) in message.headers() {
                assert!(name.len() + value.len() + 4 <= MAX_LINE);
                put_header(&mut wire, name, value);
                lines.push(format!("{name}: {value}"));
            }
            wire.extend_from_slice(b"\r\n");
            let mut decoder = Decoder::new();
            assert_eq!(
                decoder.decode(&mut wire),
                Some(Frame::Message(lines.into_iter().collect()))
            );
            assert!(wire.is_empty() && !decoder.in_message());
            let action = message.header("Action").to_string();
            send_response(&mut out, &message, &action, Some(&action));
            message
        }
        Err((message, why)) => {
            assert!(message.headers().len() <= MAX_HEADERS);
            send_error(&mut out, &message, &why.message());
            message
        }
    };
    assert_whole_lines(&out);
    if let Some(id) = message.action_id() {
        let echoed = format!("\r\nActionID: {id}\r\n");
        assert!(
            out.windows(echoed.len()).any(|w| w == echoed.as_bytes()),
            "ActionID not echoed"
        );
    }
    // A request's headers also come back as output: UserEvent sends them as an event.
    let mut echo = BytesMut::new();
    put_message(&mut echo, message.headers());
    assert_whole_lines(&echo);
    out.extend_from_slice(&echo);
    let _ = render::html(&out);
    assert_mxml(&render::xml(&out, &dest, &objtype));
}

/// Checks that `name` is an XML name.
fn assert_xml_name(name: &str, xml: &str) {
    let mut chars = name.chars();
    assert!(
        chars.next().is_some_and(xml_name_start) && chars.all(xml_name_char),
        "{name:?} is not an XML name in {xml}"
    );
}

/// Checks that `value` is escaped for an attribute value between `'`.
fn assert_attribute(value: &str, xml: &str) {
    assert!(!value.contains(['<', '\'']), "unescaped {value:?} in {xml}");
    for (at, _) in value.match_indices('&') {
        let entity = &value[at..];
        assert!(
            ["&lt;", "&gt;", "&amp;", "&quot;", "&apos;"]
                .iter()
                .any(|e| entity.starts_with(e)),
            "bare & in {value:?} in {xml}"
        );
    }
}

/// Checks the structure of an `/mxml` body: `<ajax-response>`, then per message
/// `<response type='object' id='…'><NAME name='value' … /></response>`, every name an XML
/// name, no attribute repeated, every value escaped.
fn assert_mxml(xml: &str) {
    if xml.is_empty() {
        return;
    }
    let mut rest = xml
        .strip_prefix("<ajax-response>\n")
        .unwrap_or_else(|| panic!("no <ajax-response> in {xml}"));
    while let Some(response) = rest.strip_prefix("<response type='object' id='") {
        let (id, after) = response
            .split_once("'><")
            .unwrap_or_else(|| panic!("unterminated id in {xml}"));
        assert_attribute(id, xml);
        let (element, mut attributes) = after
            .split_once(' ')
            .unwrap_or_else(|| panic!("element without attributes in {xml}"));
        assert_xml_name(element, xml);
        let mut names = HashSet::new();
        loop {
            if let Some(after) = attributes.strip_prefix("/></response>\n") {
                rest = after;
                break;
            }
            let (name, after) = attributes
                .split_once("='")
                .unwrap_or_else(|| panic!("bad attribute at {attributes:?} in {xml}"));
            assert_xml_name(name, xml);
            assert!(names.insert(name), "attribute {name:?} repeated in {xml}");
            let (value, after) = after
                .split_once('\'')
                .unwrap_or_else(|| panic!("unterminated value in {xml}"));
            assert_attribute(value, xml);
            attributes = after
                .strip_prefix(' ')
                .unwrap_or_else(|| panic!("no blank after an attribute in {xml}"));
        }
    }
    assert_eq!(rest, "</ajax-response>\n", "trailing text in {xml}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;

    /// The files under `host/fuzz/<kind>/<target>/`, but for hidden ones such as
    /// `.gitkeep` (none when the directory is missing).
    fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz")
            .join(kind)
            .join(target);
        let mut files: Vec<PathBuf> = match fs::read_dir(&dir) {
            Ok(entries) => entries
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    p.is_file()
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        files
    }

    /// Runs every seed and regression input of `target` through `body`.
    fn replay(target: &str, body: fn(&[u8])) {
        let seeds = inputs("seeds", target);
        assert!(!seeds.is_empty(), "no seeds for {target}");
        let failed: Vec<String> = seeds
            .iter()
            .chain(&inputs("regressions", target))
            .filter(|file| {
                let data = fs::read(file).unwrap();
                std::panic::catch_unwind(|| body(&data)).is_err()
            })
            .map(|file| file.display().to_string())
            .collect();
        assert!(failed.is_empty(), "{target} fails on {failed:#?}");
    }

    #[test]
    fn replay_decoder() {
        replay("decoder", decoder);
    }

    #[test]
    fn replay_toml_config() {
        replay("toml_config", toml_config);
    }

    #[test]
    fn replay_conf_roundtrip() {
        replay("conf_roundtrip", conf_roundtrip);
    }

    #[test]
    fn replay_http_query() {
        replay("http_query", http_query);
    }

    #[test]
    fn decoder_model_agrees_on_limits() {
        let mut data = b"Action: Ping\r\nActionID: 7\r\nJunk: ".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_LINE));
        data.extend_from_slice(b"\r\n\r\nAction: Ping\n\n");
        data.extend(std::iter::repeat_n(b'y', MAX_LINE + 1));
        decoder(&data);
        let (frames, open) = decode_model(&data);
        assert_eq!(frames.len(), 2);
        assert!(open);
    }
}
