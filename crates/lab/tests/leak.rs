//! A lab leaks nothing: no namespace, no link in the machine's own namespace, no process, no
//! file — whether the test ends normally, panics, or is killed outright (then the next lab
//! sweeps what is left). Root only; skipped with a reason otherwise.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use baton_lab::{HostSpec, Lab, Probe, ms, secs, wait_until};

/// The tests here sweep and count namespaces: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// What a lab occupied, recorded while it ran.
#[derive(Debug)]
struct Footprint {
    id: String,
    /// Namespace ids (`net:[...]`, `pid:[...]`, `mnt:[...]`, `uts:[...]`) of every node.
    namespaces: BTreeSet<String>,
    inits: Vec<u32>,
    dir: PathBuf,
}

impl Footprint {
    fn to_line(&self) -> String {
        let inits: Vec<String> = self.inits.iter().map(u32::to_string).collect();
        let ns: Vec<&str> = self.namespaces.iter().map(String::as_str).collect();
        format!(
            "FOOTPRINT {} {} {} {}",
            self.id,
            inits.join(","),
            ns.join(","),
            self.dir.display()
        )
    }

    fn from_line(line: &str) -> Footprint {
        let f: Vec<&str> = line.split(' ').collect();
        Footprint {
            id: f[1].to_string(),
            inits: f[2].split(',').map(|p| p.parse().unwrap()).collect(),
            namespaces: f[3].split(',').map(String::from).collect(),
            dir: PathBuf::from(f[4]),
        }
    }
}

/// A lab doing what tests do: hosts with programs, a daemon, a capture, a probe and a fault.
fn busy_lab(name: &str) -> (Lab, Footprint, Vec<Box<dyn std::any::Any>>) {
    let lab = Lab::new(name).unwrap();
    let a = lab
        .add_host(HostSpec::new("a").addr("10.7.0.1/24").addr("fd00:7::1/64"))
        .unwrap();
    let b = lab
        .add_host(HostSpec::new("b").ifname("ens33").addr("10.7.0.2/24"))
        .unwrap();
    let sleeper = a.spawn(Command::new("sleep").arg("1000")).unwrap();
    b.sh("sleep 1000 </dev/null >/dev/null 2>&1 &").unwrap();
    let capture = lab.capture_segment("lan", "").unwrap();
    let prober = a
        .start_probe(Probe::arp("eth0", "10.7.0.2").unwrap(), ms(1))
        .unwrap();
    let fault = b.drop_ip_protocol(112).unwrap();
    let socket = b
        .in_netns(|| std::net::UdpSocket::bind("10.7.0.2:0"))
        .unwrap()
        .unwrap();
    prober
        .wait_for("b to answer", secs(2), |s| s.answered())
        .unwrap();

    let mut namespaces = BTreeSet::new();
    let mut inits = Vec::new();
    for host in [lab.switch().unwrap(), a.clone(), b.clone()] {
        inits.push(host.init_pid());
        for kind in ["net", "pid", "mnt", "uts"] {
            let link = std::fs::read_link(format!("/proc/{}/ns/{kind}", host.init_pid())).unwrap();
            namespaces.insert(link.into_os_string().into_string().unwrap());
        }
    }
    let footprint = Footprint {
        id: lab.id().to_string(),
        namespaces,
        inits,
        dir: lab.dir().to_path_buf(),
    };
    assert!(footprint.dir.exists());
    assert_eq!(netns_of(&footprint.id).len(), 3);
    let handles: Vec<Box<dyn std::any::Any>> = vec![
        Box::new(sleeper),
        Box::new(capture),
        Box::new(prober),
        Box::new(fault),
        Box::new(socket),
        Box::new((a, b)),
    ];
    (lab, footprint, handles)
}

/// Named network namespaces of a lab.
fn netns_of(id: &str) -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(id))
                .collect()
        })
        .unwrap_or_default()
}

/// (name, kind, alias) of every link in the machine's own network namespace.
fn root_links() -> BTreeSet<(String, String, String)> {
    let out = Command::new("ip")
        .args(["-d", "-j", "link", "show"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let s = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_string();
            (
                s(&l["ifname"]),
                s(&l["linkinfo"]["info_kind"]),
                s(&l["ifalias"]),
            )
        })
        .collect()
}

/// Which processes or threads (any, including this test's) are in one of `namespaces`, and
/// which of this process's descriptors hold one.
fn users_of(namespaces: &BTreeSet<String>) -> Vec<String> {
    let mut users = Vec::new();
    let held = |link: &Path| {
        std::fs::read_link(link)
            .ok()
            .and_then(|l| l.into_os_string().into_string().ok())
    };
    for proc_entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = proc_entry.file_name();
        let Some(pid) = pid
            .to_str()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(tasks) = std::fs::read_dir(proc_entry.path().join("task")) else {
            continue;
        };
        for task in tasks.flatten() {
            for kind in ["net", "pid", "mnt", "uts"] {
                if let Some(ns) =
                    held(&task.path().join("ns").join(kind)).filter(|ns| namespaces.contains(ns))
                {
                    users.push(format!("pid {pid} task {:?} in {ns}", task.file_name()));
                }
            }
        }
    }
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Some(ns) = held(&fd.path()).filter(|ns| namespaces.contains(ns)) {
            users.push(format!("this process's fd {:?} holds {ns}", fd.file_name()));
        }
    }
    users
}

