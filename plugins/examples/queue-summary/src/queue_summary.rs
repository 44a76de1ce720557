//! The handler, the aggregation and the two renderings (see the crate documentation).

use std::collections::BTreeMap;

use ami_plugin_sdk::channels::{self, ChannelInfo};
use ami_plugin_sdk::{Context, Dialect, Message, Request, Response};

/// `AST_STATE_UP`.
const STATE_UP: u8 = 6;

/// What the reply reports.
#[derive(Debug, Default, PartialEq, Eq)]
struct Summary {
    /// Number of channels.
    channels: usize,
    /// (state number, state text, channels), by state number.
    by_state: Vec<(u8, String, usize)>,
    /// Channels per context, by context name.
    by_context: BTreeMap<String, usize>,
    /// (name, seconds) of the longest call that is up.
    longest: Option<(String, u64)>,
}

/// The handler.
pub fn queue_summary(req: &Request, _ctx: &Context) -> Response {
    reply(req, &summarize(&channels::all()))
}

/// Aggregates `list` (in creation order).
fn summarize(list: &[ChannelInfo]) -> Summary {
    let mut states: BTreeMap<u8, (String, usize)> = BTreeMap::new();
    let mut by_context = BTreeMap::new();
    let mut longest: Option<&ChannelInfo> = None;
    for c in list {
        states
            .entry(c.state)
            .or_insert_with(|| (state_text(c), 0))
            .1 += 1;
        *by_context.entry(c.context.clone()).or_insert(0) += 1;
        if c.state == STATE_UP && longest.is_none_or(|l| c.seconds > l.seconds) {
            longest = Some(c);
        }
    }
    Summary {
        channels: list.len(),
        by_state: states
            .into_iter()
            .map(|(state, (text, n))| (state, text, n))
            .collect(),
        by_context,
        longest: longest.map(|c| (c.name.clone(), c.seconds)),
    }
}

