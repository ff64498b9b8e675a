//! Entering a host's namespaces from a thread of the test process.
//!
//! Linux keeps namespaces per thread, so a fresh thread can `setns` into a host and do there
//! whatever a process on that host could: open sockets (which stay in that namespace after the
//! thread ends), write its sysctls, or spawn a program that is born inside the host's PID
//! namespace. No helper process, no `nsenter` fork chain, and the spawned program stays a direct
//! child of the test, so its exit status and pid are ours to see.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{OFlag, open};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::stat::Mode;

use crate::error::IoContext;
use crate::{Error, Result};

/// Open handles on one host's namespaces; holding them keeps nothing alive that teardown needs
/// gone, because teardown kills the processes first and drops these before deleting the names.
#[derive(Debug)]
pub(crate) struct Namespaces {
    pub(crate) net: OwnedFd,
    pub(crate) uts: OwnedFd,
    pub(crate) pid: OwnedFd,
    pub(crate) mnt: OwnedFd,
}

/// How much of a host a thread enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Network namespace only: sockets, sysctls, netlink.
    Net,
    /// Network, UTS, mount and PID (for children): what a process on the host has.
    Whole,
}

/// Open a namespace file (`/run/netns/x` or `/proc/<pid>/ns/<kind>`).
pub(crate) fn open_ns(path: &Path) -> Result<OwnedFd> {
    open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .ctx(|| format!("opening namespace {}", path.display()))
}

impl Namespaces {
    /// Move the calling thread into these namespaces. Only call this on a thread made for it:
    /// the thread cannot be trusted to come back out.
    pub(crate) fn enter(&self, depth: Depth) -> Result<()> {
        if depth == Depth::Whole {
            // A thread shares its root and cwd with the rest of the process unless it unshares
            // them, and the kernel refuses a mount namespace switch while they are shared.
            unshare(CloneFlags::CLONE_FS).ctx(|| "unsharing the thread's fs context".into())?;
            setns(self.mnt.as_fd(), CloneFlags::CLONE_NEWNS)
                .ctx(|| "entering the host's mount namespace".into())?;
            setns(self.uts.as_fd(), CloneFlags::CLONE_NEWUTS)
                .ctx(|| "entering the host's UTS namespace".into())?;
            setns(self.pid.as_fd(), CloneFlags::CLONE_NEWPID)
                .ctx(|| "entering the host's PID namespace".into())?;
        }
        setns(self.net.as_fd(), CloneFlags::CLONE_NEWNET)
            .ctx(|| "entering the host's network namespace".into())
    }

    /// Run `f` on a fresh thread inside these namespaces and return its result. A panic in `f`
    /// is resumed on the caller's thread.
    pub(crate) fn run<T: Send>(&self, depth: Depth, f: impl FnOnce() -> T + Send) -> Result<T> {
        std::thread::scope(|s| {
            let worker = s.spawn(|| -> Result<T> {
                self.enter(depth)?;
                Ok(f())
            });
            match worker.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// A second set of handles, for a thread that outlives the caller's borrow.
    pub(crate) fn try_clone(&self) -> Result<Namespaces> {
        let dup = |fd: &OwnedFd| {
            fd.try_clone()
                .ctx(|| "duplicating a namespace handle".into())
        };
        Ok(Namespaces {
            net: dup(&self.net)?,
            uts: dup(&self.uts)?,
            pid: dup(&self.pid)?,
            mnt: dup(&self.mnt)?,
        })
    }
}

/// The inode that identifies a namespace, as `readlink /proc/<pid>/ns/<kind>` shows it
/// (`net:[4026532281]`).
pub(crate) fn ns_id(pid: u32, kind: &str) -> Result<String> {
    let link = format!("/proc/{pid}/ns/{kind}");
    std::fs::read_link(&link)
        .ctx(|| format!("reading {link}"))?
        .into_os_string()
        .into_string()
        .map_err(|s| Error::invalid("namespace link", format!("{s:?}")))
}
