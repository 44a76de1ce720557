//! The packed form of a call (`ami:manager/action-packed`, contract 1.1): the request
//! and the reply each as one list of bytes. The layout is documented in `wit/action.wit`.
//! Not part of the API: [`plugin!`](crate::plugin) uses it.

use crate::{Context, Dialect, Output, Privilege, Request, Response};

/// A packed request read: the action's name (where it is in the request's text), the
/// caller and the request.
pub(crate) struct Call {
    action: [usize; 2],
    pub(crate) ctx: Context,
    pub(crate) req: Request,
}

impl Call {
    /// The name of the action called.
    pub(crate) fn action(&self) -> &str {
        self.req.text_at(self.action)
    }
}

/// Reads the packed request in place. Every byte that is not a string's (the dialect,
/// the privileges, each length and count) is overwritten with ASCII NUL as it is read,
/// so the buffer becomes the request's text: one UTF-8 check of it checks every string,
/// and a character cannot straddle the ASCII between two strings, so each string is
/// also UTF-8 on its own. The call allocates only the header offsets and the caller's
/// identity.
pub(crate) fn unpack_request(mut bytes: Vec<u8>) -> Result<Call, &'static str> {
    let mut r = Blanker {
        bytes: &mut bytes,
        read: 0,
    };
    let dialect = match r.u8()? {
        0 => Dialect::V1,
        1 => Dialect::Modern,
        _ => return Err("unknown dialect"),
    };
    let read = Privilege::from_bits(r.u32()?);
    let write = Privilege::from_bits(r.u32()?);
    let mask = Privilege::from_bits(r.u32()?);
    let action = r.string()?;
    let identity = [r.string()?, r.string()?, r.string()?];
    let count = r.u32()? as usize;
    // Each header takes at least 8 bytes: a count beyond that is a lie, not a reason to
    // reserve memory.
    let mut spans = Vec::with_capacity(count.min(r.left() / 8));
    for _ in 0..count {
        let [name, name_end] = r.string()?;
        let [value, value_end] = r.string()?;
        spans.push([name, name_end, value, value_end]);
    }
    if r.left() > 0 {
        return Err("trailing bytes");
    }
    let req = Request::from_spans(dialect, bytes, spans).ok_or(NOT_UTF8)?;
    let [id, user, peer] = identity.map(|span| req.text_at(span));
    let ctx = Context::new(dialect)
        .with_identity(id, user, peer)
        .with_read_privilege(read)
        .with_write_privilege(write)
        .with_event_mask(mask);
    Ok(Call { action, ctx, req })
}

const NOT_UTF8: &str = "a string is not UTF-8";

/// Appends `reply` in packed form to `out`.
pub(crate) fn pack_response(reply: &Response, out: &mut Vec<u8>) {
    pack_headers(out, reply.headers());
    match reply.follows_output() {
        Some(text) => {
            out.push(1);
            put_str(out, text);
        }
        None => out.push(0),
    }
    let after = reply.after();
    put_u32(out, after.len());
    for piece in after {
        match piece {
            Output::Message(message) => {
                out.push(0);
                pack_headers(out, message.headers());
            }
            Output::Raw(text) => {
                out.push(1);
                put_str(out, text);
            }
        }
    }
    out.push(u8::from(reply.closes()));
}

/// Appends a packed message: the header count, then each header's name and value.
pub(crate) fn pack_headers<'a>(
    out: &mut Vec<u8>,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
) {
    let size = headers.size_hint().0;
    out.reserve(4 + size * 24);
    let at = out.len();
    put_u32(out, 0);
    let mut count = 0;
    for (name, value) in headers {
        put_str(out, name);
        put_str(out, value);
        count += 1;
    }
    let count = u32::try_from(count).unwrap_or(u32::MAX).to_le_bytes();
    out[at..at + 4].copy_from_slice(&count);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// Lengths and counts above `u32::MAX` cannot be packed; the SDK never builds them (a
/// plugin's memory is far smaller), so they are clamped rather than checked.
fn put_u32(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    out.extend_from_slice(&n.to_le_bytes());
}

/// Reads a packed request, overwriting with NUL every byte it reads that is not a
/// string's: everything before `read` is read.
struct Blanker<'a> {
    bytes: &'a mut [u8],
    read: usize,
}