/// The state's text: the host's, or Asterisk's `ast_state2str` wording.
fn state_text(c: &ChannelInfo) -> String {
    if !c.state_desc.is_empty() {
        return c.state_desc.clone();
    }
    match c.state {
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

/// The reply in the request's dialect.
fn reply(req: &Request, s: &Summary) -> Response {
    let (longest_name, longest_seconds) = match &s.longest {
        Some((name, seconds)) => (name.as_str(), *seconds),
        None => ("", 0),
    };
    match req.dialect() {
        Dialect::V1 => Response::ack(req, "Queue summary")
            .header("Channels", s.channels)
            .header("ByState", pairs(s.by_state.iter().map(|(_, t, n)| (t, n))))
            .header("ByContext", pairs(s.by_context.iter()))
            .header("LongestChannel", longest_name)
            .header("LongestSeconds", longest_seconds),
        Dialect::Modern => {
            let mut reply = Response::list_start(req, "Queue summary will follow");
            for (state, text, n) in &s.by_state {
                reply.push_then(
                    Message::event("QueueSummaryState")
                        .with_action_id(req)
                        .header("State", text)
                        .header("ChannelState", state)
                        .header("Channels", n),
                );
            }
            for (context, n) in &s.by_context {
                reply.push_then(
                    Message::event("QueueSummaryContext")
                        .with_action_id(req)
                        .header("Context", context)
                        .header("Channels", n),
                );
            }
            let items = s.by_state.len() + s.by_context.len();
            reply.then(
                Message::list_complete("QueueSummaryComplete", req, items)
                    .header("Channels", s.channels)
                    .header("LongestChannel", longest_name)
                    .header("LongestSeconds", longest_seconds),
            )
        }
    }
}

/// `name=count` pairs joined by commas.
fn pairs<'a>(items: impl Iterator<Item = (&'a String, &'a usize)>) -> String {
    items
        .map(|(name, n)| format!("{name}={n}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(name: &str, state: u8, context: &str, seconds: u64) -> ChannelInfo {
        ChannelInfo {
            name: name.to_string(),
            state,
            context: context.to_string(),
            seconds,
            ..ChannelInfo::default()
        }
    }

    fn sample() -> Vec<ChannelInfo> {
        let mut ringing = channel("SIP/101-02", 5, "default", 90);
        ringing.state_desc = "Ringing".to_string();
        vec![
            channel("SIP/100-01", 6, "default", 42),
            ringing,
            channel("Local/200@from-internal-03;1", 6, "from-internal", 57),
            channel("Local/200@from-internal-03;2", 6, "from-internal", 57),
        ]
    }

    #[test]
    fn aggregates() {
        let s = summarize(&sample());
        assert_eq!(s.channels, 4);
        assert_eq!(
            s.by_state,
            [(5, "Ringing".to_string(), 1), (6, "Up".to_string(), 3)]
        );
        assert_eq!(
            s.by_context.into_iter().collect::<Vec<_>>(),
            [("default".to_string(), 2), ("from-internal".to_string(), 2)]
        );
        // The ringing channel is older but not a call; the first of a tie wins.
        assert_eq!(
            s.longest,
            Some(("Local/200@from-internal-03;1".to_string(), 57))
        );
        assert_eq!(summarize(&[]), Summary::default());
        assert_eq!(state_text(&channel("X", 8, "", 0)), "Dialing Offhook");
        assert_eq!(state_text(&channel("X", 42, "", 0)), "Unknown (42)");
    }

    #[test]
    fn v1_is_one_reply() {
        let req = Request::new(Dialect::V1, [("Action", "QueueSummary"), ("ActionID", "q")]);
        assert_eq!(
            reply(&req, &summarize(&sample())).to_wire(),
            "Response: Success\r\nActionID: q\r\nMessage: Queue summary\r\nChannels: 4\r\n\
             ByState: Ringing=1,Up=3\r\nByContext: default=2,from-internal=2\r\n\
             LongestChannel: Local/200@from-internal-03;1\r\nLongestSeconds: 57\r\n\r\n"
        );
        let req = Request::new(Dialect::V1, [("Action", "QueueSummary")]);
        assert_eq!(
            reply(&req, &summarize(&[])).to_wire(),
            "Response: Success\r\nMessage: Queue summary\r\nChannels: 0\r\nByState: \r\n\
             ByContext: \r\nLongestChannel: \r\nLongestSeconds: 0\r\n\r\n"
        );
    }

    #[test]
    fn modern_is_a_list() {
        let req = Request::new(
            Dialect::Modern,
            [("Action", "QueueSummary"), ("ActionID", "q")],
        );
        assert_eq!(
            reply(&req, &summarize(&sample())).to_wire(),
            "Response: Success\r\nActionID: q\r\nEventList: start\r\n\
             Message: Queue summary will follow\r\n\r\n\
             Event: QueueSummaryState\r\nActionID: q\r\nState: Ringing\r\nChannelState: 5\r\n\
             Channels: 1\r\n\r\n\
             Event: QueueSummaryState\r\nActionID: q\r\nState: Up\r\nChannelState: 6\r\n\
             Channels: 3\r\n\r\n\
             Event: QueueSummaryContext\r\nActionID: q\r\nContext: default\r\nChannels: 2\r\n\r\n\
             Event: QueueSummaryContext\r\nActionID: q\r\nContext: from-internal\r\n\
             Channels: 2\r\n\r\n\
             Event: QueueSummaryComplete\r\nActionID: q\r\nEventList: Complete\r\n\
             ListItems: 4\r\nChannels: 4\r\n\
             LongestChannel: Local/200@from-internal-03;1\r\nLongestSeconds: 57\r\n\r\n"
        );
        let req = Request::new(Dialect::Modern, [("Action", "QueueSummary")]);
        assert_eq!(
            reply(&req, &summarize(&[])).to_wire(),
            "Response: Success\r\nEventList: start\r\nMessage: Queue summary will follow\r\n\r\n\
             Event: QueueSummaryComplete\r\nEventList: Complete\r\nListItems: 0\r\n\
             Channels: 0\r\nLongestChannel: \r\nLongestSeconds: 0\r\n\r\n"
        );
    }
}
