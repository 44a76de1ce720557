//! The host side of the PBX interfaces (`channels`, `variables`, `dialplan`,
//! `mailboxes`, `config-files`): each call goes to the PBX behind [`crate::pbx::Pbx`] or
//! to the config directory.

use super::bindings::ami::manager::{channels, config_files, dialplan, mailboxes, variables};
use super::HostState;
use crate::config::PbxConfig;
use crate::events::{Event, EventPart};
use crate::pbx::conffiles::{ConfigDir, ConfigFileError, UpdateStep};
use crate::pbx::{
    self, ChannelError, ChannelSnapshot, OriginateOutcome, OriginateRequest, OriginateTarget,
};
use crate::privilege::Privilege;

fn to_wit_error(e: ChannelError) -> channels::ChannelError {
    match e {
        ChannelError::NoSuchChannel => channels::ChannelError::NoSuchChannel,
        ChannelError::NotUp => channels::ChannelError::NotUp,
        ChannelError::InvalidPriority => channels::ChannelError::InvalidPriority,
        ChannelError::Unsupported => channels::ChannelError::Unsupported,
        ChannelError::Failed => channels::ChannelError::Failed,
    }
}

fn to_wit_channel(c: ChannelSnapshot) -> channels::ChannelInfo {
    channels::ChannelInfo {
        state_desc: pbx::state_text(c.state),
        name: c.name,
        uniqueid: c.uniqueid,
        linkedid: c.linkedid,
        state: c.state,
        caller_id_num: c.caller_id_num,
        caller_id_name: c.caller_id_name,
        connected_line_num: c.connected_line_num,
        connected_line_name: c.connected_line_name,
        account_code: c.account_code,
        language: c.language,
        context: c.context,
        exten: c.exten,
        priority: c.priority,
        in_dialplan: c.in_dialplan,
        application: c.application,
        application_data: c.application_data,
        seconds: c.seconds,
        bridged_to: c.bridged_to,
    }
}

fn from_wit_target(t: channels::DialplanTarget) -> pbx::DialplanTarget {
    pbx::DialplanTarget {
        context: t.context,
        exten: t.exten,
        priority: t.priority,
    }
}

fn from_wit_request(r: channels::OriginateRequest) -> OriginateRequest {
    OriginateRequest {
        channel: r.channel,
        target: match r.target {
            channels::OriginateTarget::Dialplan(t) => OriginateTarget::Dialplan(from_wit_target(t)),
            channels::OriginateTarget::Application((app, data)) => {
                OriginateTarget::Application(app, data)
            }
        },
        timeout_ms: r.timeout_ms,
        caller_id_num: r.caller_id_num,
        caller_id_name: r.caller_id_name,
        account: r.account,
        variables: r.variables.into_iter().map(|h| (h.name, h.value)).collect(),
    }
}

/// The `OriginateResponse` event for an async origination, shaped per dialect
/// (AMI-1.0 §4.11; Asterisk 22 transcript 10).
pub fn originate_response(
    request: &OriginateRequest,
    outcome: &OriginateOutcome,
    action_id: Option<&str>,
    timestamped: bool,
) -> Event {
    let unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "<unknown>".into());
    let response = if outcome.success {
        "Success"
    } else {
        "Failure"
    };
    let uniqueid = outcome.uniqueid.clone().unwrap_or_else(|| "<null>".into());
    let (context, exten, app) = match &request.target {
        OriginateTarget::Dialplan(t) => (t.context.clone(), t.exten.clone(), None),
        OriginateTarget::Application(a, d) => {
            (String::new(), String::new(), Some((a.clone(), d.clone())))
        }
    };
    let mut v1 = Vec::new();
    let mut modern = Vec::new();
    if let Some(id) = action_id.filter(|id| !id.is_empty()) {
        v1.push(("ActionID".to_string(), id.to_string()));
        modern.push(("ActionID".to_string(), id.to_string()));
    }
    v1.extend([
        ("Response".to_string(), response.to_string()),
        ("Channel".to_string(), outcome.channel.clone()),
        ("Context".to_string(), context.clone()),
        ("Exten".to_string(), exten.clone()),
        ("Reason".to_string(), outcome.reason.to_string()),
        ("Uniqueid".to_string(), uniqueid.clone()),
        ("CallerID".to_string(), unknown(&request.caller_id_num)),
        ("CallerIDNum".to_string(), unknown(&request.caller_id_num)),
        ("CallerIDName".to_string(), unknown(&request.caller_id_name)),
    ]);
    modern.push(("Response".to_string(), response.to_string()));
    modern.push(("Channel".to_string(), outcome.channel.clone()));
    match app {
        Some((a, d)) => {
            modern.push(("Application".to_string(), a));
            modern.push(("Data".to_string(), d));
        }
        None => {
            modern.push(("Context".to_string(), context));
            modern.push(("Exten".to_string(), exten));
        }
    }
    modern.extend([
        ("Reason".to_string(), outcome.reason.to_string()),
        ("Uniqueid".to_string(), uniqueid),
        ("CallerIDNum".to_string(), unknown(&request.caller_id_num)),
        ("CallerIDName".to_string(), unknown(&request.caller_id_name)),
    ]);
    let part = |body| EventPart {
        class: Privilege::CALL,
        name: "OriginateResponse".into(),
        body,
    };
    Event::per_dialect(Some(part(v1)), Some(part(modern)), timestamped)
}

