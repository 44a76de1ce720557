//! Black-box tests: each starts the real `amihost` binary on port 0 and talks to it.
//! Build first: `plugins/build.sh && cargo build -p ami-host` (the README's test command
//! does both).

mod cli;
mod cli_commands;
mod clients;
mod durability;
mod events;
mod hostile;
mod http;
mod limits;
mod pbx;
mod protocol;
mod reload;
mod security;
mod support;
