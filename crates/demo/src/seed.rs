//! The seed's files as the demo runs them: its two keepalived.conf files, carried by the
//! binary, with its `check_nginx` health check added the way the post adds it (path fixed to
//! the script the demo writes into each load balancer's directory) and baton's process
//! tracker on nginx beside it; the post's check script with its paths fixed; and an nginx
//! configuration that proxies to the two backends (the post's tomcat cluster).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use baton_conf::{Config, FakeHost, FakeScript, LoadOptions};

/// The seed's master (192.168.5.11, priority 200) and backup (192.168.5.12, priority 100).
pub const MASTER_CONF: &str = include_str!("../seed/master.conf");
pub const BACKUP_CONF: &str = include_str!("../seed/backup.conf");
/// The post's `vrrp_script check_nginx` block and the `track_script` block it adds to the
/// instance, verbatim.
const CHECK_NGINX_SNIPPET: &str = include_str!("../seed/check_nginx.snippet");
/// The path the post's `vrrp_script` names (not the file it created: the post's own bug).
const SEED_SCRIPT_PATH: &str = "/usr/local/keepalived/check_nginx.sh";

/// The post's `chk_nginx_pid.sh`, verbatim: count nginx processes, restart nginx when there
/// are none, and `killall keepalived` when the restart did not help, so the VIP moves.
const SEED_CHECK_SCRIPT: &str = "#!/bin/bash

A=`ps -C nginx --no-header |wc -l` # 统计nginx进程数,若为0,表明nginx被杀
if [ $A -eq 0 ];then
# 重启nginx,不是默认配置路径所以需要指定路径,因人而异
/usr/local/nginx/sbin/nginx -c /usr/local/nginx/conf/nginx.conf
# nginx重启失败,则停掉keepalived服务,进行VIP转移
if [ `ps -C nginx --no-header |wc -l` -eq 0 ];then
# 杀掉,VIP就漫游到另一台机器
killall keepalived
fi
fi
";
/// The post's restart line, which names its own nginx build.
const SEED_RESTART: &str = "/usr/local/nginx/sbin/nginx -c /usr/local/nginx/conf/nginx.conf";

/// The file the check script touches on every run: the screen shows when it last ran, and
/// the scripted demo kills nginx just after a run so the script's restart cannot race the
/// failover it wants to show.
pub const CHECK_MARK: &str = "check_nginx.ran";
/// The script's file name in each load balancer's directory.
pub const CHECK_SCRIPT: &str = "check_nginx.sh";

/// baton's tracker on nginx: a pidfd per nginx process, so a death is seen at once.
pub const TRACK_PROCESS: &str = "nginx";
/// Weight of the process tracker: lb1 without nginx drops from 200 (+2 from check_nginx) to
/// 52, below lb2's 102, so lb2 takes over.
pub const TRACK_PROCESS_WEIGHT: i32 = -150;

/// One load balancer's keepalived.conf: the seed's file with the post's `check_nginx` block
/// (its script path pointing at `script`) and baton's `vrrp_track_process` on nginx added
/// before the instance, and both tracked by the instance.
pub fn keepalived_conf(seed: &str, script: &Path) -> Result<String> {
    let script = script
        .to_str()
        .context("the check script's path is not UTF-8")?;
    let Some(split) = CHECK_NGINX_SNIPPET.find("track_script") else {
        bail!("the post's check_nginx snippet has no track_script block");
    };
    let (script_block, track_script) = CHECK_NGINX_SNIPPET.split_at(split);
    if !script_block.contains(SEED_SCRIPT_PATH) {
        bail!("the post's vrrp_script does not name {SEED_SCRIPT_PATH}");
    }
    let script_block = script_block.replace(SEED_SCRIPT_PATH, script);
    let track_process = format!(
        "vrrp_track_process {TRACK_PROCESS} {{ # baton: a pidfd on each nginx process\n\
         process nginx\n\
         weight {TRACK_PROCESS_WEIGHT}\n\
         }}\n\n"
    );
    let Some(instance) = seed.find("vrrp_instance") else {
        bail!("the seed's configuration has no vrrp_instance");
    };
    let body = seed.trim_end();
    let Some(close) = body.rfind('}') else {
        bail!("the seed's vrrp_instance is not closed");
    };
    if close < instance {
        bail!("the seed's vrrp_instance is not closed");
    }
    let mut out = String::with_capacity(seed.len() + 512);
    out.push_str(&seed[..instance]);
    out.push_str(script_block.trim_end());
    out.push_str("\n\n");
    out.push_str(&track_process);
    out.push_str(&body[instance..close]);
    out.push_str(track_script.trim_end());
    out.push_str(&format!("\ntrack_process {{\n{TRACK_PROCESS}\n}}\n}}\n"));
    Ok(out)
}