impl channels::Host for HostState {
    async fn all(&mut self) -> wasmtime::Result<Vec<channels::ChannelInfo>> {
        Ok(self
            .shared
            .pbx
            .channels()
            .into_iter()
            .map(to_wit_channel)
            .collect())
    }

    async fn get(&mut self, name: String) -> wasmtime::Result<Option<channels::ChannelInfo>> {
        Ok(self.shared.pbx.channel(&name).map(to_wit_channel))
    }

    async fn hangup(
        &mut self,
        name: String,
        cause: u32,
    ) -> wasmtime::Result<Result<(), channels::ChannelError>> {
        Ok(self.shared.pbx.hangup(&name, cause).map_err(to_wit_error))
    }

    async fn redirect(
        &mut self,
        name: String,
        target: channels::DialplanTarget,
    ) -> wasmtime::Result<Result<(), channels::ChannelError>> {
        Ok(self
            .shared
            .pbx
            .redirect(&name, &from_wit_target(target))
            .map_err(to_wit_error))
    }

    async fn set_absolute_timeout(
        &mut self,
        name: String,
        seconds: i64,
    ) -> wasmtime::Result<Result<(), channels::ChannelError>> {
        Ok(self
            .shared
            .pbx
            .set_absolute_timeout(&name, seconds)
            .map_err(to_wit_error))
    }

    async fn atxfer(
        &mut self,
        name: String,
        exten: String,
        context: Option<String>,
    ) -> wasmtime::Result<Result<(), channels::ChannelError>> {
        Ok(self
            .shared
            .pbx
            .atxfer(&name, &exten, context.as_deref())
            .map_err(to_wit_error))
    }

    async fn originate(
        &mut self,
        request: channels::OriginateRequest,
    ) -> wasmtime::Result<channels::OriginateOutcome> {
        let outcome = self.shared.pbx.originate(from_wit_request(request)).await;
        Ok(channels::OriginateOutcome {
            success: outcome.success,
            reason: outcome.reason,
            channel: outcome.channel,
            uniqueid: outcome.uniqueid,
        })
    }

    async fn originate_async(
        &mut self,
        request: channels::OriginateRequest,
        action_id: Option<String>,
    ) -> wasmtime::Result<()> {
        let shared = self.shared.clone();
        let request = from_wit_request(request);
        tokio::spawn(async move {
            let outcome = shared.pbx.originate(request.clone()).await;
            let ts = shared.bus.timestamps();
            let event = originate_response(&request, &outcome, action_id.as_deref(), ts);
            shared.bus.publish(event);
        });
        Ok(())
    }
}

impl variables::Host for HostState {
    async fn get(
        &mut self,
        channel: Option<String>,
        name: String,
    ) -> wasmtime::Result<Result<Option<String>, channels::ChannelError>> {
        Ok(self
            .shared
            .pbx
            .get_var(channel.as_deref().filter(|c| !c.is_empty()), &name)
            .map_err(to_wit_error))
    }

    async fn set(
        &mut self,
        channel: Option<String>,
        name: String,
        value: String,
    ) -> wasmtime::Result<Result<(), channels::ChannelError>> {
        Ok(self
            .shared
            .pbx
            .set_var(channel.as_deref().filter(|c| !c.is_empty()), &name, &value)
            .map_err(to_wit_error))
    }
}

impl dialplan::Host for HostState {
    async fn hint_state(
        &mut self,
        exten: String,
        context: String,
    ) -> wasmtime::Result<dialplan::ExtensionState> {
        let s = self.shared.pbx.hint_state(&exten, &context);
        Ok(dialplan::ExtensionState {
            hint: s.hint,
            status: s.status,
        })
    }

    async fn find_label(
        &mut self,
        context: String,
        exten: String,
        label: String,
    ) -> wasmtime::Result<Option<u32>> {
        Ok(self.shared.pbx.find_label(&context, &exten, &label))
    }
}

impl mailboxes::Host for HostState {
    async fn count(&mut self, mailbox: String) -> wasmtime::Result<mailboxes::Counts> {
        let c = self.shared.pbx.mailbox_counts(&mailbox);
        Ok(mailboxes::Counts {
            new_messages: c.new_messages,
            old_messages: c.old_messages,
        })
    }
}

fn config_dir(state: &HostState) -> ConfigDir {
    ConfigDir::new(PbxConfig::config_dir_of(&state.shared.config()))
}

