//! One init process per host: PID 1 of the host's own PID namespace, with its own mount namespace
//! (a /proc that shows only the host's processes, a /sys that shows only its interfaces, an
//! empty /run) and its own hostname.
//!
//! The init is cloned straight from the test process, not exec'd from a helper binary, so the
//! lab needs no `unshare`, `tini` or extra executable. After `clone` the child runs only raw
//! system calls (no allocation, no locks), which is what is safe in the child of a
//! multi-threaded process. It then reaps orphans forever: daemons that double-fork (keepalived,
//! nginx) are re-parented to it, and without a reaper their corpses would stay visible as
//! zombies to the very process tracking the tests exercise.
//!
//! Killing the init with SIGKILL makes the kernel kill every process of the host: that is the
//! cleanup backstop. The init also carries a parent-death signal tied to a keeper thread that
//! lives as long as the test process, so a test run killed with SIGKILL takes every host's
//! processes down with it; the named namespaces it leaves are swept by the next lab.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::error::IoContext;
use crate::ns::{Namespaces, open_ns};
use crate::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

/// The keeper thread: the parent of every init, so their parent-death signal fires only when
/// the whole test process ends (the signal follows the creating *thread*, and test threads end
/// early).
static KEEPER: Mutex<Option<mpsc::Sender<Job>>> = Mutex::new(None);

