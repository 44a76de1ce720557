//! The host side of the imported interfaces (`events`, `session`, `log`, `core`): each
//! call is answered from the calling plugin's store state.

use std::sync::Arc;

use bytes::BytesMut;
use wasmtime::component::{ComponentType, Lift, WasmList, WasmStr};
use wasmtime::StoreContextMut;

use super::bindings::ami::manager::{core, log, session, types};
use super::convert::{from_wit_privilege, to_wit_privilege};
use super::HostState;
use crate::response::{clean, put_clean_header};

impl types::Host for HostState {}

/// A header as the guest holds it, read in place (no copy until it is rendered).
#[derive(ComponentType, Lift)]
#[component(record)]
pub(super) struct GuestHeader {
    name: WasmStr,
    value: WasmStr,
}

/// `events.emit`, defined by hand rather than through the bindings so that the body is
/// read straight from guest memory into the event's wire form: no string per header.
/// Names and values have CR and LF made blanks (see [`crate::response::clean`]).
pub(super) fn emit(
    mut store: StoreContextMut<'_, HostState>,
    (class, name, body): (types::Privilege, WasmStr, WasmList<GuestHeader>),
) -> wasmtime::Result<()> {
    if store.data().shared.bus.receivers() == 0 {
        return Ok(());
    }
    // The headers' places in guest memory first (the list borrows the store while it is
    // read), then their text.
    let headers = body
        .iter(&mut store)?
        .collect::<wasmtime::Result<Vec<_>>>()?;
    let name = clean(&name.to_str(&store)?).into_owned();
    let mut lines = BytesMut::with_capacity(32 * headers.len());
    for header in &headers {
        let (n, v) = (header.name.to_str(&store)?, header.value.to_str(&store)?);
        put_clean_header(&mut lines, n.as_bytes(), v.as_bytes());
    }
    let shared = &store.data().shared;
    shared.emit_lines(from_wit_privilege(class), name, lines.freeze());
    Ok(())
}

/// `events.emit-packed` (contract 1.1): the body is one list of bytes, read in place. A
/// body that does not parse fails the call.
pub(super) fn emit_packed(
    store: StoreContextMut<'_, HostState>,
    (class, name, body): (types::Privilege, WasmStr, WasmList<u8>),
) -> wasmtime::Result<()> {
    let lines = super::reply::packed_lines(body.as_le_slice(&store)).map_err(|e| match e {
        super::CallFailure::Malformed(why) => {
            wasmtime::format_err!("events.emit-packed: malformed body: {why}")
        }
        other => wasmtime::format_err!("events.emit-packed: {other}"),
    })?;
    let shared = &store.data().shared;
    if shared.bus.receivers() == 0 {
        return Ok(());
    }
    let name = clean(&name.to_str(&store)?).into_owned();
    shared.emit_lines(from_wit_privilege(class), name, lines.freeze());
    Ok(())
}

impl session::Host for HostState {
    async fn event_mask(&mut self) -> wasmtime::Result<types::Privilege> {
        Ok(to_wit_privilege(self.session.event_mask()))
    }

    async fn set_event_mask(&mut self, mask: types::Privilege) -> wasmtime::Result<()> {
        self.session.set_event_mask(from_wit_privilege(mask));
        Ok(())
    }

    async fn verify_read_permissions(
        &mut self,
        session_id: String,
        perm: types::Privilege,
    ) -> wasmtime::Result<bool> {
        Ok(self
            .shared
            .sessions
            .verify_read(&session_id, from_wit_privilege(perm)))
    }

    async fn verify_write_permissions(
        &mut self,
        session_id: String,
        perm: types::Privilege,
    ) -> wasmtime::Result<bool> {
        Ok(self
            .shared
            .sessions
            .verify_write(&session_id, from_wit_privilege(perm)))
    }

    async fn manager_enabled(&mut self) -> wasmtime::Result<bool> {
        Ok(self.shared.manager_enabled())
    }

    async fn webmanager_enabled(&mut self) -> wasmtime::Result<bool> {
        Ok(self.shared.webmanager_enabled())
    }