/// Parse a load balancer's configuration the way its daemon will (interface `ens33`, the
/// check script present), refusing one with errors.
pub fn parse(name: &str, text: &str, script: &Path) -> Result<Config> {
    let host = FakeHost::new()
        .hostname(name)
        .interface("ens33")
        .script(&script.to_string_lossy(), FakeScript::Executable);
    let loaded = baton_conf::load_str(
        &format!("{name}/keepalived.conf"),
        text,
        &LoadOptions::default(),
        &host,
    );
    if let Some(e) = loaded.errors().next() {
        bail!("{name}'s keepalived.conf: {}", e.message);
    }
    loaded
        .config
        .with_context(|| format!("{name}'s keepalived.conf has no usable instance"))
}

/// The post's check script for a host whose directory is `dir`, restarting nginx with
/// `restart` instead of the post's own build.
pub fn check_script(dir: &Path, restart: &str) -> String {
    let mark = dir.join(CHECK_MARK);
    SEED_CHECK_SCRIPT
        .replacen(
            "#!/bin/bash\n",
            &format!(
                "#!/bin/bash\n# baton demo: the post's chk_nginx_pid.sh, paths fixed for this host.\n\
                 touch {}\n",
                mark.display()
            ),
            1,
        )
        .replace(SEED_RESTART, restart)
}

/// Debian's nginx as a reverse proxy on port 80 (any address, so the VIP too when it
/// arrives) to the two backends, naming the load balancer in an `X-LB` header. Everything
/// it writes stays in `dir`.
pub fn nginx_conf(lb: &str, dir: &Path, upstreams: &[SocketAddr]) -> String {
    let d = dir.display();
    let servers: String = upstreams
        .iter()
        .map(|u| format!("        server {u} max_fails=1 fail_timeout=1s;\n"))
        .collect();
    format!(
        "# baton demo: {lb}'s nginx, a reverse proxy to the backends (the post's tomcat cluster).
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    client_body_temp_path {d}/nginx-tmp/body;
    proxy_temp_path {d}/nginx-tmp/proxy;
    fastcgi_temp_path {d}/nginx-tmp/fastcgi;
    uwsgi_temp_path {d}/nginx-tmp/uwsgi;
    scgi_temp_path {d}/nginx-tmp/scgi;
    upstream tomcat {{
{servers}    }}
    server {{
        listen 80;
        location / {{
            proxy_pass http://tomcat;
            proxy_connect_timeout 200ms;
            proxy_read_timeout 2s;
            add_header X-LB {lb} always;
        }}
    }}
}}
"
    )
}