impl Blanker<'_> {
    fn left(&self) -> usize {
        self.bytes.len() - self.read
    }

    #[inline]
    fn u8(&mut self) -> Result<u8, &'static str> {
        let b = self.bytes.get_mut(self.read).ok_or(TRUNCATED)?;
        self.read += 1;
        Ok(std::mem::take(b))
    }

    #[inline]
    fn u32(&mut self) -> Result<u32, &'static str> {
        let at = self.read;
        let b: &mut [u8; 4] = self
            .bytes
            .get_mut(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or(TRUNCATED)?;
        let n = u32::from_le_bytes(*b);
        *b = [0; 4];
        self.read = at + 4;
        Ok(n)
    }

    /// The next string: where it starts and ends.
    #[inline]
    fn string(&mut self) -> Result<[usize; 2], &'static str> {
        let n = self.u32()? as usize;
        if n > self.left() {
            return Err(TRUNCATED);
        }
        let at = self.read;
        self.read += n;
        Ok([at, at + n])
    }
}

const TRUNCATED: &str = "truncated";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    fn put_request(dialect: u8, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut b = vec![dialect];
        for bits in [Privilege::ALL.to_bits(), Privilege::USER.to_bits(), 0] {
            b.extend_from_slice(&bits.to_le_bytes());
        }
        for s in ["UserEvent", "sid-1", "admin", "127.0.0.1:5000"] {
            put_str(&mut b, s);
        }
        put_u32(&mut b, headers.len());
        for (n, v) in headers {
            put_str(&mut b, n);
            put_str(&mut b, v);
        }
        b
    }

    /// A request whose one header's name and value are these bytes, UTF-8 or not.
    fn with_raw_header(name: &[u8], value: &[u8]) -> Vec<u8> {
        let mut b = put_request(0, &[]);
        b.truncate(b.len() - 4);
        put_u32(&mut b, 1);
        for s in [name, value] {
            put_u32(&mut b, s.len());
            b.extend_from_slice(s);
        }
        b
    }

    #[test]
    fn request_unpacks() {
        let bytes = put_request(1, &[("Action", "UserEvent"), ("X", "é: 1")]);
        let call = unpack_request(bytes).expect("valid request");
        let (ctx, req) = (&call.ctx, &call.req);
        assert_eq!(call.action(), "UserEvent");
        assert_eq!(ctx.dialect(), Dialect::Modern);
        assert_eq!(ctx.session_id(), "sid-1");
        assert_eq!(ctx.username(), "admin");
        assert_eq!(ctx.peer(), "127.0.0.1:5000");
        assert_eq!(ctx.read_privilege(), Privilege::ALL);
        assert_eq!(ctx.write_privilege(), Privilege::USER);
        assert_eq!(ctx.event_mask(), Privilege::NONE);
        assert_eq!(req.dialect(), Dialect::Modern);
        assert_eq!(req.header("x"), Some("é: 1"));
        assert_eq!(req.headers().count(), 2);
    }

    #[test]
    fn request_headers_keep_empty_and_repeated_ones() {
        let headers = [("A", ""), ("", "v"), ("a", "2"), ("Ü", "ö: x")];
        let req = unpack_request(put_request(0, &headers))
            .expect("valid request")
            .req;
        assert_eq!(req, Request::new(Dialect::V1, headers));
        assert_eq!(req.headers().len(), 4);
        assert!(req.headers().eq(headers.iter().copied()));
        assert_eq!(req.header("a"), Some(""));
        assert_eq!(req.headers_named("A").collect::<Vec<_>>(), ["", "2"]);
    }

    #[test]
    fn a_character_split_between_name_and_value_is_refused() {
        // "é" is two bytes; the first ends the name and the second starts the value:
        // the two strings joined are UTF-8, neither is on its own.
        let b = with_raw_header(&[b'N', 0xc3], &[0xa9, b'v']);
        assert_eq!(unpack_request(b).err(), Some("a string is not UTF-8"));
    }

    #[test]
    fn a_character_split_between_the_callers_strings_is_refused() {
        // The user name ends with the first byte of "é" and the peer starts with the
        // second: the two joined are UTF-8, neither is on its own.
        let mut b = vec![0];
        b.extend_from_slice(&[0; 12]);
        put_str(&mut b, "Ping");
        put_str(&mut b, "sid");
        put_u32(&mut b, 2);
        b.extend_from_slice(&[b'u', 0xc3]);
        put_u32(&mut b, 2);
        b.extend_from_slice(&[0xa9, b'p']);
        put_u32(&mut b, 0);
        assert_eq!(unpack_request(b).err(), Some("a string is not UTF-8"));
    }

    #[test]
    fn a_character_split_around_a_length_is_refused() {
        // The name ends with the first byte of "é" and the value's length (169) starts
        // with its second: the raw bytes read "é", each string on its own is not UTF-8.
        let b = with_raw_header(&[b'N', 0xc3], &[b'v'; 169]);
        assert_eq!(unpack_request(b).err(), Some("a string is not UTF-8"));
    }

    #[test]
    fn the_callers_strings_and_the_headers_share_one_buffer() {
        let call = unpack_request(put_request(0, &[("Action", "Ping"), ("é", "")]))
            .expect("valid request");
        assert_eq!(call.action(), "UserEvent");
        assert_eq!(call.ctx.session_id(), "sid-1");
        assert_eq!(call.ctx.peer(), "127.0.0.1:5000");
        assert_eq!(
            call.req,
            Request::new(Dialect::V1, [("Action", "Ping"), ("é", "")])
        );
        assert_eq!(
            format!("{:?}", call.req),
            r#"Request { dialect: V1, headers: [("Action", "Ping"), ("é", "")] }"#
        );
    }

    #[test]
    fn bad_requests_are_refused() {
        let good = put_request(0, &[("A", "b")]);
        for cut in 0..good.len() {
            assert_eq!(
                unpack_request(good[..cut].to_vec()).err(),
                Some("truncated"),
                "cut at {cut}"
            );
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(unpack_request(trailing).err(), Some("trailing bytes"));
        let mut dialect = good.clone();
        dialect[0] = 7;
        assert_eq!(unpack_request(dialect).err(), Some("unknown dialect"));
        let mut utf8 = good.clone();
        let last = utf8.len() - 1;
        utf8[last] = 0xff;
        assert_eq!(unpack_request(utf8).err(), Some("a string is not UTF-8"));
        // A huge header count with nothing behind it reserves nothing and fails.
        let mut lie = put_request(0, &[]);
        let at = lie.len() - 4;
        lie[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(unpack_request(lie).err(), Some("truncated"));
    }

    #[test]
    fn response_packs_every_part() {
        let req = Request::new(Dialect::V1, [("ActionID", "7")]);
        let reply = Response::ack(&req, "ok")
            .then(Message::event("Done"))
            .raw("Event: X\r\n\r\n")
            .close();
        let mut out = Vec::new();
        pack_response(&reply, &mut out);
        let mut want = Vec::new();
        put_u32(&mut want, 3);
        for s in ["Response", "Success", "ActionID", "7", "Message", "ok"] {
            put_str(&mut want, s);
        }
        want.push(0);
        put_u32(&mut want, 2);
        want.push(0);
        put_u32(&mut want, 1);
        put_str(&mut want, "Event");
        put_str(&mut want, "Done");
        want.push(1);
        put_str(&mut want, "Event: X\r\n\r\n");
        want.push(1);
        assert_eq!(out, want);
    }

    #[test]
    fn follows_output_is_packed_after_the_headers() {
        let req = Request::new(Dialect::V1, [("ActionID", "7")]);
        let mut out = Vec::new();
        pack_response(&Response::follows(&req, "out\n"), &mut out);
        let mut tail = vec![1];
        put_str(&mut tail, "out\n");
        put_u32(&mut tail, 0);
        tail.push(0);
        assert!(out.ends_with(&tail), "{out:?}");
    }

    #[test]
    fn no_reply_packs_empty_parts() {
        let mut out = Vec::new();
        pack_response(&Response::none(), &mut out);
        assert_eq!(out, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
}
