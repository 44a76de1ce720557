//! `reload_manager`: one routine, whatever triggered it. Emits `Event: Reload` before
//! anything changes, as the seed does, then re-reads the configuration and swaps it in.
//! Sessions already logged in keep their permissions; new logins use the new users.
//! Changes to `port`, `bindaddr` or `enabled` need a restart, and the log says so.

use std::sync::Arc;
use std::time::SystemTime;

use crate::config::Config;
use crate::privilege::Privilege;
use crate::state::Shared;

/// Runs the reload. On a configuration error nothing changes and the error is returned.
pub fn reload(shared: &Shared) -> Result<(), String> {
    shared.emit(
        Privilege::SYSTEM,
        "Reload",
        vec![("Message".into(), "Reload Requested".into())],
    );
    let old = shared.config();
    let new = match Config::load(&old.source) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "reload: configuration not reloaded");
            return Err(e.to_string());
        }
    };
    let (g, n) = (&old.general, &new.general);
    if g.port != n.port || g.bindaddr != n.bindaddr || g.enabled != n.enabled {
        tracing::warn!("Unable to change management port / enabled: restart the host to apply");
    }
    if let Err(e) = shared.pbx.reconfigure(&new) {
        tracing::error!(error = %e, "reload: dialplan not reloaded");
    }
    match shared.config.write() {
        Ok(mut c) => *c = Arc::new(new),
        Err(p) => *p.into_inner() = Arc::new(new),
    }
    match shared.reloaded.lock() {
        Ok(mut t) => *t = SystemTime::now(),
        Err(p) => *p.into_inner() = SystemTime::now(),
    }
    tracing::info!("manager configuration reloaded");
    Ok(())
}
