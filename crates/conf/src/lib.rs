//! keepalived.conf front end: a preprocessor that keeps file:line:col for every word, a
//! recursive-descent parser, the typed [`Config`] with keepalived's defaults, validation and
//! diagnostics.
//!
//! Loading runs in stages, each in its own module: `preprocess` (files, comments,
//! continuation, `include`, `@id` lines, parameters, `~SEQ`/`~LST`, quoting, into words that
//! know their file:line:col), `syntax` (statements and `{ … }` blocks), `parse` (keywords of
//! each block into a configuration as written), `resolve` (keepalived's defaults and
//! normalisations), `checks` and `hostcheck` (cross-references, and what the host must have:
//! scripts, users, interfaces, through [`Host`]). Files are read only through [`Sources`],
//! regular files only, and one load reads and produces no more than its [`Limits`] allow: a
//! configuration multiplies itself (`include` globs, `~SEQ`, parameters), and a reload must
//! take bounded time and memory whatever the files say.
//!
//! The daemon calls [`load`] at start and on SIGHUP; `baton check` prints what it returns.
//! A configuration that loads with errors still runs (as keepalived's does) unless it is
//! [unusable](Loaded::config); a reload with errors is refused.
//!
//! ```
//! use baton_conf::{FakeHost, LoadOptions, load_str};
//!
//! let text = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  \
//!             priority 200\n  virtual_ipaddress {\n    192.168.5.10\n  }\n}\n";
//! let host = FakeHost::new().interface("eth0");
//! let loaded = load_str("keepalived.conf", text, &LoadOptions::default(), &host);
//! assert!(!loaded.has_errors());
//! let config = loaded.config.unwrap();
//! assert_eq!(config.instances[0].priority, 200);
//! ```

#![forbid(unsafe_code)]

mod checks;
pub mod diag;
pub mod host;
mod hostcheck;
mod invariants;
pub mod lvs;
pub mod model;
mod parse;
mod preprocess;
mod resolve;
pub mod source;
mod syntax;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub use diag::{Code, Diagnostic, Diagnostics, Note, Severity};
pub use host::{FakeHost, FakeScript, Host, KeyFile, RealHost, ScriptLookup};
pub use lvs::*;
pub use model::*;
pub use source::{FsSources, MemSources, ReadError, Sources};

/// How to load a configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-i/--config-id` for `@id` lines and `${_INSTANCE}`; `None` means the host name up to
    /// its first dot.
    pub config_id: Option<String>,
    /// `-e/--all-config`: an include that matches nothing is an error, not a warning.
    pub all_config: bool,
    /// How much the configuration may make the loader read and produce.
    pub limits: Limits,
}

/// How much one load may read, produce and report. A configuration is text an operator
/// wrote, but `include` globs, `~SEQ` and parameters multiply it: these bound the time and
/// memory one load takes, whatever the files say. Each limit is named in the error that
/// reports it; the defaults are far above any real keepalived.conf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one file.
    pub file_bytes: u64,
    /// Bytes read in all, over every file and include.
    pub total_bytes: u64,
    /// Files read in all (a file included twice counts twice).
    pub files: usize,
    /// Lines preprocessing may produce (`~SEQ` and multi-line parameters multiply them).
    pub lines: usize,
    /// Bytes of text preprocessing may produce: the words of its lines and the values of
    /// the parameters it defines.
    pub expanded_bytes: usize,
    /// Diagnostics kept; the rest are counted in one last diagnostic.
    pub diagnostics: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            file_bytes: 8 << 20,
            total_bytes: 32 << 20,
            files: 1_000,
            lines: 500_000,
            expanded_bytes: 64 << 20,
            diagnostics: 1_000,
        }
    }
}

/// The `-t` / `baton check` exit codes: those Debian's keepalived 2.2.7 and keepalived 2.3.3
/// really return (keepalived's man page still lists 3, 4 and 5, which its code stopped
/// returning), except where a zero would pass a configuration that runs nothing. Case by
/// case, with both keepalived's answers: docs/CHECK.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CheckStatus {
    /// No errors (warnings allowed).
    Clean = 0,
    /// Nothing usable: the file is missing, unreadable or empty, or no instance is left.
    /// keepalived's code says 4 for a missing file; its binaries answer 0 for all three.
    Unusable = 4,
    /// Errors (unknown keywords included, as keepalived counts them), but the daemon would
    /// run what is left.
    Errors = 5,
    /// No errors, but scripts are configured without `enable_script_security`.
    ScriptSecurity = 6,
}

