//! `Atxfer`: starts an attended transfer of `Channel` to `Exten` (in `Context`, when
//! given, stored as the channel's `TRANSFER_CONTEXT`). Both dialects, in order:
//!
//! ```text
//! Channel empty:                      error No channel specified
//! Exten empty:                        error No extension specified
//! no attended-transfer feature:       error No attended transfer feature found
//! channel not found:                  error Channel specified does not exist
//! transfer started:                   ack   Atxfer successfully queued
//! ```
//!
//! (`error X` = `Response: Error` / `[ActionID]` / `Message: X`; `ack X` the same with
//! `Response: Success`.) Any other failure the host reports is `error Atxfer failed`.

use ami_plugin_sdk::channels::{self, ChannelError};
use ami_plugin_sdk::{Context, Request, Response};

/// What `manager show command Atxfer` prints.
pub const DESCRIPTION: &str = "Starts an attended transfer of the channel named in \
Channel to Exten: the atxfer feature code and the digits of Exten are queued on the \
channel. Context, when given, becomes the channel's TRANSFER_CONTEXT. Priority is \
accepted and not used.";

/// The handler.
pub fn atxfer(req: &Request, _ctx: &Context) -> Response {
    let channel = req.header_or_empty("Channel");
    if channel.is_empty() {
        return Response::error(req, "No channel specified");
    }
    let exten = req.header_or_empty("Exten");
    if exten.is_empty() {
        return Response::error(req, "No extension specified");
    }
    let context = Some(req.header_or_empty("Context")).filter(|c| !c.is_empty());
    reply(req, channels::atxfer(channel, exten, context))
}

/// The reply to a transfer request that ended with `result`.
fn reply(req: &Request, result: Result<(), ChannelError>) -> Response {
    match result {
        Ok(()) => Response::ack(req, "Atxfer successfully queued"),
        Err(ChannelError::Unsupported) => {
            Response::error(req, "No attended transfer feature found")
        }
        Err(ChannelError::NoSuchChannel) => {
            Response::error(req, "Channel specified does not exist")
        }
        Err(_) => Response::error(req, "Atxfer failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_plugin_sdk::Dialect;

    #[test]
    fn replies_in_both_dialects() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let req = Request::new(dialect, [("Action", "Atxfer"), ("ActionID", "x1")]);
            let wire = |result| reply(&req, result).to_wire();
            assert_eq!(
                wire(Ok(())),
                "Response: Success\r\nActionID: x1\r\nMessage: Atxfer successfully queued\r\n\r\n"
            );
            assert_eq!(
                wire(Err(ChannelError::Unsupported)),
                "Response: Error\r\nActionID: x1\r\nMessage: No attended transfer feature found\r\n\r\n"
            );
            assert_eq!(
                wire(Err(ChannelError::NoSuchChannel)),
                "Response: Error\r\nActionID: x1\r\nMessage: Channel specified does not exist\r\n\r\n"
            );
            assert_eq!(
                wire(Err(ChannelError::Failed)),
                "Response: Error\r\nActionID: x1\r\nMessage: Atxfer failed\r\n\r\n"
            );
        }
    }
}
