//! `CoreStatus`: when the PBX started and reloaded, and how many calls it carries.
//!
//! ```text
//! V1                              Modern
//! Response: Success               Response: Success
//! [ActionID: <id>]                [ActionID: <id>]
//! CoreStartupTime: HH:MM:SS       CoreStartupDate: YYYY-MM-DD
//! CoreReloadTime: HH:MM:SS        CoreStartupTime: HH:MM:SS
//! CoreCurrentCalls: <n>           CoreReloadDate: YYYY-MM-DD
//!                                 CoreReloadTime: HH:MM:SS
//!                                 CoreCurrentCalls: <n>
//!                                 CoreProcessedCalls: <n>
//! ```

use ami_plugin_sdk::core::{self, CoreStatus};
use ami_plugin_sdk::{Context, Dialect, Request, Response};

/// What `manager show command CoreStatus` prints.
pub const DESCRIPTION: &str = "Reports when the PBX started and was last reloaded (host \
local time) and how many calls are up; the modern dialect adds the dates and the number \
of calls processed since start.";

/// The handler.
pub fn core_status(req: &Request, _ctx: &Context) -> Response {
    reply(req, &core::status())
}

fn reply(req: &Request, s: &CoreStatus) -> Response {
    match req.dialect() {
        Dialect::V1 => Response::success(req)
            .header("CoreStartupTime", &s.startup_time)
            .header("CoreReloadTime", &s.reload_time)
            .header("CoreCurrentCalls", s.current_calls),
        Dialect::Modern => Response::success(req)
            .header("CoreStartupDate", &s.startup_date)
            .header("CoreStartupTime", &s.startup_time)
            .header("CoreReloadDate", &s.reload_date)
            .header("CoreReloadTime", &s.reload_time)
            .header("CoreCurrentCalls", s.current_calls)
            .header("CoreProcessedCalls", s.processed_calls),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> CoreStatus {
        CoreStatus {
            startup_date: "2026-11-26".to_string(),
            startup_time: "05:00:07".to_string(),
            reload_date: "2026-11-26".to_string(),
            reload_time: "05:00:08".to_string(),
            current_calls: 0,
            processed_calls: 4,
        }
    }

    #[test]
    fn modern_matches_transcript_18() {
        let req = Request::new(
            Dialect::Modern,
            [("Action", "CoreStatus"), ("ActionID", "18")],
        );
        assert_eq!(
            reply(&req, &status()).to_wire(),
            "Response: Success\r\nActionID: 18\r\nCoreStartupDate: 2026-11-26\r\n\
             CoreStartupTime: 05:00:07\r\nCoreReloadDate: 2026-11-26\r\n\
             CoreReloadTime: 05:00:08\r\nCoreCurrentCalls: 0\r\nCoreProcessedCalls: 4\r\n\r\n"
        );
    }

    #[test]
    fn v1_has_times_and_current_calls() {
        let req = Request::new(Dialect::V1, [("Action", "CoreStatus")]);
        assert_eq!(
            reply(
                &req,
                &CoreStatus {
                    current_calls: 3,
                    ..status()
                }
            )
            .to_wire(),
            "Response: Success\r\nCoreStartupTime: 05:00:07\r\nCoreReloadTime: 05:00:08\r\n\
             CoreCurrentCalls: 3\r\n\r\n"
        );
    }
}