/// The result of loading: the configuration, if usable, and everything found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// `None` when nothing usable is left (see the diagnostics for why).
    pub config: Option<Config>,
    /// In source order.
    pub diagnostics: Vec<Diagnostic>,
    /// The config id `@id` lines were matched against.
    pub config_id: String,
}

impl Loaded {
    /// Whether any diagnostic is an error: a reload with errors is refused.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }

    /// The `baton check` / `keepalived -t` verdict.
    pub fn status(&self) -> CheckStatus {
        if self.config.is_none() {
            CheckStatus::Unusable
        } else if self.has_errors()
            || self
                .diagnostics
                .iter()
                .any(|d| d.code == Code::UnknownKeyword)
        {
            CheckStatus::Errors
        } else if self
            .diagnostics
            .iter()
            .any(|d| d.code == Code::ScriptSecurity)
        {
            CheckStatus::ScriptSecurity
        } else {
            CheckStatus::Clean
        }
    }
}

/// Load a configuration file from the file system, checked against this host.
pub fn load(path: &Path, opts: &LoadOptions) -> Loaded {
    load_with(path, opts, &FsSources, &RealHost)
}

/// Load a configuration given as a string (named `name` in diagnostics).
pub fn load_str(name: &str, text: &str, opts: &LoadOptions, host: &dyn Host) -> Loaded {
    let sources = MemSources::new().with_file(name, text);
    load_with(Path::new(name), opts, &sources, host)
}

/// The network namespace `path` asks for (`net_namespace`, at the top level or in
/// `global_defs`; the last one counts), read from its statements alone. The daemon enters
/// it before the configuration is checked against the interfaces, which live there; a
/// whole load (every instance resolved and checked) is too dear to make twice at start.
/// A name the full load would refuse is `None` here too.
pub fn net_namespace(path: &Path, opts: &LoadOptions) -> Option<String> {
    let mut diags = Diagnostics::with_limit(opts.limits.diagnostics);
    let pre = preprocess::run(path, &FsSources, &settings(opts, &RealHost), &mut diags);
    if !pre.readable {
        return None;
    }
    let stmts = syntax::parse(&pre.lines, &mut diags);
    let mut found = None;
    for stmt in &stmts {
        let inner = match (stmt.keyword().text.as_str(), &stmt.block) {
            ("net_namespace", None) => std::slice::from_ref(stmt),
            ("global_defs", Some(b)) => &b.stmts[..],
            _ => continue,
        };
        for s in inner {
            if s.keyword().text == "net_namespace"
                && s.block.is_none()
                && let [name] = s.args()
            {
                found = parse::global::namespace_name_ok(&name.text).then(|| name.text.clone());
            }
        }
    }
    found
}

/// How lines are preprocessed: `@id` conditions against the configuration id (the host
/// name's first label unless given), and the limits.
fn settings(opts: &LoadOptions, host: &dyn Host) -> preprocess::Settings {
    let config_id = opts
        .config_id
        .clone()
        .or_else(|| {
            host.hostname()
                .map(|h| h.split('.').next().unwrap_or_default().to_string())
        })
        .unwrap_or_default();
    preprocess::Settings {
        config_id,
        all_config: opts.all_config,
        limits: opts.limits,
    }
}

/// Load `path` through `sources`, checking host facts through `host`.
pub fn load_with(
    path: &Path,
    opts: &LoadOptions,
    sources: &dyn Sources,
    host: &dyn Host,
) -> Loaded {
    let settings = settings(opts, host);
    let config_id = settings.config_id.clone();
    let mut diags = Diagnostics::with_limit(opts.limits.diagnostics);
    let pre = preprocess::run(path, sources, &settings, &mut diags);
    let config = if pre.readable {
        let stmts = syntax::parse(&pre.lines, &mut diags);
        build(&mut diags, &stmts, host)
    } else {
        None
    };
    Loaded {
        config,
        diagnostics: finish(diags, &pre.files),
        config_id,
    }
}

/// `slot` becomes a reference to `last` when equal to it, else the new `last`.
fn share_alike<T: PartialEq>(slot: &mut Arc<T>, last: &mut Option<Arc<T>>) {
    match last {
        Some(l) if **l == **slot => *slot = l.clone(),
        _ => *last = Some(slot.clone()),
    }
}