    async fn wait_events(&mut self, timeout_ms: Option<u64>) -> wasmtime::Result<Vec<String>> {
        // HTTP sessions (AMI-1.0 §4.19): a mask of none becomes all, so the session
        // collects events from now on; the wait is clamped to `httptimeout - 10` seconds
        // (no Timeout: that long), so it ends before the session could expire.
        let mut timeout_ms = timeout_ms;
        if self.session.transport == crate::state::Transport::Http {
            if self.session.event_mask().is_empty() {
                self.session
                    .set_event_mask(crate::privilege::Privilege::ALL);
            }
            let httptimeout = self.shared.config().general.httptimeout;
            let max = u64::from(httptimeout.saturating_sub(10)) * 1000;
            timeout_ms = Some(timeout_ms.map_or(max, |t| t.min(max)));
        }
        let Some(stream) = self.events.as_deref_mut() else {
            return Ok(Vec::new());
        };
        let dialect = self.session.auth().dialect;
        let wait = async {
            loop {
                stream.ready().await;
                let mut out = Vec::new();
                loop {
                    match stream.try_next() {
                        Ok(Some(ev)) => {
                            out.push(String::from_utf8_lossy(&ev.bytes(dialect)).into_owned())
                        }
                        Ok(None) => break,
                        // The oldest are gone; what is still queued goes out.
                        Err(_) => continue,
                    }
                }
                if !out.is_empty() {
                    return out;
                }
            }
        };
        Ok(match timeout_ms {
            Some(ms) => tokio::time::timeout(std::time::Duration::from_millis(ms), wait)
                .await
                .unwrap_or_default(),
            None => wait.await,
        })
    }
}

impl log::Host for HostState {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let plugin = self.plugin.as_str();
        match level {
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Error => tracing::error!(plugin, "{message}"),
        }
        Ok(())
    }
}

impl core::Host for HostState {
    async fn now(&mut self) -> wasmtime::Result<types::Timestamp> {
        let (seconds, microseconds) = crate::events::now();
        Ok(types::Timestamp {
            seconds,
            microseconds,
        })
    }

    async fn uptime(&mut self) -> wasmtime::Result<(u64, u64)> {
        let now = std::time::SystemTime::now();
        let since = |t: std::time::SystemTime| now.duration_since(t).unwrap_or_default().as_secs();
        let reloaded = match self.shared.reloaded.lock() {
            Ok(t) => *t,
            Err(p) => *p.into_inner(),
        };
        Ok((since(self.shared.started), since(reloaded)))
    }

    async fn settings(&mut self) -> wasmtime::Result<core::CoreSettings> {
        Ok(core::CoreSettings {
            ami_version: self.dialect.ami_version().to_string(),
            pbx_version: format!("ami-host {}", env!("CARGO_PKG_VERSION")),
            system_name: String::new(),
            max_calls: 0,
            max_load_avg: 0.0,
            run_user: String::new(),
            run_group: String::new(),
            max_file_handles: 0,
            realtime_enabled: false,
            cdr_enabled: false,
            http_enabled: self.shared.webmanager_enabled(),
        })
    }

    async fn status(&mut self) -> wasmtime::Result<core::CoreStatus> {
        let reloaded = match self.shared.reloaded.lock() {
            Ok(t) => *t,
            Err(p) => *p.into_inner(),
        };
        let (sd, st) = crate::clock::utc_date_time(self.shared.started);
        let (rd, rt) = crate::clock::utc_date_time(reloaded);
        Ok(core::CoreStatus {
            startup_date: sd,
            startup_time: st,
            reload_date: rd,
            reload_time: rt,
            current_calls: self.shared.pbx.current_calls(),
            processed_calls: self.shared.pbx.processed_calls(),
        })
    }

    async fn list_actions(&mut self) -> wasmtime::Result<Vec<types::ActionInfo>> {
        let registry: Arc<crate::registry::Registry> = self.shared.registry();
        Ok(registry
            .list(self.dialect)
            .map(|e| super::convert::to_wit_info(&e.info))
            .collect())
    }
}