/// The command that starts nginx in the background, as the check script restarts it.
pub fn nginx_start(nginx: &Path, dir: &Path) -> String {
    format!(
        "{} -e {} -c {}",
        nginx.display(),
        dir.join("nginx-error.log").display(),
        dir.join("nginx.conf").display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn script() -> PathBuf {
        PathBuf::from("/tmp/lab/lb1/check_nginx.sh")
    }

    #[test]
    fn the_seeds_configs_gain_check_nginx_and_a_process_tracker() {
        for (name, seed, prio) in [("lb1", MASTER_CONF, 200), ("lb2", BACKUP_CONF, 100)] {
            let text = keepalived_conf(seed, &script()).unwrap();
            // The seed's lines are all still there, comments included.
            for line in seed.lines() {
                assert!(text.contains(line), "{name}: lost {line:?}");
            }
            assert!(!text.contains(SEED_SCRIPT_PATH));
            let c = parse(name, &text, &script()).unwrap();
            assert_eq!(c.instances.len(), 1);
            let vi = &c.instances[0];
            assert_eq!(vi.priority, prio);
            assert_eq!(vi.interface.as_deref(), Some("ens33"));
            assert_eq!(vi.advert_int, Duration::from_secs(1));
            let tracked: Vec<&str> = vi
                .tracking
                .scripts
                .iter()
                .chain(&vi.tracking.processes)
                .map(|t| t.name.as_str())
                .collect();
            assert_eq!(tracked, ["check_nginx", TRACK_PROCESS]);
            assert_eq!(c.scripts.len(), 1);
            assert_eq!(c.scripts[0].interval, Duration::from_secs(2));
            assert_eq!(c.scripts[0].weight, 2);
            assert_eq!(c.track_processes.len(), 1);
            assert_eq!(c.track_processes[0].process, "nginx");
            assert_eq!(c.track_processes[0].weight, TRACK_PROCESS_WEIGHT);
        }
    }

    #[test]
    fn a_config_with_errors_is_refused() {
        let text = keepalived_conf(MASTER_CONF, &script()).unwrap();
        // The script is checked like the daemon checks it: one that is not there is an error.
        let err = parse("lb1", &text, Path::new("/elsewhere.sh")).unwrap_err();
        assert!(err.to_string().contains("check_nginx"), "{err}");
        assert!(keepalived_conf("global_defs {\n}\n", &script()).is_err());
    }

    #[test]
    fn the_check_script_is_the_posts_with_its_paths_fixed() {
        let dir = Path::new("/tmp/lab/lb1");
        let s = check_script(dir, "/usr/sbin/nginx -c /tmp/lab/lb1/nginx.conf");
        assert!(s.starts_with("#!/bin/bash\n"));
        assert!(s.contains("touch /tmp/lab/lb1/check_nginx.ran\n"));
        assert!(s.contains("\n/usr/sbin/nginx -c /tmp/lab/lb1/nginx.conf\n"));
        assert!(!s.contains("/usr/local/nginx"));
        assert!(s.contains("killall keepalived"));
        assert_eq!(s.matches("ps -C nginx --no-header |wc -l").count(), 2);
    }

    #[test]
    fn nginx_proxies_to_both_backends_and_names_the_balancer() {
        let ups: Vec<SocketAddr> = vec![
            "192.168.5.21:8080".parse().unwrap(),
            "192.168.5.22:8080".parse().unwrap(),
        ];
        let c = nginx_conf("lb2", Path::new("/d"), &ups);
        assert!(c.contains("server 192.168.5.21:8080 "));
        assert!(c.contains("server 192.168.5.22:8080 "));
        assert!(c.contains("add_header X-LB lb2 always;"));
        assert!(c.contains("pid /d/nginx.pid;"));
        assert_eq!(c.matches('{').count(), c.matches('}').count());
        assert_eq!(
            nginx_start(Path::new("/usr/sbin/nginx"), Path::new("/d")),
            "/usr/sbin/nginx -e /d/nginx-error.log -c /d/nginx.conf"
        );
    }

    /// The demo's copy of the seed is the parser's fixture, byte for byte.
    #[test]
    fn the_seed_files_are_the_parsers_fixtures() {
        let fixtures =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf/tests/fixtures/seed");
        for (file, ours) in [
            ("master.conf", MASTER_CONF),
            ("backup.conf", BACKUP_CONF),
            ("check_nginx.snippet", CHECK_NGINX_SNIPPET),
        ] {
            let theirs = std::fs::read_to_string(fixtures.join(file)).unwrap();
            assert_eq!(ours, theirs, "{file} differs from the parser's fixture");
        }
    }
}
