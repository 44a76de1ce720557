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
    Message(Vec<String>),
    /// A message that broke a limit. `lines` holds the lines kept before the limit was
    /// hit (so the reply can echo an `ActionID` seen early).
    Rejected {
        /// What limit was broken.
        reason: Rejection,
        /// The lines kept.
        lines: Vec<String>,
    },
}

/// Resumable message decoder.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Lines of the message being read.
    lines: Vec<String>,
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
            let found = buf[self.scanned..].iter().position(|&b| b == b'\n');
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
            let line = match std::str::from_utf8(content) {
                Ok(text) => text.to_owned(),
                Err(_) => String::from_utf8_lossy(content).into_owned(),
            };
            buf.advance(end + 1);
            self.lines.push(line);
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
        Frame::Message(lines.iter().map(|s| s.to_string()).collect())
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
                    lines: vec!["Action: Ping".into(), "ActionID: x".into()]
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
