//! `baton check` and `baton -t`: load a configuration, print every diagnostic, exit with
//! keepalived's `-t` codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use baton_conf::{CheckStatus, LoadOptions, Loaded};

/// What `baton check` needs from the command line.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub config: PathBuf,
    /// `-i/--config-id`; `None` means the short hostname.
    pub config_id: Option<String>,
    /// `-e/--all-config`: a missing include is an error.
    pub all_config: bool,
    /// `--format json`.
    pub json: bool,
    /// `--dump`: print the effective configuration as JSON.
    pub dump: bool,
    /// `--explain`: print what the firewall must let through for each instance.
    pub explain: bool,
}

/// The exit codes, for `baton check --help` (keepalived's `-t` codes).
pub const EXIT_CODES: &str = "\
Exit status (the codes keepalived 2.2.7 and 2.3.3 -t really return; docs/CHECK.md):
  0  the configuration is fine (warnings may have been printed)
  4  the configuration is unusable: missing, unreadable, empty, or nothing left to run
     (keepalived exits 0 for these three)
  5  the configuration has errors (unknown keywords too), but baton would run what is left
  6  no errors, but scripts are configured without enable_script_security

Diagnostics go to standard error as FILE:LINE:COL: error|warning: MESSAGE with the source
line and a caret; --format json prints them on standard output instead, and --dump prints
the effective configuration (keepalived's defaults applied) as JSON.";

pub fn run(opts: &CheckOptions) -> ExitCode {
    let load_options = LoadOptions {
        config_id: opts.config_id.clone(),
        all_config: opts.all_config,
        ..LoadOptions::default()
    };
    let mut loaded = baton_conf::load(&opts.config, &load_options);
    // Interfaces are checked where the daemon will run: inside its net_namespace, when
    // this process may enter it (otherwise here, and the report says so).
    if let Some(ns) = loaded
        .config
        .as_ref()
        .and_then(|c| c.global.net_namespace.clone())
    {
        match crate::daemon::enter_net_namespace(&ns) {
            Ok(()) => loaded = baton_conf::load(&opts.config, &load_options),
            Err(e) => eprintln!(
                "note: cannot enter network namespace {ns} ({e}); interfaces checked in this one"
            ),
        }
    }
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let code = report(&loaded, opts, &mut out, &mut err);
    // A closed pipe must not change the verdict.
    let _ = out.flush();
    ExitCode::from(code)
}

fn verdict(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Clean => "configuration OK",
        CheckStatus::Unusable => "configuration unusable",
        CheckStatus::Errors => "configuration has errors; baton would run what is left",
        CheckStatus::ScriptSecurity => {
            "configuration OK, but scripts run without enable_script_security"
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Print the report of `loaded` and return the exit code. Text goes to `err` (where
/// `-t LOGFILE` sends it); JSON and the dump go to `out`.
pub fn report(
    loaded: &Loaded,
    opts: &CheckOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let status = loaded.status();
    let errors = loaded.errors().count();
    let warnings = loaded.warnings().count();
    let file = opts.config.display().to_string();
    // Output failures (a closed pipe) cannot be reported anywhere better; the exit code
    // still tells the verdict.
    if opts.json {
        let mut doc = serde_json::json!({
            "file": file,
            "config_id": loaded.config_id,
            "status": status as u8,
            "verdict": verdict(status),
            "errors": errors,
            "warnings": warnings,
            "diagnostics": loaded.diagnostics,
        });
        if opts.dump {
            doc["config"] = serde_json::to_value(&loaded.config).unwrap_or(serde_json::Value::Null);
        }
        if opts.explain
            && let Some(c) = &loaded.config
        {
            doc["explain"] = serde_json::Value::String(super::explain::remedies(c));
        }
        let _ = serde_json::to_writer_pretty(&mut *out, &doc);
        let _ = writeln!(out);
    } else {
        for d in &loaded.diagnostics {
            let _ = writeln!(err, "{}", d.render());
        }
        let _ = writeln!(
            err,
            "{file}: {}, {}: {}",
            plural(errors, "error"),
            plural(warnings, "warning"),
            verdict(status)
        );
        if opts.dump {
            let _ = serde_json::to_writer_pretty(&mut *out, &loaded.config);
            let _ = writeln!(out);
        }
        if opts.explain
            && let Some(c) = &loaded.config
        {
            let _ = write!(out, "{}", super::explain::remedies(c));
        }
    }
    status as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_conf::{FakeHost, load_str};

    fn opts(json: bool, dump: bool) -> CheckOptions {
        CheckOptions {
            config: "k.conf".into(),
            config_id: None,
            all_config: false,
            json,
            dump,
            explain: false,
        }
    }

    fn run_report(text: &str, json: bool, dump: bool) -> (u8, String, String) {
        let host = FakeHost::new().interface("eth0");
        let loaded = load_str("k.conf", text, &LoadOptions::default(), &host);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = report(&loaded, &opts(json, dump), &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    const GOOD: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
                        priority 200\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";

    #[test]
    fn clean_configuration_exits_0_with_a_summary() {
        let (code, out, err) = run_report(GOOD, false, false);
        assert_eq!(code, 0);
        assert!(out.is_empty());
        assert_eq!(err, "k.conf: 0 errors, 0 warnings: configuration OK\n");
    }

    #[test]
    fn errors_print_file_line_col_and_a_caret() {
        let (code, _, err) =
            run_report(&GOOD.replace("priority 200", "priority 300"), false, false);
        assert_eq!(code, 5);
        assert!(
            err.starts_with(
                "k.conf:4:11: error: (VI_1) priority 300 is outside 1..255; using 100\n"
            ),
            "{err}"
        );
        assert!(err.contains(" priority 300\n"), "{err}");
        assert!(err.contains("^^^"), "{err}");
        assert!(err.ends_with(
            "1 error, 0 warnings: configuration has errors; baton would run what is left\n"
        ));
    }

    #[test]
    fn json_report_carries_codes_and_positions() {
        let (code, out, err) = run_report(&GOOD.replace("priority 200", "priority 0"), true, true);
        assert_eq!(code, 5);
        assert!(err.is_empty());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["status"], 5);
        assert_eq!(v["errors"], 1);
        let d = &v["diagnostics"][0];
        assert_eq!(
            (d["code"].as_str(), d["line"].as_u64(), d["col"].as_u64()),
            (Some("priority-range"), Some(4), Some(11))
        );
        assert_eq!(d["severity"], "error");
        assert_eq!(v["config"]["instances"][0]["priority"], 100);
    }

    #[test]
    fn dump_prints_the_effective_configuration() {
        let (code, out, _) = run_report(GOOD, false, true);
        assert_eq!(code, 0);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let i = &v["instances"][0];
        assert_eq!(i["advert_int"], 1.0);
        assert_eq!(i["version"], "VRRPv2");
        assert_eq!(i["vips"][0]["prefix_len"], 32);
        assert_eq!(i["garp"]["master_repeat"], 5);
    }

    #[test]
    fn unusable_configuration_exits_4() {
        let (code, out, err) = run_report("global_defs {\n}\n", false, true);
        assert_eq!(code, 4);
        assert_eq!(out, "null\n");
        assert!(err.contains("error: no usable vrrp_instance"), "{err}");
    }
}
