//! `Status`: one `Status` block per channel (or for the one named in `Channel`).
//!
//! `Channel` given but unknown: `Response: Error` / `[ActionID]` / `Message: No such channel`.
//!
//! AMI 1.0 (the blocks are part of the reply, `ActionID` last in each block):
//!
//! ```text
//! Response: Success / [ActionID] / Message: Channel status will follow
//!
//! Event: Status
//! Privilege: Call
//! Channel: <name>
//! CallerID: <num | <unknown>>
//! CallerIDNum: <num | <unknown>>
//! CallerIDName: <name | <unknown>>
//! Account: <account code, may be empty>
//! State: <Down | Rsrvd | OffHook | Dialing | Ring | Ringing | Up | Busy | ...>
//! Context: <context>          \
//! Extension: <exten>           | only for a channel running dialplan
//! Priority: <n>                |
//! Seconds: <n>                /
//! Link: <bridged peer>          only when bridged
//! Uniqueid: <id>
//! [ActionID: <id>]
//!
//! Event: StatusComplete
//! [ActionID: <id>]
//! ```
//!
//! Modern (Asterisk 22): `Response: Success` / `[ActionID]` / `EventList: start` /
//! `Message: Channel status will follow`; one block per channel with the channel snapshot
//! (`Channel`, `ChannelState`, `ChannelStateDesc`, `CallerIDNum`, `CallerIDName`,
//! `ConnectedLineNum`, `ConnectedLineName`, `Language`, `AccountCode`, `Context`, `Exten`,
//! `Priority`, `Uniqueid`, `Linkedid`), then `Type`, `DNID`, `EffectiveConnectedLineNum`,
//! `EffectiveConnectedLineName`, `TimeToHangup`, `BridgeID`, `Application`, `Data`,
//! `Nativeformats`, `Readformat`, `Readtrans`, `Writeformat`, `Writetrans`, `Callgroup`,
//! `Pickupgroup`, `Seconds`, `[ActionID]`; then `Event: StatusComplete` / `[ActionID]` /
//! `EventList: Complete` / `ListItems: <n>` / `Items: <n>`.

use ami_plugin_sdk::channels::{self, ChannelInfo};
use ami_plugin_sdk::{Context, Dialect, Message, Request, Response};

/// What `manager show command Status` prints.
pub const DESCRIPTION: &str = "Lists the status of every channel, or of the one named in \
Channel: its caller id, account code, state, dialplan location, running time and bridged \
peer, one Status event per channel, then StatusComplete.";

/// Shown for a caller id part that is unset or empty.
const UNKNOWN: &str = "<unknown>";

/// The handler.
pub fn status(req: &Request, _ctx: &Context) -> Response {
    let wanted = req.header_or_empty("Channel");
    let list = if wanted.is_empty() {
        channels::all()
    } else {
        match channels::get(wanted) {
            Some(channel) => vec![channel],
            None => return Response::error(req, "No such channel"),
        }
    };
    reply(req, &list)
}

/// The whole reply listing `list`, in the request's dialect.
fn reply(req: &Request, list: &[ChannelInfo]) -> Response {
    let mut reply = Response::list_start(req, "Channel status will follow");
    match req.dialect() {
        Dialect::V1 => {
            for channel in list {
                reply.push_then(v1_block(req, channel));
            }
            reply.then(Message::event("StatusComplete").with_action_id(req))
        }
        Dialect::Modern => {
            for channel in list {
                reply.push_then(modern_block(req, channel));
            }
            reply.then(
                Message::list_complete("StatusComplete", req, list.len())
                    .header("Items", list.len()),
            )
        }
    }
}

/// One AMI 1.0 `Status` block.
fn v1_block(req: &Request, c: &ChannelInfo) -> Message {
    let num = or_unknown(&c.caller_id_num);
    let mut block = Message::event("Status")
        .header("Privilege", "Call")
        .header("Channel", &c.name)
        .header("CallerID", num)
        .header("CallerIDNum", num)
        .header("CallerIDName", or_unknown(&c.caller_id_name))
        .header("Account", &c.account_code)
        .header("State", state_text(c.state));
    if c.in_dialplan {
        block = block
            .header("Context", &c.context)
            .header("Extension", &c.exten)
            .header("Priority", c.priority)
            .header("Seconds", c.seconds);
    }
    if let Some(peer) = &c.bridged_to {
        block.push_header("Link", peer);
    }
    block.header("Uniqueid", &c.uniqueid).with_action_id(req)
}

