//! A plugin call in wire terms: the request packed for `action-packed` (contract 1.1), and
//! the reply rendered to AMI bytes, from the `response` record or from its packed form
//! (the layout is documented in `wit/action.wit`). Both replies are rendered by the same
//! rules: header names and values have CR and LF made blanks, `follows` and `raw` text is
//! written as is, and a reply over the size limit is refused whole. No I/O here.

use bytes::{BufMut, BytesMut};

use super::bindings::ami::manager::types;
use super::CallFailure;
use crate::dialect::Dialect;
use crate::privilege::Privilege;
use crate::response::{put_clean_header, END_COMMAND};

/// Who calls, as the packed request carries it.
pub struct Caller<'a> {
    /// The session's dialect.
    pub dialect: Dialect,
    /// Read classes.
    pub read: Privilege,
    /// Write classes.
    pub write: Privilege,
    /// Event mask.
    pub mask: Privilege,
    /// Session id.
    pub session_id: &'a str,
    /// User name.
    pub username: &'a str,
    /// Peer address, `ip:port`.
    pub peer: &'a str,
}

/// Appends the packed request of a call of `action` to `buf`.
pub fn pack_request<'a>(
    buf: &mut Vec<u8>,
    caller: &Caller<'_>,
    action: &str,
    headers: impl ExactSizeIterator<Item = (&'a str, &'a str)> + Clone,
) {
    let size: usize = headers
        .clone()
        .map(|(name, value)| 8 + name.len() + value.len())
        .sum();
    buf.reserve(
        33 + action.len()
            + caller.session_id.len()
            + caller.username.len()
            + caller.peer.len()
            + size,
    );
    buf.push(match caller.dialect {
        Dialect::V1 => 0,
        Dialect::Modern => 1,
    });
    for p in [caller.read, caller.write, caller.mask] {
        buf.extend_from_slice(&p.bits().to_le_bytes());
    }
    for s in [action, caller.session_id, caller.username, caller.peer] {
        put_str(buf, s);
    }
    put_u32(buf, headers.len());
    for (name, value) in headers {
        put_str(buf, name);
        put_str(buf, value);
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_u32(buf, s.len());
    buf.extend_from_slice(s.as_bytes());
}

/// Lengths above `u32::MAX` do not occur: requests are bounded by the codec's limits.
fn put_u32(buf: &mut Vec<u8>, n: usize) {
    buf.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// Appends the reply `resp` to `out` as wire bytes and says whether to close the session
/// afterwards; a reply over `limit` bytes is refused and leaves `out` as it was.
pub fn render(
    resp: &types::Response,
    limit: usize,
    out: &mut BytesMut,
) -> Result<bool, CallFailure> {
    Renderer::run(out, limit, |r| {
        for h in &resp.headers {
            r.header(&h.name, &h.value)?;
        }
        r.end_headers(resp.follows.as_deref(), !resp.headers.is_empty())?;
        for part in &resp.after {
            match part {
                types::Output::Message(m) => {
                    for h in m {
                        r.header(&h.name, &h.value)?;
                    }
                    r.text(b"\r\n")?;
                }
                types::Output::Raw(text) => r.text(text.as_bytes())?,
            }
        }
        Ok(resp.close)
    })
}

/// [`render`] for a reply in packed form; a reply that does not parse fails the call
/// (and leaves `out` as it was).
pub fn render_packed(packed: &[u8], limit: usize, out: &mut BytesMut) -> Result<bool, CallFailure> {
    Renderer::run(out, limit, |r| {
        let mut p = Reader { bytes: packed };
        let headers = p.u32()?;
        for _ in 0..headers {
            r.raw_header(p.raw()?, p.raw()?)?;
        }
        let follows = match p.u8()? {
            0 => None,
            1 => Some(p.str()?),
            _ => return Err(malformed("follows is neither 0 nor 1")),
        };
        r.end_headers(follows, headers > 0)?;
        for _ in 0..p.u32()? {
            match p.u8()? {
                0 => {
                    for _ in 0..p.u32()? {
                        r.raw_header(p.raw()?, p.raw()?)?;
                    }
                    r.text(b"\r\n")?;
                }
                1 => r.text(p.str()?.as_bytes())?,
                _ => return Err(malformed("an output tag is neither 0 nor 1")),
            }
        }
        let close = match p.u8()? {
            0 => false,
            1 => true,
            _ => return Err(malformed("close is neither 0 nor 1")),
        };
        if !p.bytes.is_empty() {
            return Err(malformed("bytes after the reply"));
        }
        // Headers were written unchecked: one check of all the output covers them (each
        // is enclosed by ASCII; `follows` and raw text were checked on their own, since
        // two raw texts in a row are not).
        r.check_utf8()?;
        Ok(close)
    })
}

/// The header lines of a packed message (`events.emit-packed`): each `Name: value\r\n`,
/// CR and LF in names and values made blanks.
pub fn packed_lines(packed: &[u8]) -> Result<BytesMut, CallFailure> {
    let mut p = Reader { bytes: packed };
    let mut lines = BytesMut::with_capacity(packed.len());
    for _ in 0..p.u32()? {
        put_clean_header(&mut lines, p.raw()?, p.raw()?);
    }
    if !p.bytes.is_empty() {
        return Err(malformed("bytes after the message"));
    }
    // Each name and value is enclosed by ASCII (`: `, CR LF), and a character cannot
    // straddle ASCII: one check of the written lines checks every one of them.
    check_utf8(&lines)?;
    Ok(lines)
}

fn check_utf8(bytes: &[u8]) -> Result<(), CallFailure> {
    match std::str::from_utf8(bytes) {
        Ok(_) => Ok(()),
        Err(_) => Err(malformed(NOT_UTF8)),
    }
}

const NOT_UTF8: &str = "a string is not UTF-8";

fn malformed(why: &str) -> CallFailure {
    CallFailure::Malformed(why.to_string())
}

/// Writes a reply into `out`, minding the size limit.
struct Renderer<'a> {
    out: &'a mut BytesMut,
    start: usize,
    limit: usize,
}

impl Renderer<'_> {
    /// Runs `write` on a renderer over `out`; on failure `out` is cut back to its length
    /// before.
    fn run(
        out: &mut BytesMut,
        limit: usize,
        write: impl FnOnce(&mut Renderer<'_>) -> Result<bool, CallFailure>,
    ) -> Result<bool, CallFailure> {
        let start = out.len();
        let mut r = Renderer { out, start, limit };
        let result = write(&mut r);
        if result.is_err() {
            r.out.truncate(start);
        }
        result
    }

    fn header(&mut self, name: &str, value: &str) -> Result<(), CallFailure> {
        put_clean_header(self.out, name.as_bytes(), value.as_bytes());
        self.check()
    }

    /// A header from unchecked bytes; the caller checks the output with
    /// [`Renderer::check_utf8`] before it is used.
    fn raw_header(&mut self, name: &[u8], value: &[u8]) -> Result<(), CallFailure> {
        put_clean_header(self.out, name, value);
        self.check()
    }

    /// Fails unless everything written is UTF-8.
    fn check_utf8(&self) -> Result<(), CallFailure> {
        check_utf8(&self.out[self.start..])
    }

    fn text(&mut self, text: &[u8]) -> Result<(), CallFailure> {
        self.out.put_slice(text);
        self.check()
    }

    /// What follows a reply's headers: V1 `Follows` output and its end marker, else the
    /// blank line (none for a reply without headers).
    fn end_headers(&mut self, follows: Option<&str>, any: bool) -> Result<(), CallFailure> {
        match follows {
            Some(text) => {
                self.text(text.as_bytes())?;
                self.text(END_COMMAND)
            }
            None if any => self.text(b"\r\n"),
            None => Ok(()),
        }
    }

    fn check(&self) -> Result<(), CallFailure> {
        let len = self.out.len() - self.start;
        if len > self.limit {
            Err(CallFailure::TooLarge(len))
        } else {
            Ok(())
        }
    }
}

/// Reads a packed reply, every read bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CallFailure> {
        if n > self.bytes.len() {
            return Err(malformed("the reply is cut short"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, CallFailure> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, CallFailure> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A string's bytes, not checked.
    fn raw(&mut self) -> Result<&'a [u8], CallFailure> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn str(&mut self) -> Result<&'a str, CallFailure> {
        std::str::from_utf8(self.raw()?).map_err(|_| malformed(NOT_UTF8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &str, value: &str) -> types::Header {
        types::Header {
            name: name.into(),
            value: value.into(),
        }
    }

    /// `resp` packed as the SDK packs it.
    fn pack(resp: &types::Response) -> Vec<u8> {
        fn headers(b: &mut Vec<u8>, hs: &[types::Header]) {
            put_u32(b, hs.len());
            for x in hs {
                put_str(b, &x.name);
                put_str(b, &x.value);
            }
        }
        let mut b = Vec::new();
        headers(&mut b, &resp.headers);
        match &resp.follows {
            Some(t) => {
                b.push(1);
                put_str(&mut b, t);
            }
            None => b.push(0),
        }
        put_u32(&mut b, resp.after.len());
        for part in &resp.after {
            match part {
                types::Output::Message(m) => {
                    b.push(0);
                    headers(&mut b, m);
                }
                types::Output::Raw(t) => {
                    b.push(1);
                    put_str(&mut b, t);
                }
            }
        }
        b.push(u8::from(resp.close));
        b
    }

    fn both(resp: &types::Response, limit: usize) -> (Result<bool, CallFailure>, Vec<u8>) {
        let mut a = BytesMut::from(&b"before|"[..]);
        let ra = render(resp, limit, &mut a);
        let mut b = BytesMut::from(&b"before|"[..]);
        let rb = render_packed(&pack(resp), limit, &mut b);
        assert_eq!(ra, rb, "{resp:?}");
        assert_eq!(a, b, "{resp:?}");
        (ra, a.to_vec())
    }

    fn sample() -> types::Response {
        types::Response {
            headers: vec![h("Response", "Success"), h("Message", "a\r\nInjected: 1")],
            follows: None,
            after: vec![
                types::Output::Message(vec![h("Event", "Item"), h("N", "1")]),
                types::Output::Raw("Event: Raw\r\n\r\n".into()),
            ],
            close: true,
        }
    }

    #[test]
    fn record_and_packed_render_alike() {
        let (r, out) = both(&sample(), 1 << 20);
        assert_eq!(r, Ok(true));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "before|Response: Success\r\nMessage: a  Injected: 1\r\n\r\n\
             Event: Item\r\nN: 1\r\n\r\nEvent: Raw\r\n\r\n"
        );
        let follows = types::Response {
            headers: vec![h("Response", "Follows")],
            follows: Some("line\n".into()),
            after: vec![],
            close: false,
        };
        let (r, out) = both(&follows, 1 << 20);
        assert_eq!(r, Ok(false));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "before|Response: Follows\r\nline\n--END COMMAND--\r\n\r\n"
        );
        let none = types::Response {
            headers: vec![],
            follows: None,
            after: vec![],
            close: false,
        };
        assert_eq!(both(&none, 0), (Ok(false), b"before|".to_vec()));
    }

    #[test]
    fn over_the_limit_leaves_out_as_it_was() {
        let (r, out) = both(&sample(), 40);
        assert!(
            matches!(r, Err(CallFailure::TooLarge(n)) if n > 40),
            "{r:?}"
        );
        assert_eq!(out, b"before|");
    }

    #[test]
    fn malformed_packed_replies_fail_and_write_nothing() {
        let good = pack(&sample());
        for cut in 0..good.len() {
            let mut out = BytesMut::from(&b"x"[..]);
            let r = render_packed(&good[..cut], 1 << 20, &mut out);
            assert!(
                matches!(r, Err(CallFailure::Malformed(_))),
                "cut at {cut}: {r:?}"
            );
            assert_eq!(&out[..], b"x");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        let mut bad_close = good.clone();
        *bad_close.last_mut().unwrap() = 2;
        let mut bad_utf8 = good.clone();
        let at = 4 + 4 + "Response".len() + 4;
        bad_utf8[at] = 0xff;
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        for bytes in [trailing, bad_close, bad_utf8, huge] {
            let mut out = BytesMut::new();
            let r = render_packed(&bytes, 1 << 20, &mut out);
            assert!(matches!(r, Err(CallFailure::Malformed(_))), "{r:?}");
            assert!(out.is_empty());
        }
    }

    #[test]
    fn packed_message_becomes_clean_lines() {
        let mut b = Vec::new();
        put_u32(&mut b, 2);
        for s in ["UserEvent", "Deploy", "Note", "a\rb\nc"] {
            put_str(&mut b, s);
        }
        let lines = packed_lines(&b).map(|l| l.to_vec());
        assert_eq!(lines, Ok(b"UserEvent: Deploy\r\nNote: a b c\r\n".to_vec()));
        assert_eq!(packed_lines(&[0, 0, 0, 0]).map(|l| l.len()), Ok(0));
        for cut in 0..b.len() {
            assert!(matches!(
                packed_lines(&b[..cut]),
                Err(CallFailure::Malformed(_))
            ));
        }
        b.push(0);
        assert!(matches!(packed_lines(&b), Err(CallFailure::Malformed(_))));
    }

    #[test]
    fn every_packed_string_must_be_utf8() {
        // A message of one header, the name and value given as bytes.
        fn message(name: &[u8], value: &[u8]) -> Vec<u8> {
            let mut b = Vec::new();
            put_u32(&mut b, 1);
            for s in [name, value] {
                put_u32(&mut b, s.len());
                b.extend_from_slice(s);
            }
            b
        }
        let ok = packed_lines(&message("Ünï".as_bytes(), "é\r€".as_bytes()));
        assert_eq!(
            ok.map(|l| l.to_vec()),
            Ok("Ünï: é €\r\n".as_bytes().to_vec())
        );
        // "é" is C3 A9: cut between name and value, or with CR LF inside, or alone.
        let bad = [
            message(b"N\xc3", b"\xa9v"),
            message(b"N", b"\xc3\r\xa9"),
            message(b"N", b"v\xc3"),
            message(b"\xa9", b"v"),
            message(b"N", b"\xff"),
        ];
        for b in &bad {
            assert_eq!(
                packed_lines(b),
                Err(CallFailure::Malformed(NOT_UTF8.into())),
                "{b:?}"
            );
            // The same as a reply's headers, and as a message after it.
            let mut reply = b.clone();
            reply.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            let mut after = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
            after.extend_from_slice(b);
            after.push(0);
            for packed in [reply, after] {
                let mut out = BytesMut::from(&b"x"[..]);
                let r = render_packed(&packed, 1 << 20, &mut out);
                assert_eq!(
                    r,
                    Err(CallFailure::Malformed(NOT_UTF8.into())),
                    "{packed:?}"
                );
                assert_eq!(&out[..], b"x");
            }
        }
        // Two raw texts that are UTF-8 only together are refused too.
        let mut raws = vec![0, 0, 0, 0, 0, 2, 0, 0, 0];
        for half in [&b"\xc3"[..], b"\xa9"] {
            raws.push(1);
            put_u32(&mut raws, 1);
            raws.extend_from_slice(half);
        }
        raws.push(0);
        let r = render_packed(&raws, 1 << 20, &mut BytesMut::new());
        assert_eq!(r, Err(CallFailure::Malformed(NOT_UTF8.into())));
    }

    #[test]
    fn request_packs_caller_and_headers() {
        let caller = Caller {
            dialect: Dialect::Modern,
            read: Privilege::ALL,
            write: Privilege::USER,
            mask: Privilege::NONE,
            session_id: "s1",
            username: "admin",
            peer: "127.0.0.1:9",
        };
        let headers = [("Action", "Ping"), ("ActionID", "é")];
        let mut buf = vec![9];
        pack_request(&mut buf, &caller, "Ping", headers.into_iter());
        let mut want = vec![9, 1];
        for bits in [Privilege::ALL.bits(), Privilege::USER.bits(), 0] {
            want.extend_from_slice(&bits.to_le_bytes());
        }
        for s in ["Ping", "s1", "admin", "127.0.0.1:9"] {
            put_str(&mut want, s);
        }
        want.extend_from_slice(&2u32.to_le_bytes());
        for s in ["Action", "Ping", "ActionID", "é"] {
            put_str(&mut want, s);
        }
        assert_eq!(buf, want);
    }
}