fn on_keeper<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let (reply_tx, reply_rx) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = reply_tx.send(f());
    });
    {
        let mut keeper = KEEPER
            .lock()
            .map_err(|_| Error::invalid("keeper", "lock poisoned"))?;
        if keeper.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("baton-lab-keeper".into())
                .spawn(move || {
                    for job in rx {
                        // A panicking job must not end this thread: its children would die.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .ctx(|| "starting the lab keeper thread".into())?;
            *keeper = Some(tx);
        }
        if let Some(tx) = keeper.as_ref() {
            tx.send(job)
                .map_err(|_| Error::invalid("keeper", "keeper thread is gone"))?;
        }
    }
    reply_rx
        .recv()
        .map_err(|_| Error::invalid("keeper", "keeper thread dropped a job"))
}

/// What the cloned child needs, prepared before the clone so the child allocates nothing.
struct InitArgs {
    net_fd: RawFd,
    ready_fd: RawFd,
    hostname: CString,
}

/// Steps of the init's setup, reported back when one fails.
const STEPS: [&str; 7] = [
    "ok",
    "setting its parent-death signal",
    "entering the network namespace",
    "making mounts private",
    "mounting /proc",
    "mounting a tmpfs on /run",
    "setting the hostname",
];

/// A running init: its pid as the test process sees it, and handles on its namespaces.
#[derive(Debug)]
pub(crate) struct Init {
    pub(crate) pid: Pid,
    pub(crate) ns: Namespaces,
}

/// Start the init of a host whose network namespace is `netns` (a /run/netns path).
pub(crate) fn start(netns: &Path, hostname: &str) -> Result<Init> {
    let net = open_ns(netns)?;
    let hostname =
        CString::new(hostname).map_err(|_| Error::invalid("hostname", "contains a NUL byte"))?;
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .ctx(|| "creating the init's ready pipe".into())?;
    let args = InitArgs {
        net_fd: net.as_raw_fd(),
        ready_fd: ready_w.as_raw_fd(),
        hostname,
    };
    let pid = on_keeper(move || clone_init(args))??;
    drop(ready_w);
    if let Err(e) = wait_ready(&ready_r, pid) {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = reap(pid, Duration::from_secs(2));
        return Err(e);
    }
    let proc_ns = |kind: &str| open_ns(Path::new(&format!("/proc/{pid}/ns/{kind}")));
    let ns = Namespaces {
        net,
        uts: proc_ns("uts")?,
        pid: proc_ns("pid")?,
        mnt: proc_ns("mnt")?,
    };
    Ok(Init { pid, ns })
}

fn clone_init(args: InitArgs) -> Result<Pid> {
    let mut stack = vec![0u8; 256 * 1024];
    let flags = CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS;
    // SAFETY: the child runs `init_main`, which makes only async-signal-safe system calls on
    // memory prepared before the clone, so the state of other threads' locks cannot matter.
    let pid = unsafe {
        nix::sched::clone(
            Box::new(|| init_main(&args)),
            &mut stack,
            flags,
            Some(libc::SIGCHLD),
        )
    };
    pid.ctx(|| "cloning a host init into new PID, mount and UTS namespaces".into())
}

fn wait_ready(ready: &OwnedFd, pid: Pid) -> Result<()> {
    let mut fds = [PollFd::new(ready.as_fd(), PollFlags::POLLIN)];
    let n = poll(&mut fds, PollTimeout::from(5000u16)).ctx(|| "waiting for a host init".into())?;
    if n == 0 {
        return Err(Error::Timeout {
            what: format!("host init {pid} to start"),
            after: Duration::from_secs(5),
            last: None,
        });
    }
    let mut msg = [0u8; 8];
    let len = nix::unistd::read(ready, &mut msg).ctx(|| "reading the init's status".into())?;
    match msg[..len] {
        [b'o', b'k'] => Ok(()),
        [step, e0, e1, e2, e3] => {
            let step = STEPS
                .get(usize::from(step))
                .copied()
                .unwrap_or("an unknown step");
            let errno = Errno::from_raw(i32::from_le_bytes([e0, e1, e2, e3]));
            Err(Error::sys(format!("host init failed {step}"), errno))
        }
        _ => Err(Error::invalid("host init", "exited before it was ready")),
    }
}

/// The body of a host's PID 1. Runs in the freshly cloned child: raw system calls only.
fn init_main(a: &InitArgs) -> isize {
    // SAFETY: plain system calls on valid C strings and file descriptors owned by this process.
    unsafe {
        let fail = |step: u8| -> isize {
            let errno = (*libc::__errno_location()).to_le_bytes();
            let msg = [step, errno[0], errno[1], errno[2], errno[3]];
            libc::write(a.ready_fd, msg.as_ptr().cast(), msg.len());
            1
        };
        let null = std::ptr::null::<libc::c_char>();
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return fail(1);
        }
        if libc::setns(a.net_fd, libc::CLONE_NEWNET) != 0 {
            return fail(2);
        }
        // Private propagation first, so nothing below leaks back into the real machine.
        if libc::mount(
            null,
            c"/".as_ptr(),
            null,
            libc::MS_REC | libc::MS_PRIVATE,
            null.cast(),
        ) != 0
        {
            return fail(3);
        }
        let nosuid = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        if libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            nosuid,
            null.cast(),
        ) != 0
        {
            return fail(4);
        }
        // A sysfs mounted from inside the network namespace lists the host's interfaces only,
        // as `ip netns exec` arranges. Optional: a host without it still works.
        libc::mount(
            c"sysfs".as_ptr(),
            c"/sys".as_ptr(),
            c"sysfs".as_ptr(),
            nosuid,
            null.cast(),
        );
        // The copies of /run/netns/* mounts would pin every lab's namespaces (ours and other
        // tests') for as long as this host lives; a real machine does not see them either.
        libc::umount2(c"/run/netns".as_ptr(), libc::MNT_DETACH);
        // A /run of its own, as every machine has: daemons started with their default pid
        // files (/run/keepalived.pid, /run/nginx.pid) on two hosts must not collide.
        if libc::mount(
            c"tmpfs".as_ptr(),
            c"/run".as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            c"mode=0755,size=64m".as_ptr().cast(),
        ) != 0
        {
            return fail(5);
        }
        let name = a.hostname.as_bytes();
        if libc::sethostname(name.as_ptr().cast(), name.len()) != 0 {
            return fail(6);
        }
        libc::prctl(libc::PR_SET_NAME, c"baton-lab-init".as_ptr());
        libc::write(a.ready_fd, b"ok".as_ptr().cast(), 2);
        // Every descriptor the test process had open was copied into this child; holding, say,
        // the write end of another thread's pipe would keep that reader waiting for ever.
        libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);

        let mut sigchld: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut sigchld);
        libc::sigaddset(&mut sigchld, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &sigchld, std::ptr::null_mut());
        loop {
            while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {}
            // SIGCHLD is blocked, so one arriving between the reap above and this wait stays
            // pending and ends the wait at once.
            libc::sigwaitinfo(&sigchld, std::ptr::null_mut());
        }
    }
}

/// Wait for a child of the test process (an init or a spawned program) to be reaped, polling,
/// for at most `timeout`. Returns false if it is still there.
pub(crate) fn reap(pid: Pid, timeout: Duration) -> Result<bool> {
    let start = Instant::now();
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(_) | Err(Errno::ECHILD) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys(format!("reaping {pid}"), e)),
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