/// One modern `Status` block. Values the host does not track are rendered as Asterisk
/// shows them for a plain channel: no DNID, no hangup deadline, no bridge id, signed
/// linear audio, no call or pickup groups.
fn modern_block(req: &Request, c: &ChannelInfo) -> Message {
    let connected_num = or_unknown(&c.connected_line_num);
    let connected_name = or_unknown(&c.connected_line_name);
    let state_desc = if c.state_desc.is_empty() {
        state_text(c.state)
    } else {
        c.state_desc.clone()
    };
    Message::event("Status")
        .header("Privilege", "Call")
        .header("Channel", &c.name)
        .header("ChannelState", c.state)
        .header("ChannelStateDesc", state_desc)
        .header("CallerIDNum", or_unknown(&c.caller_id_num))
        .header("CallerIDName", or_unknown(&c.caller_id_name))
        .header("ConnectedLineNum", connected_num)
        .header("ConnectedLineName", connected_name)
        .header("Language", &c.language)
        .header("AccountCode", &c.account_code)
        .header("Context", &c.context)
        .header("Exten", &c.exten)
        .header("Priority", c.priority)
        .header("Uniqueid", &c.uniqueid)
        .header("Linkedid", &c.linkedid)
        .header("Type", channel_type(&c.name))
        .header("DNID", "")
        .header("EffectiveConnectedLineNum", connected_num)
        .header("EffectiveConnectedLineName", connected_name)
        .header("TimeToHangup", 0)
        .header("BridgeID", "")
        .header("Application", &c.application)
        .header("Data", &c.application_data)
        .header("Nativeformats", "(slin)")
        .header("Readformat", "slin")
        .header("Readtrans", "")
        .header("Writeformat", "slin")
        .header("Writetrans", "")
        .header("Callgroup", 0)
        .header("Pickupgroup", 0)
        .header("Seconds", c.seconds)
        .with_action_id(req)
}

/// A caller id part, or `<unknown>` when unset or empty.
fn or_unknown(value: &Option<String>) -> &str {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .unwrap_or(UNKNOWN)
}

/// The technology of a channel name: the text before the first `/`.
fn channel_type(name: &str) -> &str {
    name.split_once('/').map_or(name, |(tech, _)| tech)
}

