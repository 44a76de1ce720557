//! Asterisk-format `.conf` files in the host's config directory, and reloads. Grant:
//! `config-files`.
//!
//! File names are relative to the config directory; the host refuses names that leave it
//! (absolute paths, `..`, symlinks or `#include`s pointing outside) with
//! [`ConfigError::Forbidden`].

use std::fmt;

use crate::wit::ami::manager::config_files as host;

/// One `name = value` (or `name => value`) line.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::config_files::Variable;
///
/// let line = Variable { name: "exten".into(), value: "100,1,Answer".into(), object: true };
/// let op = if line.object { "=>" } else { "=" };
/// assert_eq!(format!("{} {op} {}", line.name, line.value), "exten => 100,1,Answer");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variable {
    /// The name, trimmed.
    pub name: String,
    /// The value, trimmed, comments removed.
    pub value: String,
    /// True when written with `=>` (an "object").
    pub object: bool,
}

/// One `[category]` and its variables, in file order.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::config_files;
///
/// if let Ok(categories) = config_files::load("manager.conf") {
///     for category in &categories {
///         let names: Vec<&str> = category.variables.iter().map(|v| v.name.as_str()).collect();
///         println!("[{}] {}", category.name, names.join(" "));
///     }
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Category {
    /// The name between the brackets.
    pub name: String,
    /// Its variables, includes expanded.
    pub variables: Vec<Variable>,
}

/// One step of an [`update`]: what UpdateConfig's `Action-NNNNNN`, `Cat-NNNNNN`,
/// `Var-NNNNNN`, `Value-NNNNNN` and `Match-NNNNNN` headers carry.
///
/// | `action` (any case) | effect |
/// |---|---|
/// | `NewCat` | append an empty category `category` (duplicates allowed) |
/// | `RenameCat` | rename the first category `category` to `value` |
/// | `DelCat` | delete the first category `category` |
/// | `Update` | replace the first `variable` (whose value equals `match_value`, if given) with `variable = value`; append it when none matches |
/// | `Delete` | remove every `variable` (whose value equals `match_value`, if given) |
/// | `Append` | add `variable = value` at the end of the category |
///
/// Names and matches compare case-insensitively. A `value` starting with `>` is an
/// object (written `=>`, the `>` removed); for `Append`, `match_value` `object` does the
/// same. Unknown verbs and steps that do not apply are ignored.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::config_files::UpdateStep;
///
/// let step = UpdateStep {
///     action: "Update".into(),
///     category: "general".into(),
///     variable: "timestampevents".into(),
///     value: "yes".into(),
///     ..UpdateStep::default()
/// };
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateStep {
    /// The verb: `NewCat`, `RenameCat`, `DelCat`, `Update`, `Delete` or `Append`.
    pub action: String,
    /// The category.
    pub category: String,
    /// The variable name.
    pub variable: String,
    /// The value; a leading `>` marks an object.
    pub value: String,
    /// The value to match for `Update`/`Delete`, or `object` for `Append`.
    pub match_value: String,
}

/// Why a config operation failed.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::config_files::{self, ConfigError};
///
/// let message = match config_files::load("sip.conf") {
///     Ok(_) => "loaded",
///     Err(ConfigError::NotFound | ConfigError::Forbidden) => "Config file not found",
///     Err(ConfigError::SaveFailed) => "Save of config failed",
/// };
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The file does not exist or cannot be parsed.
    NotFound,
    /// The name (or a file it includes) leaves the config directory.
    Forbidden,
    /// Writing the destination failed; it was left unchanged.
    SaveFailed,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::NotFound => "config file not found",
            ConfigError::Forbidden => "config file outside the config directory",
            ConfigError::SaveFailed => "save of config file failed",
        })
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    fn from_wit(error: host::ConfigError) -> ConfigError {
        match error {
            host::ConfigError::NotFound => ConfigError::NotFound,
            host::ConfigError::Forbidden => ConfigError::Forbidden,
            host::ConfigError::SaveFailed => ConfigError::SaveFailed,
        }
    }
}

impl Category {
    fn from_wit(category: host::Category) -> Category {
        Category {
            name: category.name,
            variables: category
                .variables
                .into_iter()
                .map(|v| Variable {
                    name: v.name,
                    value: v.value,
                    object: v.object,
                })
                .collect(),
        }
    }
}

impl UpdateStep {
    fn to_wit(&self) -> host::UpdateStep {
        host::UpdateStep {
            action: self.action.clone(),
            category: self.category.clone(),
            variable: self.variable.clone(),
            value: self.value.clone(),
            match_value: self.match_value.clone(),
        }
    }
}

/// Loads `filename` (relative to the config directory), `#include`s expanded: its
/// categories in file order, each with its variables in file order.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::config_files;
///
/// let port = config_files::load("manager.conf")
///     .ok()
///     .and_then(|cats| cats.into_iter().find(|c| c.name == "general"))
///     .and_then(|general| general.variables.into_iter().find(|v| v.name == "port"))
///     .map(|v| v.value);
/// ```
pub fn load(filename: &str) -> Result<Vec<Category>, ConfigError> {
    host::load(filename)
        .map(|categories| categories.into_iter().map(Category::from_wit).collect())
        .map_err(ConfigError::from_wit)
}

/// Loads `source`, applies `steps` in order and writes the result to `destination`
/// (which may be `source`) atomically: on failure the destination is left as it was.
/// The file is rewritten from its parsed contents, so its comments are not kept.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::config_files::{self, UpdateStep};
///
/// let steps = [
///     UpdateStep { action: "NewCat".into(), category: "bob".into(), ..UpdateStep::default() },
///     UpdateStep {
///         action: "Append".into(),
///         category: "bob".into(),
///         variable: "secret".into(),
///         value: "pw".into(),
///         ..UpdateStep::default()
///     },
/// ];
/// config_files::update("manager.conf", "manager.conf", &steps)?;
/// # Ok::<(), config_files::ConfigError>(())
/// ```
pub fn update(source: &str, destination: &str, steps: &[UpdateStep]) -> Result<(), ConfigError> {
    let steps: Vec<host::UpdateStep> = steps.iter().map(UpdateStep::to_wit).collect();
    host::update(source, destination, &steps).map_err(ConfigError::from_wit)
}

/// Runs the reload `target` names: `manager` (the host's own reload), a module name, or
/// everything when `target` is empty.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::config_files;
///
/// config_files::reload("manager");
/// ```
pub fn reload(target: &str) {
    host::reload(target);
}
