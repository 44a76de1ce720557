//! Framing of AMI input: bytes in, messages (lists of lines) out. No I/O here.
//!
//! A line ends at LF (a CR before it is removed; a bare LF ends a line as later Asterisk
//! releases accept, see the README's compatibility notes). An empty line ends a message.
//! Lines longer than [`MAX_LINE`] bytes and messages with more than [`MAX_HEADERS`]
//! lines are not silently cut as Asterisk 1.4 does: the decoder discards the rest of
//! that message and reports it as a [`Frame::Rejected`] when its blank line arrives, so
//! the session can answer with an error and stay in step with the client.

use bytes::{Buf, BytesMut};

/// Longest accepted line, in bytes, line end included.
pub const MAX_LINE: usize = 8192;

/// Most header lines in one message (`AST_MAX_MANHEADERS`).
pub const MAX_HEADERS: usize = 128;

/// The most text reserved for a message when its first line is read.
const FIRST_ROOM: usize = 512;

/// Why a message was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// A line was longer than [`MAX_LINE`].
    LineTooLong,
    /// The message had more than [`MAX_HEADERS`] lines.
    TooManyHeaders,
}

impl Rejection {
    /// The `Message:` text of the error reply.
    pub fn message(&self) -> String {
        match self {
            Rejection::LineTooLong => format!("Line too long (limit {MAX_LINE} bytes)"),
            Rejection::TooManyHeaders => {
                format!("Too many headers (limit {MAX_HEADERS})")
            }
        }
    }
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The lines of a message, without line ends, in order (possibly none: a lone
    /// blank line).
    Message(Lines),
    /// A message that broke a limit. `lines` holds the lines kept before the limit was
    /// hit (so the reply can echo an `ActionID` seen early).
    Rejected {
        /// What limit was broken.
        reason: Rejection,
        /// The lines kept.
        lines: Lines,
    },
}

/// The lines of one message, kept in one buffer: a message costs two allocations
/// however many lines it has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lines {
    /// Every line's text, one after the other, without line ends.
    text: String,
    /// Where each line ends in `text`; it starts where the one before it ends.
    ends: Vec<u32>,
}

impl Lines {
    /// How many lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// No lines.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The lines, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        (0..self.ends.len()).map(|i| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            self.text
                .get(start as usize..self.ends[i] as usize)
                .unwrap_or("")
        })
    }

    /// Appends a line (it must hold no line end).
    pub fn push(&mut self, line: &str) {
        self.text.push_str(line);
        // A message's text is bounded by MAX_LINE * MAX_HEADERS, far below u32::MAX.
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }

    /// Takes the text and the line ends apart.
    pub(crate) fn into_parts(self) -> (String, Vec<u32>) {
        (self.text, self.ends)
    }
}

impl<S: AsRef<str>> FromIterator<S> for Lines {
    fn from_iter<I: IntoIterator<Item = S>>(lines: I) -> Lines {
        let mut all = Lines::default();
        for line in lines {
            all.push(line.as_ref());
        }
        all
    }
}

