//! ami-host: an Asterisk Manager Interface host whose actions are WebAssembly components.
//!
//! Layout:
//! - [`codec`], [`message`], [`response`]: the wire format, without I/O;
//! - [`privilege`], [`dialect`], [`auth`]: classes, dialects, login;
//! - [`admission`]: `authlimit` and the login failure budget; [`busypoll`]: polling
//!   for a quick client's next request;
//! - [`config`]: TOML and Asterisk-format configuration;
//! - [`events`]: the event bus; [`registry`]: the action table;
//! - [`plugins`]: the wasm engine, loading, sandboxed calls, host interfaces;
//! - [`session`]: one task per connection; [`server`]: listener, start-up, shutdown;
//! - [`http`]: AMI over HTTP (`/rawman`, `/manager`, `/mxml`);
//! - [`state`]: what all of these share.
//!
//! `fuzzing` (hidden) holds the fuzz target bodies run by `host/fuzz` and by `cargo test`.

pub mod admission;
pub mod auth;
pub mod busypoll;
pub mod cli;
pub mod clock;
pub mod codec;
pub mod config;
pub mod dialect;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod message;
pub mod pbx;
pub mod plugins;
pub mod privilege;
pub mod registry;
pub mod reload;
pub mod response;
pub mod server;
pub mod session;
pub mod state;
#[cfg(test)]
mod testdir;
