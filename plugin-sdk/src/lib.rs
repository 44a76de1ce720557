//! Write Asterisk Manager Interface (AMI) actions as WebAssembly components for `ami-host`.
//!
//! A plugin is a `cdylib` crate built for `wasm32-wasip2` that depends on this crate
//! alone. It declares its actions once with [`plugin!`]; each action is a plain function
//! `fn(&Request, &Context) -> Response`:
//!
//! ```no_run
//! use ami_plugin_sdk::{Context, Dialect, Request, Response};
//!
//! ami_plugin_sdk::plugin! {
//!     Ping {
//!         privilege: NONE,
//!         synopsis: "Keepalive command",
//!         description: "Answers at once, so a client can tell the connection is alive.",
//!         handler: ping,
//!     }
//! }
//!
//! fn ping(req: &Request, ctx: &Context) -> Response {
//!     match ctx.dialect() {
//!         Dialect::V1 => Response::response(req, "Pong", None),
//!         Dialect::Modern => Response::success(req).header("Ping", "Pong"),
//!     }
//! }
//! ```
//!
//! ```toml
//! [package]
//! name = "my-plugin"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! ami-plugin-sdk = { path = "../../plugin-sdk" }
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the component is
//! `target/wasm32-wasip2/release/my_plugin.wasm`.
//!
//! # Layout
//!
//! * [`Request`], [`Context`]: what a handler receives (headers, dialect, caller).
//! * [`Response`], [`Message`]: reply builders that echo `ActionID` the way Asterisk does.
//! * [`Privilege`], [`Dialect`]: permission classes and the two wire dialects.
//! * Capabilities, one module per grant (the grant name is the module name, except
//!   `config-files`). A component imports only the interfaces whose functions it calls,
//!   and the host refuses to load a plugin importing one its operator did not grant:
//!   * [`events`]: emit events on the event bus;
//!   * [`session`]: the calling session's event mask, permission checks, waiting for
//!     events;
//!   * [`core`]: clock, settings, status and the registered actions;
//!   * [`log`]: the host's log;
//!   * [`channels`]: list, hang up, redirect, transfer and originate channels;
//!   * [`variables`]: channel and global variables;
//!   * [`dialplan`]: extension states through hints, priority labels;
//!   * [`mailboxes`]: voicemail message counts;
//!   * [`config_files`] (grant `config-files`): read and update `.conf` files;
//!   * [`cli`]: run a host CLI command and capture its output;
//!   * [`modules`]: the host's plugins and its reload routine.
//!
//! Handlers should keep their logic in plain functions over plain values, so native unit
//! tests (`cargo test`) can reach it: the capability functions only work inside the host.
//!
//! # Instances
//!
//! The host may run a session's calls to one version of a plugin on the same instance, so
//! statics and heap a handler leaves behind can be seen by that session's later calls; a
//! different session always gets its own instance, and a call that traps or fails
//! discards its instance. Keep per-call state in the handler; do not rely on statics
//! persisting, either (the next call may be on a fresh instance).
//!
//! The crate installs a small-block allocator as the global allocator of `wasm32`
//! builds (see [`alloc`]); disable default features to install your own.

#![deny(missing_docs)]

#[cfg(all(
    feature = "small-alloc",
    target_arch = "wasm32",
    not(target_feature = "atomics")
))]
#[global_allocator]
static ALLOCATOR: alloc::SmallAlloc = alloc::SmallAlloc::new();

/// The generated bindings of the `ami:manager@1.1.0` world `plugin-packed`. Not part of
/// the API.
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod wit {
    wit_bindgen::generate!({
        world: "plugin-packed",
        path: "../wit",
        pub_export_macro: true,
        default_bindings_module: "$crate::wit",
    });
}

pub mod alloc;
pub mod channels;
pub mod cli;
pub mod config_files;
mod context;
pub mod core;
pub mod dialplan;
pub mod events;
pub mod log;
mod macros;
pub mod mailboxes;
pub mod modules;
mod packed;
mod privilege;
mod request;
mod response;
pub mod session;
pub mod variables;

pub use crate::context::Context;
pub use crate::core::ActionInfo;
pub use crate::privilege::{Dialect, Privilege};
pub use crate::request::Request;
pub use crate::response::{Message, Output, Response};

#[doc(hidden)]
pub use wit_bindgen;

/// The version of this SDK, stamped into every plugin's `describe()` answer.
///
/// # Example
///
/// ```no_run
/// assert!(!ami_plugin_sdk::SDK_VERSION.is_empty());
/// ```
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version of the `ami:manager` contract this SDK implements.
///
/// # Example
///
/// ```no_run
/// assert_eq!(ami_plugin_sdk::CONTRACT_VERSION, "1.1.0");
/// ```
pub const CONTRACT_VERSION: &str = "1.1.0";

/// The names a plugin usually needs: `use ami_plugin_sdk::prelude::*;`.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::prelude::*;
///
/// fn ack(req: &Request, _ctx: &Context) -> Response {
///     Response::ack(req, "ok")
/// }
/// ```
pub mod prelude {
    pub use crate::{Context, Dialect, Message, Privilege, Request, Response};
}

/// What [`plugin!`] expands to calls into; not part of the API.
#[doc(hidden)]
pub mod __private {
    use crate::wit::ami::manager::types as wit;
    use crate::wit::exports::ami::manager::{action, action_packed};
    use crate::{ActionInfo, Context, Privilege, Request, Response};

    pub use action::{Guest, PluginInfo};
    pub use action_packed::Guest as GuestPacked;
    pub use wit::{InvokeContext, Message as WitMessage, Response as WitResponse};

    /// An action handler.
    pub type Handler = fn(&Request, &Context) -> Response;