/// Everything the footprint names is gone, and the machine's own links are as they were.
fn assert_nothing_left(fp: &Footprint, links_before: &BTreeSet<(String, String, String)>) {
    // Threads of probes notice their stop flag within a round; after a killed run, the
    // machine's PID 1 reaps what the run left, at its own pace. Allow for both.
    wait_until(
        "no process, thread or descriptor to use the lab's namespaces",
        secs(20),
        ms(5),
        || users_of(&fp.namespaces).is_empty(),
    )
    .map_err(|e| format!("{e}: {:?}", users_of(&fp.namespaces)))
    .unwrap();
    for init in &fp.inits {
        let ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).ok();
        assert!(
            ns.is_none_or(|ns| !fp.namespaces.contains(ns.to_str().unwrap())),
            "init {init} lives"
        );
    }
    assert_eq!(netns_of(&fp.id), Vec::<String>::new(), "namespaces left");
    assert!(!fp.dir.exists(), "{} left", fp.dir.display());
    let after = root_links();
    let tagged: Vec<_> = after
        .iter()
        .filter(|(_, _, alias)| alias.starts_with(&fp.id))
        .collect();
    assert!(
        tagged.is_empty(),
        "lab links in the root namespace: {tagged:?}"
    );
    let new: Vec<_> = after
        .difference(links_before)
        .filter(|(_, kind, _)| kind == "veth" || kind == "bridge")
        .collect();
    assert!(
        new.is_empty(),
        "new veth or bridge in the root namespace: {new:?}"
    );
}

#[test]
fn dropping_a_lab_leaves_nothing() {
    if !baton_lab::require_root() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let links_before = root_links();
    let (lab, footprint, handles) = busy_lab("leak-drop");
    // The handles outlive the lab on purpose: teardown must not depend on them.
    drop(lab);
    assert_nothing_left(&footprint, &links_before);
    drop(handles);
}

#[test]
fn a_panicking_test_leaves_nothing() {
    if !baton_lab::require_root() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let links_before = root_links();
    let footprint = Mutex::new(None);
    let outcome = std::panic::catch_unwind(|| {
        let (_lab, fp, _handles) = busy_lab("leak-panic");
        *footprint.lock().unwrap() = Some(fp);
        panic!("the test body fails with the lab running");
    });
    assert!(outcome.is_err());
    let footprint = footprint.into_inner().unwrap().unwrap();
    assert_nothing_left(&footprint, &links_before);
}

const CHILD_ENV: &str = "BATON_LAB_LEAK_CHILD";

/// Not a test of its own: the body of the process `a_killed_test_run_is_swept_by_the_next_lab`
/// kills. It builds a busy lab, reports its footprint and waits to be killed.
#[test]
#[ignore = "run by a_killed_test_run_is_swept_by_the_next_lab in a child process"]
fn child_holds_a_lab_until_killed() {
    if std::env::var_os(CHILD_ENV).is_none() {
        eprintln!("skipping child_holds_a_lab_until_killed: only meaningful as a child process");
        return;
    }
    let (_lab, footprint, _handles) = busy_lab("leak-kill");
    println!("{}", footprint.to_line());
    std::thread::sleep(secs(60));
}

#[test]
fn a_killed_test_run_is_swept_by_the_next_lab() {
    if !baton_lab::require_root() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let links_before = root_links();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_holds_a_lab_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let line = stdout
        .lines()
        .map(Result::unwrap)
        .find(|l| l.starts_with("FOOTPRINT "))
        .unwrap();
    let footprint = Footprint::from_line(&line);
    child.kill().unwrap(); // SIGKILL: no unwinding, no Drop.
    child.wait().unwrap();

    // The hosts' processes died with the test process (parent-death signal of their inits) ...
    // The kernel lets an init finish exiting only once the test process's own children on its
    // host are reaped; they now belong to the machine's PID 1, which may reap slowly.
    wait_until("the killed run's processes to die", secs(20), ms(5), || {
        footprint
            .inits
            .iter()
            .all(|pid| !Path::new(&format!("/proc/{pid}")).exists())
    })
    .unwrap();
    // ... but its named namespaces and directory are still there,
    assert_eq!(netns_of(&footprint.id).len(), 3);
    assert!(footprint.dir.exists());
    // until the next lab sweeps them (as it is made). It goes before the check: the kernel
    // reuses a freed namespace's inode number, so its own new namespaces could carry the
    // killed run's numbers and pass for users of them.
    let next = Lab::new("sweeper").unwrap();
    drop(next);
    assert_nothing_left(&footprint, &links_before);
}
