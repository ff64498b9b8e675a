//! The machine a run happened on, for the report.

use std::process::Command;

#[derive(Debug, Clone)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub memory: String,
    pub keepalived: String,
    pub nginx: String,
    pub baton: String,
    pub date: String,
    pub load: String,
}

fn output(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(o) => {
            let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&o.stderr));
            text.trim().to_string()
        }
        Err(e) => format!("({program}: {e})"),
    }
}

fn proc_field(file: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

impl Machine {
    pub fn probe(baton: &std::path::Path) -> Machine {
        let commit = output(
            "git",
            &[
                "-C",
                &crate::opts::repo_root().to_string_lossy(),
                "describe",
                "--always",
                "--dirty",
            ],
        );
        Machine {
            cpu: proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into()),
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel: output("uname", &["-sr"]),
            memory: proc_field("/proc/meminfo", "MemTotal")
                .and_then(|m| m.trim_end_matches(" kB").trim().parse::<f64>().ok())
                .map_or_else(
                    || "unknown".into(),
                    |kb| format!("{:.1} GiB", kb / 1048576.0),
                ),
            keepalived: output("keepalived", &["--version"])
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            nginx: output("/usr/sbin/nginx", &["-v"]),
            baton: format!(
                "{} (commit {commit})",
                output(&baton.to_string_lossy(), &["--version"])
            ),
            date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            load: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    pub fn markdown(&self) -> String {
        format!(
            "| | |\n|---|---|\n| CPU | {} |\n| cores | {} |\n| memory | {} |\n| kernel | {} |\n| keepalived | {} |\n| nginx | {} |\n| baton | {} |\n| date | {} |\n| load average at start | {} |\n",
            self.cpu,
            self.cores,
            self.memory,
            self.kernel,
            self.keepalived,
            self.nginx,
            self.baton,
            self.date,
            self.load
        )
    }
}
