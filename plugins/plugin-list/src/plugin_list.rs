//! `PluginList`: every plugin, loaded or failed, sorted by name; what the CLI command
//! `manager show plugins` shows.
//!
//! Modern (an Asterisk 22 list):
//!
//! ```text
//! Response: Success
//! [ActionID: <id>]
//! EventList: start
//! Message: Plugin list will follow
//!
//! Event: PluginEntry              (one per plugin)
//! Name: <file stem>
//! File: <path of the .wasm file>
//! Hash: <SHA-256 of the file, hex>
//! SDKVersion: <SDK version it was built with>
//! ContractVersion: <ami:manager version it was built against>
//! Actions: <action,action,...>      (may be empty)
//! Grants: <interface,interface,...> (may be empty)
//! LoadedAt: <seconds since the Unix epoch>
//! Calls: <n>
//! Traps: <n>
//! LastError: <why its newest file did not load; empty if it did>
//! [ActionID: <id>]
//!
//! Event: PluginListComplete
//! [ActionID: <id>]
//! EventList: Complete
//! ListItems: <n>
//! ```
//!
//! AMI 1.0 (as its `Status` list): ack `Response: Success` / `[ActionID]` /
//! `Message: Plugin list will follow`, the same `PluginEntry` blocks (`ActionID` last),
//! then `Event: PluginListComplete` / `[ActionID]`.

use ami_plugin_sdk::modules::{self, PluginStatus};
use ami_plugin_sdk::{Context, Dialect, Message, Request, Response};

/// What `manager show command PluginList` prints.
pub const DESCRIPTION: &str = "Lists every plugin, loaded or failed, sorted by name: one \
PluginEntry event each with its file, content hash, SDK and contract versions, actions, \
granted interfaces, load time, calls, traps and last load error, then \
PluginListComplete.";

/// The handler.
pub fn plugin_list(req: &Request, _ctx: &Context) -> Response {
    reply(req, &modules::plugins())
}

/// The whole reply listing `plugins`, in the request's dialect.
fn reply(req: &Request, plugins: &[PluginStatus]) -> Response {
    let mut reply = Response::list_start(req, "Plugin list will follow");
    for plugin in plugins {
        reply.push_then(entry(req, plugin));
    }
    match req.dialect() {
        Dialect::V1 => reply.then(Message::event("PluginListComplete").with_action_id(req)),
        Dialect::Modern => reply.then(Message::list_complete(
            "PluginListComplete",
            req,
            plugins.len(),
        )),
    }
}

/// One `PluginEntry` block.
fn entry(req: &Request, p: &PluginStatus) -> Message {
    Message::event("PluginEntry")
        .header("Name", &p.name)
        .header("File", &p.file)
        .header("Hash", &p.hash)
        .header("SDKVersion", &p.sdk_version)
        .header("ContractVersion", &p.contract_version)
        .header("Actions", p.actions.join(","))
        .header("Grants", p.grants.join(","))
        .header("LoadedAt", p.loaded_at)
        .header("Calls", p.calls)
        .header("Traps", p.traps)
        .header("LastError", p.last_error.as_deref().unwrap_or(""))
        .with_action_id(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugins() -> Vec<PluginStatus> {
        vec![
            PluginStatus {
                name: "ping".to_string(),
                file: "/p/ping.wasm".to_string(),
                hash: "ab12".to_string(),
                sdk_version: "0.1.0".to_string(),
                contract_version: "1.0.0".to_string(),
                actions: vec!["Ping".to_string()],
                grants: vec!["core".to_string(), "log".to_string()],
                loaded_at: 1_790_000_000,
                calls: 7,
                traps: 0,
                last_error: None,
            },
            PluginStatus {
                name: "swap".to_string(),
                file: "/p/swap.wasm".to_string(),
                hash: "cd34".to_string(),
                sdk_version: "0.1.0".to_string(),
                contract_version: "1.0.0".to_string(),
                actions: vec!["A".to_string(), "B".to_string()],
                grants: vec![],
                loaded_at: 1_790_000_001,
                calls: 2,
                traps: 1,
                last_error: Some("imports ungranted interface channels".to_string()),
            },
        ]
    }

    const PING: &str = "Event: PluginEntry\r\nName: ping\r\nFile: /p/ping.wasm\r\n\
        Hash: ab12\r\nSDKVersion: 0.1.0\r\nContractVersion: 1.0.0\r\nActions: Ping\r\n\
        Grants: core,log\r\nLoadedAt: 1790000000\r\nCalls: 7\r\nTraps: 0\r\nLastError: \r\n";
    const SWAP: &str = "Event: PluginEntry\r\nName: swap\r\nFile: /p/swap.wasm\r\n\
        Hash: cd34\r\nSDKVersion: 0.1.0\r\nContractVersion: 1.0.0\r\nActions: A,B\r\n\
        Grants: \r\nLoadedAt: 1790000001\r\nCalls: 2\r\nTraps: 1\r\n\
        LastError: imports ungranted interface channels\r\n";

    #[test]
    fn modern_list() {
        let req = Request::new(
            Dialect::Modern,
            [("Action", "PluginList"), ("ActionID", "p")],
        );
        assert_eq!(
            reply(&req, &plugins()).to_wire(),
            format!(
                "Response: Success\r\nActionID: p\r\nEventList: start\r\n\
                 Message: Plugin list will follow\r\n\r\n\
                 {PING}ActionID: p\r\n\r\n{SWAP}ActionID: p\r\n\r\n\
                 Event: PluginListComplete\r\nActionID: p\r\nEventList: Complete\r\n\
                 ListItems: 2\r\n\r\n"
            )
        );
    }

    #[test]
    fn v1_list() {
        let req = Request::new(Dialect::V1, [("Action", "PluginList"), ("ActionID", "p")]);
        assert_eq!(
            reply(&req, &plugins()).to_wire(),
            format!(
                "Response: Success\r\nActionID: p\r\nMessage: Plugin list will follow\r\n\r\n\
                 {PING}ActionID: p\r\n\r\n{SWAP}ActionID: p\r\n\r\n\
                 Event: PluginListComplete\r\nActionID: p\r\n\r\n"
            )
        );
    }

    #[test]
    fn empty_lists_without_action_id() {
        let req = Request::new(Dialect::Modern, [("Action", "PluginList")]);
        assert_eq!(
            reply(&req, &[]).to_wire(),
            "Response: Success\r\nEventList: start\r\nMessage: Plugin list will follow\r\n\r\n\
             Event: PluginListComplete\r\nEventList: Complete\r\nListItems: 0\r\n\r\n"
        );
        let req = Request::new(Dialect::V1, [("Action", "PluginList")]);
        assert_eq!(
            reply(&req, &[]).to_wire(),
            "Response: Success\r\nMessage: Plugin list will follow\r\n\r\n\
             Event: PluginListComplete\r\n\r\n"
        );
    }
}
