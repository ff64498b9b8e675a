//! Real servers from Debian's packages, run on a lab host: nginx-light (HTTP, and HTTPS
//! with a certificate made here), dnsmasq (DNS) and OpenSMTPD (SMTP).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use baton_lab::{Host, Proc, Signal, ms, wait_until};

use super::RS;

/// Debian's binary, or a panic naming the package to install (scripts/test installs them).
fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install Debian's {package} (scripts/test does)"
    );
}

/// nginx on the real server: port 80 serves `www/` (and `/fail` answers 500), port 443
/// serves the same over TLS, but only to clients that send the SNI name `sni.example.test`
/// (others are refused in the handshake).
pub struct Nginx {
    host: Host,
    pub conf: PathBuf,
    pub www: PathBuf,
}

pub const NGINX: &str = "/usr/sbin/nginx";
pub const SNI_NAME: &str = "sni.example.test";

impl Nginx {
    pub fn install(host: &Host) -> Nginx {
        require(NGINX, "nginx-light");
        let dir = host.path("nginx");
        let www = dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        let cert = rcgen::generate_simple_self_signed(vec![SNI_NAME.to_string()]).unwrap();
        std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
        let d = dir.display();
        let conf_text = format!(
            "user root;\n\
             daemon on;\n\
             master_process on;\n\
             worker_processes 1;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
             \taccess_log off;\n\
             \tclient_body_temp_path {d}/body;\n\
             \tproxy_temp_path {d}/proxy;\n\
             \tfastcgi_temp_path {d}/fastcgi;\n\
             \tuwsgi_temp_path {d}/uwsgi;\n\
             \tscgi_temp_path {d}/scgi;\n\
             \tdefault_type text/plain;\n\
             \tserver {{\n\
             \t\tlisten {RS}:80;\n\
             \t\troot {d}/www;\n\
             \t\tlocation = /fail {{ return 500 \"broken\\n\"; }}\n\
             \t\tlocation = /host {{ return 200 \"host=$host\\n\"; }}\n\
             \t}}\n\
             \tserver {{\n\
             \t\tlisten {RS}:443 ssl default_server;\n\
             \t\tssl_reject_handshake on;\n\
             \t\troot {d}/www;\n\
             \t}}\n\
             \tserver {{\n\
             \t\tlisten {RS}:443 ssl;\n\
             \t\tserver_name {SNI_NAME};\n\
             \t\tssl_certificate {d}/cert.pem;\n\
             \t\tssl_certificate_key {d}/key.pem;\n\
             \t\troot {d}/www;\n\
             \t}}\n\
             }}\n"
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, conf_text).unwrap();
        Nginx {
            host: host.clone(),
            conf,
            www,
        }
    }

    /// Serve `body` at `/name`.
    pub fn page(&self, name: &str, body: &[u8]) {
        std::fs::write(self.www.join(name), body).unwrap();
    }

    pub fn start(&self) {
        self.host
            .cmd([NGINX, "-c", &self.conf.to_string_lossy()])
            .unwrap();
        wait_until("nginx to listen", Duration::from_secs(5), ms(10), || {
            self.host.pidof("nginx").map(|p| p.len() >= 2)
        })
        .unwrap();
    }

    pub fn kill(&self) {
        self.host.kill_all("nginx", Signal::SIGKILL).unwrap();
        wait_until("nginx to die", Duration::from_secs(5), ms(10), || {
            self.host.pidof("nginx").map(|p| p.is_empty())
        })
        .unwrap();
    }
}

/// dnsmasq answering for `example.test` only: `web.example.test` is 10.0.9.80, any other
/// name there is NXDOMAIN, and everything else (the root's SOA too) is REFUSED, since it
/// has no upstream.
pub struct Dnsmasq {
    host: Host,
    proc: Option<Proc>,
}

pub const DNSMASQ: &str = "/usr/sbin/dnsmasq";

impl Dnsmasq {
    pub fn new(host: &Host) -> Dnsmasq {
        require(DNSMASQ, "dnsmasq-base");
        Dnsmasq {
            host: host.clone(),
            proc: None,
        }
    }

    pub fn start(&mut self) {
        let pid = self.host.path("dnsmasq.pid");
        let proc = self
            .host
            .spawn(Command::new(DNSMASQ).args([
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                &format!("--listen-address={RS}"),
                &format!("--pid-file={}", pid.display()),
                "--user=root",
                "--host-record=web.example.test,10.0.9.80",
                "--local=/example.test/",
            ]))
            .unwrap();
        self.proc = Some(proc);
        // Listening once it answers on port 53.
        wait_until("dnsmasq to listen", Duration::from_secs(5), ms(10), || {
            self.host.sh("ss -lun | grep -q ':53 '").is_ok()
        })
        .unwrap();
    }

    pub fn kill(&mut self) {
        if let Some(p) = self.proc.take() {
            p.kill().unwrap();
        }
    }
}

/// OpenSMTPD listening on the real server's port 25.
pub struct Smtpd {
    host: Host,
    proc: Option<Proc>,
    conf: PathBuf,
}

pub const SMTPD: &str = "/usr/sbin/smtpd";

impl Smtpd {
    pub fn new(host: &Host) -> Smtpd {
        require(SMTPD, "opensmtpd");
        let conf = host
            .write_file(
                "smtpd.conf",
                format!(
                    "listen on {RS} port 25\naction \"local\" mbox\nmatch from any for local action \"local\"\n"
                ),
            )
            .unwrap();
        Smtpd {
            host: host.clone(),
            proc: None,
            conf,
        }
    }

    pub fn start(&mut self) {
        let proc = self
            .host
            .spawn(Command::new(SMTPD).args(["-d", "-f"]).arg(&self.conf))
            .unwrap();
        self.proc = Some(proc);
        wait_until("smtpd to listen", Duration::from_secs(5), ms(10), || {
            self.host.sh("ss -ltn | grep -q ':25 '").is_ok()
        })
        .unwrap();
    }

    pub fn kill(&mut self) {
        if let Some(p) = self.proc.take() {
            p.kill().unwrap();
        }
        // Its privilege-separated children follow the parent; make sure.
        let _ = self.host.kill_all("smtpd", Signal::SIGKILL);
    }
}
