//! Who is calling ([`Context`]).

use crate::privilege::{Dialect, Privilege};
use crate::wit::ami::manager::types as wit;

/// The calling session of one action call: its identity, dialect and permissions, as
/// they were when the call started.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{Context, Privilege, Request, Response};
///
/// fn whoami(req: &Request, ctx: &Context) -> Response {
///     Response::success(req)
///         .header("Username", ctx.username())
///         .header("Peer", ctx.peer())
///         .header("CanCall", if ctx.write_privilege().contains(Privilege::CALL) { "yes" } else { "no" })
/// }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Context {
    /// The session id, the user name and the peer, one after another: one allocation.
    identity: String,
    /// Where the session id ends in `identity`, then where the user name ends.
    ends: [usize; 2],
    dialect: Dialect,
    read_privilege: Privilege,
    write_privilege: Privilege,
    event_mask: Privilege,
}

impl Context {
    /// A context for a session speaking `dialect`, with empty identity and no classes.
    /// Plugins get their context from the host; this and the `with_*` methods are for
    /// unit tests.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Context, Dialect, Privilege};
    ///
    /// let ctx = Context::new(Dialect::Modern)
    ///     .with_username("admin")
    ///     .with_write_privilege(Privilege::ALL);
    /// assert_eq!(ctx.username(), "admin");
    /// ```
    pub fn new(dialect: Dialect) -> Context {
        Context {
            identity: String::new(),
            ends: [0, 0],
            dialect,
            read_privilege: Privilege::NONE,
            write_privilege: Privilege::NONE,
            event_mask: Privilege::NONE,
        }
    }

    #[doc(hidden)]
    pub fn from_wit(ctx: wit::InvokeContext) -> Context {
        Context::new(Dialect::from_wit(ctx.dialect))
            .with_identity(&ctx.session_id, &ctx.username, &ctx.peer)
            .with_read_privilege(Privilege::from_wit(ctx.read_privilege))
            .with_write_privilege(Privilege::from_wit(ctx.write_privilege))
            .with_event_mask(Privilege::from_wit(ctx.event_mask))
    }

    /// This context with the session id `id`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Context, Dialect};
    ///
    /// let ctx = Context::new(Dialect::V1).with_session_id("s-1");
    /// assert_eq!(ctx.session_id(), "s-1");
    /// ```
    pub fn with_session_id(self, id: impl Into<String>) -> Context {
        self.with_part(0, &id.into())
    }

    /// This context with the user name `username`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Context, Dialect};
    ///
    /// let ctx = Context::new(Dialect::V1).with_username("admin");
    /// assert_eq!(ctx.username(), "admin");
    /// ```
    pub fn with_username(self, username: impl Into<String>) -> Context {
        self.with_part(1, &username.into())
    }

    /// This context with the peer address `peer` (`ip:port`).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Context, Dialect};
    ///
    /// let ctx = Context::new(Dialect::V1).with_peer("127.0.0.1:40000");
    /// assert_eq!(ctx.peer(), "127.0.0.1:40000");
    /// ```
    pub fn with_peer(self, peer: impl Into<String>) -> Context {
        self.with_part(2, &peer.into())
    }

    /// This context with one part of its identity (0: session id, 1: user name, 2: peer)
    /// replaced.
    fn with_part(self, part: usize, value: &str) -> Context {
        let mut parts = [self.session_id(), self.username(), self.peer()];
        parts[part] = value;
        let identity = parts.concat();
        let ends = [parts[0].len(), parts[0].len() + parts[1].len()];
        Context {
            identity,
            ends,
            ..self
        }
    }

    /// This context with its session id, user name and peer replaced.
    pub(crate) fn with_identity(mut self, id: &str, username: &str, peer: &str) -> Context {
        self.identity.clear();
        self.identity
            .reserve(id.len() + username.len() + peer.len());
        self.identity.push_str(id);
        self.identity.push_str(username);
        self.identity.push_str(peer);
        self.ends = [id.len(), id.len() + username.len()];
        self
    }

    /// This context with the read classes `read`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Context, Dialect, Privilege};
    ///
    /// let ctx = Context::new(Dialect::V1).with_read_privilege(Privilege::CALL);
    /// assert_eq!(ctx.read_privilege(), Privilege::CALL);
    /// ```
    pub fn with_read_privilege(mut self, read: Privilege) -> Context {
        self.read_privilege = read;
        self
    }

