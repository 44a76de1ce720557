//! Capability grants: which `ami:manager` interfaces a plugin may import.
//!
//! The operator lists them per plugin (`[plugins.NAME] grants = [...]`). Without that
//! line, a built-in plugin gets the interfaces it needs (the table below) and any other
//! plugin gets none. `log` is always granted (the SDK routes panic messages through it),
//! and an import that carries only types (no functions) needs no grant. A component that
//! imports an interface it was not granted does not load, and the error names it.

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, LinkerInstance, ResourceType};
use wasmtime::Engine;

use crate::config::Config;

/// Interfaces always granted.
const ALWAYS: &[&str] = &["log"];

/// What each built-in plugin (by file stem) needs.
const BUILTIN: &[(&str, &[&str])] = &[
    ("ping", &["core"]),
    ("events", &["session"]),
    ("logoff", &[]),
    ("list-commands", &["core"]),
    ("user-event", &["events"]),
    ("core-settings", &["core"]),
    ("core-status", &["core"]),
    ("hangup", &["channels"]),
    ("status", &["channels"]),
    ("setvar", &["variables", "channels"]),
    ("getvar", &["variables", "channels"]),
    ("get-config", &["config-files"]),
    ("update-config", &["config-files"]),
    ("redirect", &["channels", "dialplan"]),
    ("atxfer", &["channels"]),
    ("originate", &["channels", "dialplan"]),
    ("command", &["cli"]),
    ("extension-state", &["dialplan"]),
    ("absolute-timeout", &["channels"]),
    ("mailbox-status", &["mailboxes"]),
    ("mailbox-count", &["mailboxes"]),
    ("wait-event", &["session"]),
    ("reload", &["modules"]),
    ("module-load", &["modules"]),
    ("module-check", &["modules"]),
    ("plugin-list", &["modules"]),
];

/// The interfaces plugin `name` is granted under `config`, sorted.
pub fn grants_for(config: &Config, name: &str) -> Vec<String> {
    let mut out: Vec<String> = match config
        .plugins
        .per_plugin
        .get(name)
        .and_then(|p| p.grants.clone())
    {
        Some(g) => g,
        None => BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, g)| g.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
    };
    out.extend(ALWAYS.iter().map(|s| s.to_string()));
    out.sort();
    out.dedup();
    out
}

/// Checks the component's imports against `grants`. WASI imports pulled in by the guest
/// toolchain are allowed (the host satisfies them with traps: no files, no environment,
/// no network, no clocks); any other unknown import is refused.
pub fn check(component: &Component, engine: &Engine, grants: &[String]) -> Result<(), String> {
    let ty = component.component_type();
    let mut missing = Vec::new();
    for (name, item) in ty.imports(engine) {
        if name.starts_with("wasi:") {
            continue;
        }
        let Some(rest) = name.strip_prefix("ami:manager/") else {
            return Err(format!(
                "imports \"{name}\", which this host does not provide"
            ));
        };
        let iface = rest.split('@').next().unwrap_or(rest);
        if iface == "types" || grants.iter().any(|g| g == iface) {
            continue;
        }
        let has_functions = match &item.ty {
            ComponentItem::ComponentInstance(inst) => inst
                .exports(engine)
                .any(|(_, e)| matches!(e.ty, ComponentItem::ComponentFunc(_))),
            _ => true,
        };
        if has_functions {
            missing.push(iface.to_string());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "imports {} without a grant (granted: {})",
            missing.join(", "),
            grants.join(", ")
        ))
    }
}

/// Defines the component's WASI imports in `root` (the linker's root) as functions that
/// trap: no files, no environment, no network, no clocks. Only WASI imports: `ami:manager`
/// imports resolve to the host's interfaces, an earlier 1.x version to the current one
/// (wasmtime matches semver-compatible names, unless an exact name is defined, as a
/// blanket "stub every unknown import" would do).
pub fn stub_wasi_imports<T: 'static>(
    root: &mut LinkerInstance<'_, T>,
    component: &Component,
    engine: &Engine,
) -> wasmtime::Result<()> {
    for (name, import) in component.component_type().imports(engine) {
        if name.starts_with("wasi:") {
            stub(root, name, &import.ty, engine, name)?;
        }
    }
    Ok(())
}

fn stub<T: 'static>(
    linker: &mut LinkerInstance<'_, T>,
    name: &str,
    item: &ComponentItem,
    engine: &Engine,
    qualified: &str,
) -> wasmtime::Result<()> {
    match item {
        ComponentItem::ComponentFunc(_) => {
            let qualified = qualified.to_string();
            linker.func_new(name, move |_, _, _, _| {
                Err(wasmtime::format_err!(
                    "{qualified} is not available to plugins"
                ))
            })
        }
        ComponentItem::ComponentInstance(instance) => {
            let mut inner = linker.instance(name)?;
            for (export, item) in instance.exports(engine) {
                stub(
                    &mut inner,
                    export,
                    &item.ty,
                    engine,
                    &format!("{qualified}#{export}"),
                )?;
            }
            Ok(())
        }
        ComponentItem::Resource(_) => {
            linker.resource(name, ResourceType::host::<()>(), |_, _| Ok(()))
        }
        _ => Ok(()),
    }
}
