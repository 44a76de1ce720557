//! `Logoff`: end the session (after login; the host answers a Logoff before login itself).
//!
//! ```text
//! Response: Goodbye
//! [ActionID: <id>]
//! Message: Thanks for all the fish.
//! ```
//!
//! Then the host closes the connection. Same in both dialects.

use ami_plugin_sdk::{Context, Request, Response};

/// What `manager show command Logoff` prints.
pub const DESCRIPTION: &str = "Says goodbye and closes this manager session.";

/// The handler.
pub fn logoff(req: &Request, _ctx: &Context) -> Response {
    Response::response(req, "Goodbye", Some("Thanks for all the fish.")).close()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_plugin_sdk::Dialect;

    #[test]
    fn says_goodbye_and_closes() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let req = Request::new(dialect, [("Action", "Logoff"), ("ActionID", "22")]);
            let reply = logoff(&req, &Context::new(dialect));
            assert!(reply.closes());
            assert_eq!(
                reply.to_wire(),
                "Response: Goodbye\r\nActionID: 22\r\nMessage: Thanks for all the fish.\r\n\r\n"
            );
        }
    }
}