fn to_wit_config_error(e: ConfigFileError) -> config_files::ConfigError {
    match e {
        ConfigFileError::NotFound => config_files::ConfigError::NotFound,
        ConfigFileError::Forbidden => config_files::ConfigError::Forbidden,
        ConfigFileError::SaveFailed => config_files::ConfigError::SaveFailed,
    }
}

impl config_files::Host for HostState {
    async fn load(
        &mut self,
        filename: String,
    ) -> wasmtime::Result<Result<Vec<config_files::Category>, config_files::ConfigError>> {
        let dir = config_dir(self);
        let result = tokio::task::spawn_blocking(move || dir.load(&filename)).await?;
        Ok(result
            .map(|cats| {
                cats.into_iter()
                    .map(|c| config_files::Category {
                        name: c.name,
                        variables: c
                            .variables
                            .into_iter()
                            .map(|v| config_files::Variable {
                                name: v.name,
                                value: v.value,
                                object: v.object,
                            })
                            .collect(),
                    })
                    .collect()
            })
            .map_err(to_wit_config_error))
    }

    async fn update(
        &mut self,
        source: String,
        destination: String,
        steps: Vec<config_files::UpdateStep>,
    ) -> wasmtime::Result<Result<(), config_files::ConfigError>> {
        let dir = config_dir(self);
        let steps: Vec<UpdateStep> = steps
            .into_iter()
            .map(|s| UpdateStep {
                action: s.action,
                category: s.category,
                variable: s.variable,
                value: s.value,
                match_value: s.match_value,
            })
            .collect();
        let result =
            tokio::task::spawn_blocking(move || dir.update(&source, &destination, &steps)).await?;
        Ok(result.map_err(to_wit_config_error))
    }

    async fn reload(&mut self, target: String) -> wasmtime::Result<()> {
        let t = target.trim().to_ascii_lowercase();
        if t.is_empty() || t == "manager" || t == "all" {
            let shared = self.shared.clone();
            // After the reply: the seed sends the UpdateConfig response first.
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                if let Err(e) = crate::reload::reload(&shared).await {
                    tracing::warn!(error = %e, "reload requested by a plugin failed");
                }
            });
        } else {
            tracing::info!(target = %target, "reload of an unknown module ignored");
        }
        Ok(())
    }
}

impl super::bindings::ami::manager::cli::Host for HostState {
    async fn run(
        &mut self,
        command: String,
    ) -> wasmtime::Result<super::bindings::ami::manager::cli::CommandOutput> {
        let shared = self.shared.clone();
        let out = tokio::task::spawn_blocking(move || crate::cli::run(&shared, &command)).await?;
        Ok(super::bindings::ami::manager::cli::CommandOutput {
            found: out.found,
            text: out.text,
        })
    }
}

impl super::bindings::ami::manager::modules::Host for HostState {
    async fn plugins(
        &mut self,
    ) -> wasmtime::Result<Vec<super::bindings::ami::manager::modules::PluginStatus>> {
        Ok(super::manager::statuses(&self.shared)
            .into_iter()
            .map(|s| super::bindings::ami::manager::modules::PluginStatus {
                name: s.name,
                file: s.file,
                hash: s.hash,
                sdk_version: s.sdk_version,
                contract_version: s.contract_version,
                actions: s.actions,
                grants: s.grants,
                loaded_at: s.loaded_at,
                calls: s.calls,
                traps: s.traps,
                last_error: s.last_error,
            })
            .collect())
    }

    async fn apply_op(
        &mut self,
        op: super::bindings::ami::manager::modules::ModuleOp,
        name: String,
    ) -> wasmtime::Result<Result<(), String>> {
        use super::bindings::ami::manager::modules::ModuleOp as W;
        use super::manager::ModuleOp;
        let shared = self.shared.clone();
        let op = match op {
            W::Load => ModuleOp::Load,
            W::Unload => ModuleOp::Unload,
            W::Reload => ModuleOp::Reload,
        };
        if op == ModuleOp::Reload && name.trim().is_empty() {
            return Ok(crate::reload::reload(&shared).await);
        }
        let _guard = shared.reload_lock.lock().await;
        Ok(super::manager::module_op(&shared, &shared.plugin_dir, op, &name).await)
    }

    async fn module_check(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(super::manager::module_check(&self.shared, &name))
    }

    async fn reload(&mut self, target: String) -> wasmtime::Result<Result<(), String>> {
        let t = target.trim().to_ascii_lowercase();
        let shared = self.shared.clone();
        if t.is_empty() || t == "manager" {
            Ok(crate::reload::reload(&shared).await)
        } else {
            let _guard = shared.reload_lock.lock().await;
            Ok(super::manager::module_op(
                &shared,
                &shared.plugin_dir,
                super::manager::ModuleOp::Reload,
                &target,
            )
            .await)
        }
    }
}
