//! `CoreSettings`: the PBX core settings.
//!
//! ```text
//! Response: Success
//! [ActionID: <id>]
//! AMIversion: <1.0 | 11.0.0>
//! AsteriskVersion: <version>
//! SystemName: <name, may be empty>
//! CoreMaxCalls: <n, 0 = unlimited>
//! CoreMaxLoadAvg: <float, 6 decimals>
//! CoreRunUser: <user, may be empty>
//! CoreRunGroup: <group, may be empty>
//! CoreMaxFilehandles: <n>
//! CoreRealTimeEnabled: Yes|No
//! CoreCDRenabled: Yes|No
//! CoreHTTPenabled: Yes|No
//! SoundsSearchCustomDir: No        (modern only)
//! ```

use ami_plugin_sdk::core::{self, CoreSettings};
use ami_plugin_sdk::{Context, Dialect, Request, Response};

/// What `manager show command CoreSettings` prints.
pub const DESCRIPTION: &str = "Reports the manager and PBX versions and the core limits \
and options: system name, call and load limits, run user and group, file handle limit, \
and whether realtime, CDR and the HTTP manager are enabled.";

/// The handler.
pub fn core_settings(req: &Request, _ctx: &Context) -> Response {
    reply(req, &core::settings())
}

fn reply(req: &Request, s: &CoreSettings) -> Response {
    let reply = Response::success(req)
        .header("AMIversion", &s.ami_version)
        .header("AsteriskVersion", &s.pbx_version)
        .header("SystemName", &s.system_name)
        .header("CoreMaxCalls", s.max_calls)
        .header("CoreMaxLoadAvg", format!("{:.6}", s.max_load_avg))
        .header("CoreRunUser", &s.run_user)
        .header("CoreRunGroup", &s.run_group)
        .header("CoreMaxFilehandles", s.max_file_handles)
        .header("CoreRealTimeEnabled", yes_no(s.realtime_enabled))
        .header("CoreCDRenabled", yes_no(s.cdr_enabled))
        .header("CoreHTTPenabled", yes_no(s.http_enabled));
    match req.dialect() {
        Dialect::V1 => reply,
        Dialect::Modern => reply.header("SoundsSearchCustomDir", "No"),
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "Yes"
    } else {
        "No"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(ami_version: &str) -> CoreSettings {
        CoreSettings {
            ami_version: ami_version.to_string(),
            pbx_version: "22.10.1".to_string(),
            cdr_enabled: true,
            http_enabled: true,
            ..CoreSettings::default()
        }
    }

    #[test]
    fn modern_matches_transcript_17() {
        let req = Request::new(
            Dialect::Modern,
            [("Action", "CoreSettings"), ("ActionID", "17")],
        );
        assert_eq!(
            reply(&req, &settings("11.0.0")).to_wire(),
            "Response: Success\r\nActionID: 17\r\nAMIversion: 11.0.0\r\n\
             AsteriskVersion: 22.10.1\r\nSystemName: \r\nCoreMaxCalls: 0\r\n\
             CoreMaxLoadAvg: 0.000000\r\nCoreRunUser: \r\nCoreRunGroup: \r\n\
             CoreMaxFilehandles: 0\r\nCoreRealTimeEnabled: No\r\nCoreCDRenabled: Yes\r\n\
             CoreHTTPenabled: Yes\r\nSoundsSearchCustomDir: No\r\n\r\n"
        );
    }

    #[test]
    fn v1_has_no_sounds_dir_and_prints_values() {
        let s = CoreSettings {
            system_name: "pbx1".to_string(),
            max_calls: 100,
            max_load_avg: 2.5,
            run_user: "asterisk".to_string(),
            run_group: "voice".to_string(),
            max_file_handles: 4096,
            realtime_enabled: true,
            cdr_enabled: false,
            http_enabled: false,
            ..settings("1.0")
        };
        let req = Request::new(Dialect::V1, [("Action", "CoreSettings")]);
        assert_eq!(
            reply(&req, &s).to_wire(),
            "Response: Success\r\nAMIversion: 1.0\r\nAsteriskVersion: 22.10.1\r\n\
             SystemName: pbx1\r\nCoreMaxCalls: 100\r\nCoreMaxLoadAvg: 2.500000\r\n\
             CoreRunUser: asterisk\r\nCoreRunGroup: voice\r\nCoreMaxFilehandles: 4096\r\n\
             CoreRealTimeEnabled: Yes\r\nCoreCDRenabled: No\r\nCoreHTTPenabled: No\r\n\r\n"
        );
    }
}