/// From statements to a checked configuration.
fn build(diags: &mut Diagnostics, stmts: &[syntax::Stmt], host: &dyn Host) -> Option<Config> {
    let mut cx = parse::cx::Cx::new(diags);
    let mut raw = parse::parse(&mut cx, stmts);
    hostcheck::interfaces(&mut cx, &raw, host);
    resolve::auth_hmac::read_key_files(&mut cx, &mut raw.instances, host);
    let global = resolve::global(&mut cx, &mut raw.global);
    let fast_handover_explicit = raw.global.fast_handover.as_ref().is_some_and(|f| f.v);
    let garp_groups = std::mem::take(&mut raw.garp_groups);
    let mut referenced = checks::Referenced::default();
    for i in &raw.instances {
        referenced.add(&i.tracking);
    }
    for g in &raw.sync_groups {
        referenced.add(&g.tracking);
    }
    referenced.add_file_checks(&raw.virtual_servers);
    for i in &mut raw.instances {
        if let Some(ifname) = i.lvs_sync_daemon_interface.take() {
            raw.global.lvs.legacy_sync.push((i.name.clone(), ifname));
        }
    }
    let mut instances: Vec<_> = std::mem::take(&mut raw.instances)
        .into_iter()
        .filter_map(|i| {
            resolve::instance(&mut cx, i, &global, fast_handover_explicit, &garp_groups)
        })
        .collect();
    checks::vrid_collisions(&mut cx, &mut instances);
    resolve::vmac::resolve(&mut cx, &mut instances, &global);
    checks::vip_duplicates(&mut cx, &instances);
    let groups = checks::sync_groups(&mut cx, std::mem::take(&mut raw.sync_groups), &instances);
    let track_groups =
        checks::track_groups(&mut cx, std::mem::take(&mut raw.track_groups), &instances);

    let mut config = Config {
        sealed: Default::default(),
        global,
        scripts: raw.scripts,
        track_processes: raw.track_processes,
        track_files: raw.track_files,
        sync_groups: Vec::new(),
        instances: Vec::new(),
        static_addresses: raw.static_addresses,
        static_routes: raw.static_routes,
        static_rules: raw.static_rules,
        garp_groups,
        track_groups,
        linkbeat_interfaces: raw.linkbeat_interfaces,
        interface_delays: raw.interface_delays,
        lvs: Lvs::default(),
    };
    let defs = checks::Defined::of(&config);
    for (mut g, tracking) in groups {
        let t = checks::Tracker {
            who: &g.name,
            owner: false,
            sync_member_of: None,
        };
        g.tracking = checks::tracking(&mut cx, tracking, &defs, &t);
        config.sync_groups.push(g);
    }
    config.instances.reserve_exact(instances.len());
    // Settings most instances have alike (GARP timing, no trackers, no notify commands) are
    // shared with the instance before when equal: a daemon may run tens of thousands.
    let mut garp: Option<Arc<GarpSettings>> = None;
    let mut notify: Option<Arc<Notify>> = None;
    let mut tracked: Option<Arc<Tracking>> = None;
    for (mut inst, tracking) in instances {
        share_alike(&mut inst.garp, &mut garp);
        share_alike(&mut inst.notify, &mut notify);
        let member_of = config
            .sync_group_of(&inst.name)
            .filter(|g| !g.tracking_weight)
            .map(|g| g.name.clone());
        let t = checks::Tracker {
            who: &inst.name,
            owner: inst.is_owner(),
            sync_member_of: member_of.as_deref(),
        };
        inst.tracking = match (checks::tracking(&mut cx, tracking, &defs, &t), &tracked) {
            (t, Some(last)) if **last == t => last.clone(),
            (t, _) => tracked.insert(Arc::new(t)).clone(),
        };
        config.instances.push(inst);
    }
    let lvs = resolve::lvs::lvs(
        &mut cx,
        std::mem::take(&mut raw.global.lvs),
        std::mem::take(&mut raw.virtual_server_groups),
        std::mem::take(&mut raw.virtual_servers),
        raw.ssl.take(),
        &resolve::lvs::Context {
            instances: &config.instances,
            track_files: &config.track_files,
        },
    );
    config.lvs = lvs;
    checks::static_track_groups(&mut cx, &mut config);
    // keepalived puts a static address without `dev` on `default_interface` (eth0).
    let default_if = config
        .global
        .default_interface
        .clone()
        .unwrap_or_else(|| "eth0".to_string());
    for a in &mut config.static_addresses {
        if a.dev.is_none() {
            a.dev = Some(default_if.clone());
        }
    }
    checks::unused_trackers(&mut cx, &config, &referenced);
    hostcheck::scripts(&mut cx, &mut config, host, &referenced.scripts);

    if config.instances.is_empty() && config.lvs.virtual_servers.is_empty() {
        cx.diags.push(Diagnostic::new(
            Code::NoInstances,
            stmts
                .first()
                .map(|s| s.keyword().span.clone())
                .unwrap_or_default(),
            "no usable vrrp_instance or virtual_server: there is nothing for baton to run",
        ));
        return None;
    }
    debug_assert_eq!(invariants::check(&config), Ok(()));
    Some(config)
}

