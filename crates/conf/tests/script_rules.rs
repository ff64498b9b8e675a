//! keepalived's rules for commands, decided here once for `baton check` and the daemon:
//! which commands run through /bin/sh, and what `enable_script_security` does when the
//! default script user does not exist.
#![allow(clippy::unwrap_used)]

use baton_conf::{Code, Command, FakeHost, FakeScript, LoadOptions, Severity, Span, load_str};

fn cmd(argv: &[&str]) -> Command {
    Command {
        text: argv.join(" "),
        argv: argv.iter().map(|a| a.to_string()).collect(),
        run_as: None,
        span: Span::default(),
    }
}

#[test]
fn system_commands_are_those_keepalived_hands_to_system() {
    assert!(cmd(&["</dev/tcp/127.0.0.1/80"]).runs_through_shell());
    assert!(cmd(&["< \t/etc/hostname"]).runs_through_shell());
    assert_eq!(
        cmd(&["<  /run/x"]).shell_redirection_target(),
        Some("/run/x")
    );
    // keepalived checks the first word only: "<" alone, a relative file, an output
    // redirection and a path are not system commands.
    assert!(!cmd(&["<", "/run/x"]).runs_through_shell());
    assert!(!cmd(&["<relative"]).runs_through_shell());
    assert!(!cmd(&[">/tmp/x"]).runs_through_shell());
    assert!(!cmd(&["/usr/bin/test", "-f", "/x"]).runs_through_shell());
}

const CONF: &str = "global_defs {\n    enable_script_security\n}\nvrrp_script chk {\n    script \"/usr/local/bin/ok.sh\"\n}\nvrrp_script chk_user {\n    script \"/usr/local/bin/ok.sh\"\n    user nobody\n}\nvrrp_script chk_port {\n    script \"</dev/tcp/127.0.0.1/80\"\n}\nvrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    track_script {\n        chk\n        chk_user\n        chk_port\n    }\n    notify_master /usr/local/bin/ok.sh\n    virtual_ipaddress {\n        10.0.0.1\n    }\n}\n";

fn host() -> FakeHost {
    FakeHost::new()
        .interface("eth0")
        .user("nobody")
        .script("/usr/local/bin/ok.sh", FakeScript::Executable)
}

#[test]
fn script_security_without_the_default_user_drops_what_would_need_it() {
    let l = load_str("s.conf", CONF, &LoadOptions::default(), &host());
    let c = l.config.as_ref().unwrap();
    let names: Vec<&str> = c.scripts.iter().map(|s| s.name.as_str()).collect();
    // keepalived: "Unable to set default user for vrrp script chk - removing"; the system
    // command is parsed the same way and goes too. A script with its own user stays.
    assert_eq!(names, vec!["chk_user"]);
    let i = &c.instances[0];
    assert_eq!(i.tracking.scripts.len(), 1);
    assert!(i.notify.master.is_none());
    let errors: Vec<_> = l
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::ScriptUserUnknown)
        .collect();
    assert_eq!(errors.len(), 3, "{:#?}", l.diagnostics);
    assert!(errors.iter().all(|d| d.severity == Severity::Error));
    assert_eq!(l.status() as u8, 5);
}

#[test]
fn script_security_with_the_default_user_or_a_script_user_keeps_them() {
    for (text, host) in [
        (CONF.to_string(), host().user("keepalived_script")),
        (
            CONF.replace(
                "enable_script_security\n",
                "enable_script_security\n    script_user nobody\n",
            ),
            host(),
        ),
    ] {
        let l = load_str("s.conf", &text, &LoadOptions::default(), &host);
        let c = l.config.as_ref().unwrap();
        assert_eq!(c.scripts.len(), 3, "{:#?}", l.diagnostics);
        assert!(c.instances[0].notify.master.is_some());
        assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    }
}