/// `ast_state2str`: the text of a channel state number.
fn state_text(state: u8) -> String {
    match state {
        0 => "Down".to_string(),
        1 => "Rsrvd".to_string(),
        2 => "OffHook".to_string(),
        3 => "Dialing".to_string(),
        4 => "Ring".to_string(),
        5 => "Ringing".to_string(),
        6 => "Up".to_string(),
        7 => "Busy".to_string(),
        8 => "Dialing Offhook".to_string(),
        9 => "Pre-ring".to_string(),
        n => format!("Unknown ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(dialect: Dialect, id: &str) -> Request {
        Request::new(dialect, [("Action", "Status"), ("ActionID", id)])
    }

    fn in_dialplan() -> ChannelInfo {
        ChannelInfo {
            name: "SIP/100-08a3c1e8".into(),
            uniqueid: "1232540000.12".into(),
            linkedid: "1232540000.12".into(),
            state: 6,
            state_desc: "Up".into(),
            caller_id_num: Some("100".into()),
            caller_id_name: Some("Alice".into()),
            account_code: "4711".into(),
            language: "en".into(),
            context: "default".into(),
            exten: "200".into(),
            priority: 3,
            in_dialplan: true,
            application: "Dial".into(),
            application_data: "SIP/200".into(),
            seconds: 42,
            bridged_to: Some("SIP/200-08a40d10".into()),
            ..ChannelInfo::default()
        }
    }

    fn called_leg() -> ChannelInfo {
        ChannelInfo {
            name: "SIP/200-08a40d10".into(),
            uniqueid: "1232540000.13".into(),
            linkedid: "1232540000.12".into(),
            state: 5,
            state_desc: "Ringing".into(),
            caller_id_num: Some(String::new()),
            ..ChannelInfo::default()
        }
    }

    #[test]
    fn v1_blocks_match_the_reference() {
        let reply = reply(&req(Dialect::V1, "s1"), &[in_dialplan(), called_leg()]);
        assert_eq!(
            reply.to_wire(),
            "Response: Success\r\nActionID: s1\r\nMessage: Channel status will follow\r\n\r\n\
             Event: Status\r\nPrivilege: Call\r\nChannel: SIP/100-08a3c1e8\r\n\
             CallerID: 100\r\nCallerIDNum: 100\r\nCallerIDName: Alice\r\nAccount: 4711\r\n\
             State: Up\r\nContext: default\r\nExtension: 200\r\nPriority: 3\r\n\
             Seconds: 42\r\nLink: SIP/200-08a40d10\r\nUniqueid: 1232540000.12\r\n\
             ActionID: s1\r\n\r\n\
             Event: Status\r\nPrivilege: Call\r\nChannel: SIP/200-08a40d10\r\n\
             CallerID: <unknown>\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\n\
             Account: \r\nState: Ringing\r\nUniqueid: 1232540000.13\r\nActionID: s1\r\n\r\n\
             Event: StatusComplete\r\nActionID: s1\r\n\r\n"
        );
    }

    #[test]
    fn v1_without_action_id_or_channels() {
        let req = Request::new(Dialect::V1, [("Action", "Status")]);
        assert_eq!(
            reply(&req, &[]).to_wire(),
            "Response: Success\r\nMessage: Channel status will follow\r\n\r\n\
             Event: StatusComplete\r\n\r\n"
        );
    }

    #[test]
    fn modern_matches_transcript_11() {
        let leg = |name: &str, uniqueid: &str, priority: u32, data: &str| ChannelInfo {
            name: name.into(),
            uniqueid: uniqueid.into(),
            linkedid: "1795669443.7".into(),
            state: 6,
            state_desc: "Up".into(),
            language: "en".into(),
            context: "default".into(),
            exten: "102".into(),
            priority,
            in_dialplan: true,
            application: "Wait".into(),
            application_data: data.into(),
            ..ChannelInfo::default()
        };
        let list = [
            leg("Local/102@default-00000003;2", "1795669443.8", 2, "30"),
            leg("Local/102@default-00000003;1", "1795669443.7", 1, "20"),
        ];
        let block = |name: &str, uniqueid: &str, priority: u32, data: &str| {
            format!(
                "Event: Status\r\nPrivilege: Call\r\nChannel: {name}\r\nChannelState: 6\r\n\
                 ChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\n\
                 ConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\n\
                 AccountCode: \r\nContext: default\r\nExten: 102\r\nPriority: {priority}\r\n\
                 Uniqueid: {uniqueid}\r\nLinkedid: 1795669443.7\r\nType: Local\r\nDNID: \r\n\
                 EffectiveConnectedLineNum: <unknown>\r\nEffectiveConnectedLineName: <unknown>\r\n\
                 TimeToHangup: 0\r\nBridgeID: \r\nApplication: Wait\r\nData: {data}\r\n\
                 Nativeformats: (slin)\r\nReadformat: slin\r\nReadtrans: \r\n\
                 Writeformat: slin\r\nWritetrans: \r\nCallgroup: 0\r\nPickupgroup: 0\r\n\
                 Seconds: 0\r\nActionID: 11\r\n\r\n"
            )
        };
        let expected = format!(
            "Response: Success\r\nActionID: 11\r\nEventList: start\r\n\
             Message: Channel status will follow\r\n\r\n{}{}\
             Event: StatusComplete\r\nActionID: 11\r\nEventList: Complete\r\nListItems: 2\r\n\
             Items: 2\r\n\r\n",
            block("Local/102@default-00000003;2", "1795669443.8", 2, "30"),
            block("Local/102@default-00000003;1", "1795669443.7", 1, "20"),
        );
        assert_eq!(
            reply(&req(Dialect::Modern, "11"), &list).to_wire(),
            expected
        );
    }

    #[test]
    fn modern_empty_list() {
        let req = Request::new(Dialect::Modern, [("Action", "Status")]);
        assert_eq!(
            reply(&req, &[]).to_wire(),
            "Response: Success\r\nEventList: start\r\nMessage: Channel status will follow\r\n\r\n\
             Event: StatusComplete\r\nEventList: Complete\r\nListItems: 0\r\nItems: 0\r\n\r\n"
        );
    }

    #[test]
    fn modern_shows_connected_line_and_dialplan_for_every_channel() {
        let c = ChannelInfo {
            connected_line_num: Some("200".into()),
            connected_line_name: Some("Bob".into()),
            state_desc: String::new(),
            ..called_leg()
        };
        let block = modern_block(&req(Dialect::Modern, "x"), &c);
        assert_eq!(block.get("ChannelStateDesc"), Some("Ringing"));
        assert_eq!(block.get("CallerIDNum"), Some("<unknown>"));
        assert_eq!(block.get("ConnectedLineName"), Some("Bob"));
        assert_eq!(block.get("EffectiveConnectedLineNum"), Some("200"));
        assert_eq!(block.get("Context"), Some(""));
        assert_eq!(block.get("Priority"), Some("0"));
        assert_eq!(block.get("Type"), Some("SIP"));
        assert_eq!(block.headers().last(), Some(("ActionID", "x")));
    }

    #[test]
    fn state_texts() {
        assert_eq!(state_text(0), "Down");
        assert_eq!(state_text(8), "Dialing Offhook");
        assert_eq!(state_text(9), "Pre-ring");
        assert_eq!(state_text(10), "Unknown (10)");
    }

    #[test]
    fn channel_types() {
        assert_eq!(channel_type("Local/100@default-0001;1"), "Local");
        assert_eq!(channel_type("Bogus"), "Bogus");
    }
}