/// Put diagnostics in source order and give each its source line (and a caret as wide as
/// the word it points at).
fn finish(diags: Diagnostics, files: &[(Arc<str>, Arc<str>)]) -> Vec<Diagnostic> {
    let order: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.as_ref(), i))
        .collect();
    // Each file's lines, found once when the first diagnostic needs them: looking each
    // diagnostic's line up from the start of its file made loading quadratic.
    let mut lines: HashMap<&str, Vec<&str>> = HashMap::new();
    let texts: HashMap<&str, &str> = files
        .iter()
        .map(|(n, t)| (n.as_ref(), t.as_ref()))
        .collect();
    let mut out = diags.into_vec();
    for d in &mut out {
        if d.span.line == 0 {
            continue;
        }
        let Some((name, text)) = texts.get_key_value(d.span.file.as_ref()) else {
            continue;
        };
        let of_file = lines.entry(name).or_insert_with(|| text.lines().collect());
        let Some(&line) = of_file.get(d.span.line as usize - 1) else {
            continue;
        };
        if d.len <= 1 {
            d.len = word_len(line, d.span.col).max(1);
        }
        d.source_line = Some(Arc::from(line));
    }
    // Stable: diagnostics at one place keep the order they were found in.
    out.sort_by_key(|d| {
        (
            order
                .get(d.span.file.as_ref())
                .copied()
                .unwrap_or(usize::MAX),
            d.span.line,
            d.span.col,
        )
    });
    out
}

/// Characters of the word starting at 1-based column `col` (a quoted word up to its closing
/// quote).
fn word_len(line: &str, col: u32) -> u32 {
    let mut chars = line.chars().skip(col.saturating_sub(1) as usize).peekable();
    match chars.peek() {
        Some(&q @ ('"' | '\'')) => {
            let mut n = 1;
            chars.next();
            for c in chars {
                n += 1;
                if c == q {
                    break;
                }
            }
            n
        }
        _ => chars.take_while(|c| !c.is_whitespace()).count() as u32,
    }
}

/// Diagnostics [`fuzz_one`] renders with their snippet.
const RENDERED: usize = 16;

