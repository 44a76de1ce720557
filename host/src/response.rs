//! Reply builders for what the host answers itself (errors, Login, Challenge), mirroring
//! `astman_send_error` / `astman_send_response` / `astman_send_ack`, and the renderer that
//! turns a plugin's reply into wire bytes. No I/O here.

use bytes::{BufMut, BytesMut};

use crate::events::put_header;
use crate::message::Message;

/// Writes `Response: <resp>`, `ActionID` when the request had one, optional
/// `Message: <msg>`, and the blank line (`astman_send_response`).
pub fn send_response(out: &mut BytesMut, req: &Message, resp: &str, msg: Option<&str>) {
    put_header(out, "Response", resp);
    if let Some(id) = req.action_id() {
        put_header(out, "ActionID", id);
    }
    if let Some(msg) = msg {
        put_header(out, "Message", msg);
    }
    out.put_slice(b"\r\n");
}

/// `astman_send_error`.
pub fn send_error(out: &mut BytesMut, req: &Message, msg: &str) {
    send_response(out, req, "Error", Some(msg));
}

/// `astman_send_ack`.
pub fn send_ack(out: &mut BytesMut, req: &Message, msg: &str) {
    send_response(out, req, "Success", Some(msg));
}

/// Makes a header name or value safe to write: a CR or LF inside would end the line and
/// let the text forge further headers, so each becomes a blank.
pub fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    if text.bytes().any(|b| b == b'\r' || b == b'\n') {
        std::borrow::Cow::Owned(text.replace(['\r', '\n'], " "))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Writes the header line `name: value` with CR and LF in the name and value made blanks
/// (as [`clean`] does), straight from their bytes. Bytes that are not UTF-8 are written
/// as they are: a caller with unchecked bytes checks the written lines.
pub fn put_clean_header(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.reserve(name.len() + value.len() + 4);
    put_clean(out, name);
    out.put_slice(b": ");
    put_clean(out, value);
    out.put_slice(b"\r\n");
}

fn put_clean(out: &mut BytesMut, text: &[u8]) {
    let mut rest = text;
    while let Some(at) = rest.iter().position(|&b| b == b'\r' || b == b'\n') {
        out.put_slice(&rest[..at]);
        out.put_u8(b' ');
        rest = &rest[at + 1..];
    }
    out.put_slice(rest);
}

/// Writes one message: its headers and the blank line.
pub fn put_message<'a>(out: &mut BytesMut, headers: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (n, v) in headers {
        put_clean_header(out, n.as_bytes(), v.as_bytes());
    }
    out.put_slice(b"\r\n");
}

/// The marker that ends 1.0 `Response: Follows` output.
pub const END_COMMAND: &[u8] = b"--END COMMAND--\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_echoes_action_id_second() {
        let req = Message::from_pairs([("Action", "X"), ("ActionID", "42")]);
        let mut out = BytesMut::new();
        send_error(&mut out, &req, "Permission denied");
        assert_eq!(
            &out[..],
            b"Response: Error\r\nActionID: 42\r\nMessage: Permission denied\r\n\r\n"
        );
    }

    #[test]
    fn empty_action_id_is_not_echoed() {
        let req = Message::from_pairs([("Action", "Ping"), ("ActionID", "")]);
        let mut out = BytesMut::new();
        send_response(&mut out, &req, "Pong", None);
        assert_eq!(&out[..], b"Response: Pong\r\n\r\n");
    }

    #[test]
    fn line_breaks_cannot_forge_headers() {
        let mut out = BytesMut::new();
        put_message(&mut out, [("A", "x\r\nEvil: 1")]);
        assert_eq!(&out[..], b"A: x  Evil: 1\r\n\r\n");
    }
}
