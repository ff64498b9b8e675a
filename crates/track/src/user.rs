//! Who a script runs as, by keepalived's rule: the command's own `user`, else global
//! `script_user`, else `keepalived_script` if that user exists, else the daemon's own user.

use std::sync::OnceLock;

use baton_conf::RunAs;
use nix::unistd::{Gid, Group, User, getegid, geteuid};
use tracing::warn;

use crate::error::CommandError;

/// A resolved user and group id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl ScriptUser {
    /// The user the daemon itself runs as.
    pub fn current() -> ScriptUser {
        let uid = geteuid();
        let name = User::from_uid(uid)
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| uid.to_string());
        ScriptUser {
            name,
            uid: uid.as_raw(),
            gid: getegid().as_raw(),
        }
    }

    /// Root, or root's group: such a script needs its whole path to be root-controlled.
    pub fn is_privileged(&self) -> bool {
        self.uid == 0 || self.gid == 0
    }

    /// Look up `user [[:]group]`. The group defaults to the user's primary group. A leading
    /// `:` on the group (keepalived: also set the user's supplementary groups) is accepted;
    /// supplementary groups are always cleared when dropping privileges.
    pub fn lookup(run_as: &RunAs) -> Result<ScriptUser, CommandError> {
        let user = User::from_name(&run_as.user)
            .map_err(|source| CommandError::Lookup {
                name: run_as.user.clone(),
                source,
            })?
            .ok_or_else(|| CommandError::NoSuchUser(run_as.user.clone()))?;
        let gid = match run_as.group.as_deref().map(|g| g.trim_start_matches(':')) {
            None | Some("") => user.gid,
            Some(group) => lookup_group(group)?,
        };
        Ok(ScriptUser {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: gid.as_raw(),
        })
    }
}

fn lookup_group(name: &str) -> Result<Gid, CommandError> {
    // A numeric group is taken as a gid, as getgrnam users expect from chown-like tools.
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(Gid::from_raw(gid));
    }
    Group::from_name(name)
        .map_err(|source| CommandError::Lookup {
            name: name.to_string(),
            source,
        })?
        .map(|g| g.gid)
        .ok_or_else(|| CommandError::NoSuchGroup(name.to_string()))
}

/// Resolves the user of every command of one configuration. The default user is looked up
/// once, the first time a command needs it, and its warning logged once.
#[derive(Debug)]
pub struct UserResolver {
    script_user: Option<RunAs>,
    default_name: String,
    default: OnceLock<Result<ScriptUser, String>>,
}

impl UserResolver {
    /// `enable_script_security` with no default user is not this resolver's business:
    /// baton-conf disables every command that would need that user when it loads the
    /// configuration (keepalived's rule, decided once, for `baton check` and the daemon).
    pub fn new(script_user: Option<RunAs>, default_name: &str) -> UserResolver {
        UserResolver {
            script_user,
            default_name: default_name.to_string(),
            default: OnceLock::new(),
        }
    }

    /// The user a command runs as.
    pub fn resolve(&self, run_as: Option<&RunAs>) -> Result<ScriptUser, CommandError> {
        match run_as {
            Some(run_as) => ScriptUser::lookup(run_as),
            None => self.default_user(),
        }
    }

    fn default_user(&self) -> Result<ScriptUser, CommandError> {
        let resolved = self.default.get_or_init(|| self.find_default());
        match resolved {
            Ok(user) => Ok(user.clone()),
            // A script_user that cannot be resolved disables every script relying on it.
            Err(name) => Err(CommandError::NoSuchUser(name.clone())),
        }
    }

    fn find_default(&self) -> Result<ScriptUser, String> {
        if let Some(run_as) = &self.script_user {
            return ScriptUser::lookup(run_as).map_err(|e| {
                warn!("Unable to use script_user '{}': {e}", run_as.user);
                run_as.user.clone()
            });
        }
        let default = RunAs {
            user: self.default_name.clone(),
            group: None,
        };
        match ScriptUser::lookup(&default) {
            Ok(user) => Ok(user),
            Err(_) => {
                warn!(
                    "WARNING - default user '{}' for script execution does not exist - please create.",
                    self.default_name
                );
                Ok(ScriptUser::current())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_as(user: &str, group: Option<&str>) -> RunAs {
        RunAs {
            user: user.to_string(),
            group: group.map(str::to_string),
        }
    }

    #[test]
    fn root_resolves_with_its_primary_group() {
        let user = ScriptUser::lookup(&run_as("root", None)).unwrap();
        assert_eq!((user.uid, user.gid), (0, 0));
        assert!(user.is_privileged());
    }

    #[test]
    fn explicit_group_overrides_primary_group() {
        let user = ScriptUser::lookup(&run_as("root", Some(":65534"))).unwrap();
        assert_eq!((user.uid, user.gid), (0, 65534));
    }

    #[test]
    fn unknown_user_and_group_are_named_in_the_error() {
        let err = ScriptUser::lookup(&run_as("no-such-user-baton", None)).unwrap_err();
        assert!(err.to_string().contains("no-such-user-baton"), "{err}");
        let err = ScriptUser::lookup(&run_as("root", Some("no-such-group-baton"))).unwrap_err();
        assert!(err.to_string().contains("no-such-group-baton"), "{err}");
    }

    #[test]
    fn missing_default_user_falls_back_to_ourselves_without_security() {
        let r = UserResolver::new(None, "no-such-default-baton");
        assert_eq!(r.resolve(None).unwrap(), ScriptUser::current());
        // A command with its own user is unaffected.
        assert_eq!(r.resolve(Some(&run_as("root", None))).unwrap().uid, 0);
    }

    #[test]
    fn script_user_is_the_default_when_set() {
        let r = UserResolver::new(Some(run_as("root", Some("65534"))), "nobody");
        assert_eq!(r.resolve(None).unwrap().gid, 65534);
    }
}