/// Load arbitrary bytes as a configuration and render its diagnostics: what the fuzz target
/// and its regression replay run. Panics only if an invariant of the model is broken.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // Smaller than the daemon's limits so each run stays short (an input that expands to
    // the limit costs the limit, under the sanitizer some 15 µs a line); reaching the limits
    // is what is exercised, not their size.
    let opts = LoadOptions {
        config_id: Some("lb1".to_string()),
        all_config: false,
        limits: Limits {
            lines: 500,
            expanded_bytes: 64 << 10,
            diagnostics: 100,
            files: 20,
            ..Limits::default()
        },
    };
    let sources = MemSources::new()
        .with_file("/fuzz/keepalived.conf", text.as_ref())
        .with_file("/fuzz/conf.d/a.conf", "$X=1\n")
        .with_file(
            "/fuzz/conf.d/b.conf",
            "vrrp_script s {\n script /bin/true\n}\n",
        )
        .with_special("/fuzz/conf.d/fifo", "a FIFO");
    let host = FakeHost::new()
        .hostname("lb1.example")
        .interface("eth0")
        .script("/bin/true", FakeScript::Executable);
    let loaded = load_with(Path::new("/fuzz/keepalived.conf"), &opts, &sources, &host);
    // Every diagnostic as a log line, the first few also with their caret snippet: the
    // snippet renderer costs more than the whole load under the sanitizer, and the fuzzer
    // puts any diagnostic first by shortening the input.
    for (i, d) in loaded.diagnostics.iter().enumerate() {
        let _ = d.log_line();
        if i < RENDERED {
            let _ = d.render();
        }
    }
    if let Some(c) = &loaded.config
        && let Err(e) = invariants::check(c)
    {
        panic!("invariant broken: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_in_included_files_show_their_own_lines() {
        let sources = MemSources::new()
            .with_file("/etc/k/keepalived.conf", "include conf.d/vi.conf\n")
            .with_file(
                "/etc/k/conf.d/vi.conf",
                "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 7\n  priority 0\n  \
                 virtual_ipaddress {\n    10.0.0.1\n  }\n}\n",
            );
        let host = FakeHost::new().interface("eth0");
        let loaded = load_with(
            Path::new("/etc/k/keepalived.conf"),
            &LoadOptions::default(),
            &sources,
            &host,
        );
        assert_eq!(loaded.diagnostics.len(), 1, "{:#?}", loaded.diagnostics);
        let d = &loaded.diagnostics[0];
        assert_eq!(
            d.log_line(),
            "/etc/k/conf.d/vi.conf:4:12: error: (VI_1) priority 0 is outside 1..255; using 100"
        );
        assert!(d.render().contains("4 |   priority 0"), "{}", d.render());
        assert_eq!(loaded.config.unwrap().instances[0].priority, 100);
    }

    #[test]
    fn instances_with_the_same_settings_share_them() {
        let vi = |n: u32, extra: &str| {
            format!(
                "vrrp_instance VI_{n} {{\n  interface eth0\n  virtual_router_id {n}\n{extra}  \
                 virtual_ipaddress {{\n    10.0.0.{n}\n  }}\n}}\n"
            )
        };
        let text = [
            "vrrp_script chk {\n  script /bin/true\n}\n".to_string(),
            vi(1, ""),
            vi(2, ""),
            vi(
                3,
                "  notify_master /bin/true\n  track_script {\n    chk\n  }\n",
            ),
            vi(
                4,
                "  notify_master /bin/true\n  track_script {\n    chk\n  }\n",
            ),
        ]
        .concat();
        let host = FakeHost::new()
            .interface("eth0")
            .script("/bin/true", FakeScript::Executable);
        let loaded = load_str("k.conf", &text, &LoadOptions::default(), &host);
        let c = loaded.config.unwrap();
        let i = &c.instances;
        assert!(Arc::ptr_eq(&i[0].notify, &i[1].notify));
        assert!(Arc::ptr_eq(&i[0].tracking, &i[1].tracking));
        assert!(Arc::ptr_eq(&i[0].garp, &i[1].garp));
        // An instance with settings of its own keeps them (commands and references carry
        // where they were written, so those are each instance's own).
        assert!(!Arc::ptr_eq(&i[1].notify, &i[2].notify));
        assert!(!Arc::ptr_eq(&i[1].tracking, &i[2].tracking));
        assert_eq!(i[2].tracking.scripts[0].name, "chk");
        assert_eq!(i[3].notify.master.as_ref().unwrap().argv, ["/bin/true"]);
        assert!(i[1].notify.master.is_none() && i[1].tracking.scripts.is_empty());
    }

    #[test]
    fn config_id_defaults_to_the_short_host_name() {
        let text = "@lb2 $P=7\n@lb1 $P=9\nvrrp_instance V {\n interface eth0\n \
                    virtual_router_id 1\n priority $P\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";
        let host = FakeHost::new()
            .hostname("lb1.example.net")
            .interface("eth0");
        let loaded = load_str("k.conf", text, &LoadOptions::default(), &host);
        assert_eq!(loaded.config_id, "lb1");
        assert_eq!(loaded.config.unwrap().instances[0].priority, 9);
        let opts = LoadOptions {
            config_id: Some("lb2".to_string()),
            ..LoadOptions::default()
        };
        let loaded = load_str("k.conf", text, &opts, &host);
        assert_eq!(loaded.config.unwrap().instances[0].priority, 7);
    }

    #[test]
    fn process_names_are_kept_for_the_daemon_to_take() {
        let text = "global_defs {\n process_names\n vrrp_process_name ka_vrrp\n \
                    process_name lb-ha\n}\nvrrp_instance V {\n interface eth0\n \
                    virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";
        let host = FakeHost::new().interface("eth0");
        let loaded = load_str("k.conf", text, &LoadOptions::default(), &host);
        assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
        let g = loaded.config.unwrap().global;
        assert!(g.process_names);
        assert_eq!(g.vrrp_process_name.as_deref(), Some("ka_vrrp"));
        assert_eq!(g.process_name.as_deref(), Some("lb-ha"));
    }

    /// A host that counts the user-database lookups.
    struct CountingHost(FakeHost, std::cell::Cell<u32>);

    impl crate::host::Host for CountingHost {
        fn hostname(&self) -> Option<String> {
            crate::host::Host::hostname(&self.0)
        }
        fn interface_exists(&self, name: &str) -> Option<bool> {
            crate::host::Host::interface_exists(&self.0, name)
        }
        fn user_exists(&self, name: &str) -> bool {
            self.1.set(self.1.get() + 1);
            crate::host::Host::user_exists(&self.0, name)
        }
        fn group_exists(&self, name: &str) -> bool {
            crate::host::Host::group_exists(&self.0, name)
        }
        fn find_script(&self, program: &str) -> crate::host::ScriptLookup {
            crate::host::Host::find_script(&self.0, program)
        }
        fn insecure_component(
            &self,
            path: &std::path::Path,
        ) -> Option<(std::path::PathBuf, String)> {
            crate::host::Host::insecure_component(&self.0, path)
        }
        fn read_key_file(
            &self,
            path: &std::path::Path,
            limit: usize,
        ) -> std::io::Result<crate::host::KeyFile> {
            crate::host::Host::read_key_file(&self.0, path, limit)
        }
        fn shell_has_dev_tcp(&self) -> Option<bool> {
            crate::host::Host::shell_has_dev_tcp(&self.0)
        }
    }

    #[test]
    fn without_scripts_the_user_database_is_not_asked() {
        let text = "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n \
                    virtual_ipaddress {\n  10.0.0.1\n }\n}\n";
        let host = CountingHost(FakeHost::new().interface("eth0"), Default::default());
        let loaded = load_str("k.conf", text, &LoadOptions::default(), &host);
        assert!(loaded.config.is_some(), "{:#?}", loaded.diagnostics);
        assert_eq!(host.1.get(), 0, "keepalived_script looked up");
        // enable_script_security needs the default user for a script without its own.
        let with_script = format!(
            "global_defs {{\n enable_script_security\n}}\n{text}vrrp_instance W {{\n \
             interface eth0\n virtual_router_id 2\n notify_master /bin/true\n \
             virtual_ipaddress {{\n  10.0.0.2\n }}\n}}\n"
        );
        let host = CountingHost(FakeHost::new().interface("eth0"), Default::default());
        load_str("k.conf", &with_script, &LoadOptions::default(), &host);
        assert_eq!(host.1.get(), 1, "keepalived_script looked up once");
    }

    #[test]
    fn baton_metrics_is_an_address_and_port_or_an_error_at_its_value() {
        let conf = |v: &str| {
            format!(
                "global_defs {{\n baton_metrics {v}\n}}\nvrrp_instance V {{\n interface eth0\n \
                 virtual_router_id 1\n virtual_ipaddress {{\n  10.0.0.1\n }}\n}}\n"
            )
        };
        let host = FakeHost::new().interface("eth0");
        let ok = load_str(
            "k.conf",
            &conf("[::1]:9650"),
            &LoadOptions::default(),
            &host,
        );
        assert!(ok.diagnostics.is_empty(), "{:#?}", ok.diagnostics);
        assert_eq!(
            ok.config.unwrap().global.metrics,
            Some("[::1]:9650".parse().unwrap())
        );
        let bad = load_str("k.conf", &conf("9650"), &LoadOptions::default(), &host);
        let d = bad
            .diagnostics
            .iter()
            .find(|d| d.message.contains("baton_metrics 9650: not ADDR:PORT"))
            .unwrap_or_else(|| panic!("{:#?}", bad.diagnostics));
        assert_eq!((d.span.line, d.span.col), (2, 16), "{d:#?}");
        assert_eq!(d.severity, Severity::Error);
        assert_eq!(bad.config.and_then(|c| c.global.metrics), None);
    }

    #[test]
    fn word_len_covers_quoted_words() {
        assert_eq!(word_len("script \"/a b.sh\" # x", 8), 9);
        assert_eq!(word_len("  priority 300", 12), 3);
        assert_eq!(word_len("x", 5), 0);
    }
}
