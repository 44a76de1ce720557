//! `Ping`: keepalive.
//!
//! ```text
//! V1                      Modern
//! Response: Pong          Response: Success
//! [ActionID: <id>]        [ActionID: <id>]
//!                         Ping: Pong
//!                         Timestamp: <seconds>.<microseconds, 6 digits>
//! ```
//!
//! No request headers besides `ActionID`; never fails.

use ami_plugin_sdk::{core, Context, Dialect, Request, Response};

/// What `manager show command Ping` prints.
pub const DESCRIPTION: &str = "Answers at once without touching the PBX, so a client can \
check that its connection is alive and keep it from timing out. The modern dialect adds \
the server's current time.";

/// The handler.
pub fn ping(req: &Request, _ctx: &Context) -> Response {
    match req.dialect() {
        Dialect::V1 => pong_v1(req),
        Dialect::Modern => pong_modern(req, core::now()),
    }
}

fn pong_v1(req: &Request) -> Response {
    Response::response(req, "Pong", None)
}

fn pong_modern(req: &Request, (seconds, micros): (u64, u32)) -> Response {
    Response::success(req)
        .header("Ping", "Pong")
        .header("Timestamp", format!("{seconds}.{micros:06}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_answers_pong() {
        let req = Request::new(Dialect::V1, [("Action", "Ping"), ("ActionID", "k1")]);
        assert_eq!(
            ping(&req, &Context::new(Dialect::V1)).to_wire(),
            "Response: Pong\r\nActionID: k1\r\n\r\n"
        );
        let req = Request::new(Dialect::V1, [("Action", "Ping")]);
        assert_eq!(pong_v1(&req).to_wire(), "Response: Pong\r\n\r\n");
    }

    #[test]
    fn modern_answers_success_with_timestamp() {
        let req = Request::new(Dialect::Modern, [("Action", "Ping"), ("ActionID", "6")]);
        assert_eq!(
            pong_modern(&req, (1795669432, 647736)).to_wire(),
            "Response: Success\r\nActionID: 6\r\nPing: Pong\r\nTimestamp: 1795669432.647736\r\n\r\n"
        );
        let req = Request::new(Dialect::Modern, [("Action", "Ping")]);
        assert_eq!(
            pong_modern(&req, (5, 42)).to_wire(),
            "Response: Success\r\nPing: Pong\r\nTimestamp: 5.000042\r\n\r\n"
        );
    }
}