    /// This context with the write classes `write`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Context, Dialect, Privilege};
    ///
    /// let ctx = Context::new(Dialect::V1).with_write_privilege(Privilege::ALL);
    /// assert_eq!(ctx.write_privilege(), Privilege::ALL);
    /// ```
    pub fn with_write_privilege(mut self, write: Privilege) -> Context {
        self.write_privilege = write;
        self
    }

    /// This context with the event mask `mask`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Context, Dialect, Privilege};
    ///
    /// let ctx = Context::new(Dialect::V1).with_event_mask(Privilege::USER);
    /// assert_eq!(ctx.event_mask(), Privilege::USER);
    /// ```
    pub fn with_event_mask(mut self, mask: Privilege) -> Context {
        self.event_mask = mask;
        self
    }

    /// The dialect replies must be rendered in.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Context, Dialect, Request, Response};
    ///
    /// fn goodbye(req: &Request, ctx: &Context) -> Response {
    ///     let text = match ctx.dialect() {
    ///         Dialect::V1 => "Bye",
    ///         Dialect::Modern => "Bye.",
    ///     };
    ///     Response::ack(req, text)
    /// }
    /// ```
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The calling session's id: stable for the session's life and unguessable; the key
    /// for [`session::verify_read_permissions`](crate::session::verify_read_permissions).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{session, Context, Privilege};
    ///
    /// fn may_read_calls(ctx: &Context) -> bool {
    ///     session::verify_read_permissions(ctx.session_id(), Privilege::CALL)
    /// }
    /// ```
    pub fn session_id(&self) -> &str {
        self.identity.get(..self.ends[0]).unwrap_or_default()
    }

    /// The logged-in user name, as spelled in the configuration.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{log, Context};
    ///
    /// fn audit(ctx: &Context) {
    ///     log::info(format!("called by {}", ctx.username()));
    /// }
    /// ```
    pub fn username(&self) -> &str {
        self.identity
            .get(self.ends[0]..self.ends[1])
            .unwrap_or_default()
    }

    /// The session's peer address, `ip:port`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{log, Context};
    ///
    /// fn audit(ctx: &Context) {
    ///     log::debug(format!("call from {}", ctx.peer()));
    /// }
    /// ```
    pub fn peer(&self) -> &str {
        self.identity.get(self.ends[1]..).unwrap_or_default()
    }

    /// The session's read classes (which events it may receive).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Context, Privilege};
    ///
    /// fn sees_user_events(ctx: &Context) -> bool {
    ///     ctx.read_privilege().contains(Privilege::USER)
    /// }
    /// ```
    pub fn read_privilege(&self) -> Privilege {
        self.read_privilege
    }

    /// The session's write classes (which actions it may run).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Context, Privilege};
    ///
    /// fn may_originate(ctx: &Context) -> bool {
    ///     ctx.write_privilege().intersects(Privilege::ORIGINATE)
    /// }
    /// ```
    pub fn write_privilege(&self) -> Privilege {
        self.write_privilege
    }

    /// The session's event mask when the call started (see also
    /// [`session::event_mask`](crate::session::event_mask)).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Context;
    ///
    /// fn events_off(ctx: &Context) -> bool {
    ///     ctx.event_mask().is_empty()
    /// }
    /// ```
    pub fn event_mask(&self) -> Privilege {
        self.event_mask
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("session_id", &self.session_id())
            .field("username", &self.username())
            .field("peer", &self.peer())
            .field("dialect", &self.dialect)
            .field("read_privilege", &self.read_privilege)
            .field("write_privilege", &self.write_privilege)
            .field("event_mask", &self.event_mask)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_identity_part_is_set_on_its_own() {
        let ctx = Context::new(Dialect::Modern)
            .with_peer("10.0.0.1:5000")
            .with_session_id("s-é")
            .with_username("bob");
        assert_eq!(ctx.session_id(), "s-é");
        assert_eq!(ctx.username(), "bob");
        assert_eq!(ctx.peer(), "10.0.0.1:5000");
        let ctx = ctx.with_username("");
        assert_eq!(
            (ctx.session_id(), ctx.username(), ctx.peer()),
            ("s-é", "", "10.0.0.1:5000")
        );
        assert_ne!(ctx, ctx.clone().with_session_id("s-"));
        assert!(format!("{ctx:?}")
            .contains(r#"session_id: "s-é", username: "", peer: "10.0.0.1:5000""#));
    }
}