/// Resumable message decoder.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Lines of the message being read.
    lines: Lines,
    /// Where to resume scanning for a line end in the buffer.
    scanned: usize,
    /// The current message broke a limit; the first reason is kept.
    rejected: Option<Rejection>,
    /// Inside an over-long line: drop bytes up to its end.
    discarding: bool,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Whether a message has started and not yet ended: lines of it were decoded, or
    /// bytes of a line wait in `buf`.
    pub fn message_pending(&self, buf: &BytesMut) -> bool {
        !buf.is_empty() || !self.lines.is_empty() || self.rejected.is_some() || self.discarding
    }

    /// Takes the next complete message out of `buf`, or `None` if more bytes are needed.
    /// Bytes of incomplete lines stay in `buf` (at most [`MAX_LINE`] of them).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        loop {
            let found = memchr::memchr(b'\n', &buf[self.scanned..]);
            let Some(offset) = found else {
                if self.discarding {
                    buf.clear();
                    self.scanned = 0;
                } else if buf.len() >= MAX_LINE {
                    self.reject(Rejection::LineTooLong);
                    self.discarding = true;
                    buf.clear();
                    self.scanned = 0;
                } else {
                    self.scanned = buf.len();
                }
                return None;
            };
            let end = self.scanned + offset;
            self.scanned = 0;
            if self.discarding {
                buf.advance(end + 1);
                self.discarding = false;
                continue;
            }
            if end + 1 > MAX_LINE {
                self.reject(Rejection::LineTooLong);
                buf.advance(end + 1);
                continue;
            }
            // Read the line in place and then step over it (no split-off buffer).
            let mut content = &buf[..end];
            if content.last() == Some(&b'\r') {
                content = &content[..content.len() - 1];
            }
            if content.is_empty() {
                buf.advance(end + 1);
                let lines = std::mem::take(&mut self.lines);
                return Some(match self.rejected.take() {
                    Some(reason) => Frame::Rejected { reason, lines },
                    None => Frame::Message(lines),
                });
            }
            if self.lines.len() >= MAX_HEADERS {
                buf.advance(end + 1);
                self.reject(Rejection::TooManyHeaders);
                continue;
            }
            if self.lines.is_empty() {
                // Room for this message's text, at a guess: what is buffered, up to a
                // size most requests fit in.
                self.lines.text.reserve(buf.len().min(FIRST_ROOM));
                self.lines.ends.reserve(8);
            }
            match std::str::from_utf8(content) {
                Ok(text) => self.lines.push(text),
                Err(_) => self.lines.push(&String::from_utf8_lossy(content)),
            }
            buf.advance(end + 1);
        }
    }

    fn reject(&mut self, reason: Rejection) {
        if self.rejected.is_none() {
            self.rejected = Some(reason);
        }
    }

    /// True while a message is partly read (used to tell a clean close from a cut one).
    pub fn in_message(&self) -> bool {
        !self.lines.is_empty() || self.rejected.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], chunk: usize) -> Vec<Frame> {
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            while let Some(f) = dec.decode(&mut buf) {
                out.push(f);
            }
        }
        out
    }

    fn msg(lines: &[&str]) -> Frame {
        Frame::Message(lines.iter().collect())
    }

    #[test]
    fn decodes_at_every_split() {
        let input = b"Action: Ping\r\nActionID: 1\r\n\r\nAction: Logoff\n\n";
        for chunk in 1..input.len() + 1 {
            assert_eq!(
                decode_all(input, chunk),
                vec![
                    msg(&["Action: Ping", "ActionID: 1"]),
                    msg(&["Action: Logoff"])
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_line_that_is_not_utf8_is_replaced_on_its_own() {
        // The two halves of "é" end one line and start the next: each line is invalid,
        // though their bytes together would not be.
        let input = b"A: \xc3\r\n\xa9: b\r\nC: \xe2\x82\xac\r\n\r\n";
        let frames = decode_all(input, 5);
        assert_eq!(
            frames,
            vec![msg(&["A: \u{fffd}", "\u{fffd}: b", "C: \u{20ac}"])]
        );
        let Frame::Message(lines) = &frames[0] else {
            unreachable!()
        };
        assert_eq!(lines.len(), 3);
        assert_eq!(lines.iter().nth(2), Some("C: \u{20ac}"));
    }

    #[test]
    fn lone_blank_line_is_an_empty_message() {
        assert_eq!(decode_all(b"\r\n", 1), vec![msg(&[])]);
    }

    #[test]
    fn long_line_is_rejected_and_stream_resyncs() {
        let mut input = b"Action: Ping\r\nActionID: x\r\nJunk: ".to_vec();
        input.extend(std::iter::repeat_n(b'a', MAX_LINE * 3));
        input.extend_from_slice(b"\r\n\r\nAction: Ping\r\n\r\n");
        for chunk in [1, 7, 1000, input.len()] {
            let frames = decode_all(&input, chunk);
            assert_eq!(frames.len(), 2, "chunk {chunk}");
            assert_eq!(
                frames[0],
                Frame::Rejected {
                    reason: Rejection::LineTooLong,
                    lines: ["Action: Ping", "ActionID: x"].into_iter().collect()
                }
            );
            assert_eq!(frames[1], msg(&["Action: Ping"]));
        }
    }

    #[test]
    fn buffer_stays_bounded_while_discarding() {
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        for _ in 0..100 {
            buf.extend_from_slice(&[b'z'; 4096]);
            assert!(dec.decode(&mut buf).is_none());
            assert!(buf.len() <= MAX_LINE);
        }
    }

    #[test]
    fn too_many_headers_is_rejected() {
        let mut input = Vec::new();
        for i in 0..MAX_HEADERS + 5 {
            input.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        input.extend_from_slice(b"\r\nAction: Ping\r\n\r\n");
        let frames = decode_all(&input, 13);
        assert!(matches!(
            &frames[0],
            Frame::Rejected { reason: Rejection::TooManyHeaders, lines } if lines.len() == MAX_HEADERS
        ));
        assert_eq!(frames[1], msg(&["Action: Ping"]));
    }

    #[test]
    fn binary_garbage_never_panics() {
        let mut seed: u32 = 12345;
        let mut input = Vec::new();
        for _ in 0..200_000 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            input.push((seed >> 16) as u8);
        }
        for chunk in [1, 3, 64, 5000] {
            let _ = decode_all(&input, chunk);
        }
    }
}