    /// The modern synopsis: the one given, else `synopsis` with a final `.`.
    pub fn modern_synopsis(synopsis: &str, given: Option<&str>) -> String {
        match given {
            Some(text) => text.to_string(),
            None if synopsis.ends_with('.') => synopsis.to_string(),
            None => format!("{synopsis}."),
        }
    }

    /// One action's declaration; `modern_privilege` and `modern_synopsis` hold zero or one
    /// element (absent: derived from the V1 values).
    pub fn action_info(
        name: &str,
        privilege: Privilege,
        modern_privilege: &[Privilege],
        synopsis: &str,
        modern_synopsis: &[&str],
        description: &str,
    ) -> ActionInfo {
        ActionInfo {
            name: name.to_string(),
            privilege,
            modern_privilege: modern_privilege.first().copied().unwrap_or(privilege),
            synopsis: synopsis.to_string(),
            modern_synopsis: self::modern_synopsis(synopsis, modern_synopsis.first().copied()),
            description: description.to_string(),
        }
    }

    /// The `describe()` answer.
    pub fn plugin_info(actions: Vec<ActionInfo>) -> PluginInfo {
        PluginInfo {
            sdk_version: crate::SDK_VERSION.to_string(),
            contract_version: crate::CONTRACT_VERSION.to_string(),
            actions: actions.into_iter().map(ActionInfo::into_wit).collect(),
        }
    }

    /// Runs the handler named `action` (case-insensitive); an unknown name gets
    /// `Invalid/unknown command`.
    pub fn dispatch(
        action: &str,
        req: &Request,
        ctx: &Context,
        handlers: &[(&str, Handler)],
    ) -> Response {
        match handlers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(action))
        {
            Some((_, handler)) => handler(req, ctx),
            None => Response::error(req, "Invalid/unknown command"),
        }
    }

    /// What a plugin's `ami_invoke` is.
    pub type Run = fn(&str, &Request, &Context) -> Response;

    /// The `action.invoke` export: converts the call, runs `run` (the plugin's
    /// `ami_invoke`) and converts the reply.
    pub fn invoke(ctx: InvokeContext, action: &str, request: WitMessage, run: Run) -> WitResponse {
        route_panics();
        let ctx = Context::from_wit(ctx);
        let req = Request::from_wit(request, ctx.dialect());
        run(action, &req, &ctx).into_wit()
    }

    /// The `action-packed.invoke` export: the same call, packed (see `wit/action.wit`).
    pub fn invoke_packed(request: Vec<u8>, run: Run) -> Vec<u8> {
        route_panics();
        let call = match crate::packed::unpack_request(request) {
            Ok(call) => call,
            Err(why) => panic!("malformed packed request: {why}"),
        };
        let mut out = Vec::with_capacity(256);
        crate::packed::pack_response(&run(call.action(), &call.req, &call.ctx), &mut out);
        out
    }

    /// A panic ends the call with a trap; its message goes to the host's log (the default
    /// hook would write to stderr, which plugins do not have).
    fn route_panics() {
        #[cfg(target_arch = "wasm32")]
        {
            static HOOK: std::sync::Once = std::sync::Once::new();
            HOOK.call_once(|| {
                std::panic::set_hook(Box::new(|info| crate::log::error(format!("panic: {info}"))))
            });
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::Dialect;

        fn one(req: &Request, _: &Context) -> Response {
            Response::ack(req, "one")
        }

        fn two(req: &Request, ctx: &Context) -> Response {
            Response::ack(req, ctx.username())
        }

        const HANDLERS: &[(&str, Handler)] = &[("One", one), ("Two", two)];

        #[test]
        fn dispatch_is_case_insensitive() {
            let ctx = Context::new(Dialect::V1).with_username("bob");
            let req = Request::new(Dialect::V1, [("ActionID", "1")]);
            let reply = dispatch("tWO", &req, &ctx, HANDLERS);
            assert_eq!(
                reply.to_wire(),
                "Response: Success\r\nActionID: 1\r\nMessage: bob\r\n\r\n"
            );
        }

        #[test]
        fn unknown_action_is_an_error() {
            let ctx = Context::new(Dialect::Modern);
            let req = Request::new(Dialect::Modern, [("A", "b")]);
            let reply = dispatch("Three", &req, &ctx, HANDLERS);
            assert_eq!(
                reply.to_wire(),
                "Response: Error\r\nMessage: Invalid/unknown command\r\n\r\n"
            );
        }

        #[test]
        fn modern_values_default_from_v1() {
            let info = action_info("Ping", Privilege::NONE, &[], "Keepalive command", &[], "d");
            assert_eq!(info.modern_synopsis, "Keepalive command.");
            assert_eq!(info.modern_privilege, Privilege::NONE);
            let info = action_info(
                "CoreStatus",
                Privilege::SYSTEM,
                &[Privilege::SYSTEM | Privilege::REPORTING],
                "Done already.",
                &[],
                "d",
            );
            assert_eq!(info.modern_synopsis, "Done already.");
            assert_eq!(
                info.modern_privilege,
                Privilege::SYSTEM | Privilege::REPORTING
            );
            let info = action_info("X", Privilege::CALL, &[], "a", &["b"], "d");
            assert_eq!(info.modern_synopsis, "b");
            assert_eq!(info.modern_privilege, Privilege::CALL);
        }

        #[test]
        fn plugin_info_is_stamped() {
            let info = plugin_info(vec![action_info("X", Privilege::USER, &[], "s", &[], "d")]);
            assert_eq!(info.sdk_version, env!("CARGO_PKG_VERSION"));
            assert_eq!(info.contract_version, "1.1.0");
            assert_eq!(info.actions.len(), 1);
            assert_eq!(info.actions[0].name, "X");
        }
    }
}
