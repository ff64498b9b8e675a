//! A pidfd: a file descriptor for a process that becomes readable the moment the process
//! exits, whoever its parent is. This is what lets a killed nginx be noticed in microseconds
//! without the kernel's proc connector, which network namespaces and containers refuse.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::unix::AsyncFd;

/// An open pidfd (Linux 5.3 and later).
#[derive(Debug)]
pub struct PidFd(OwnedFd);

impl PidFd {
    /// Open a pidfd for `pid`, as numbered in the caller's PID namespace.
    pub fn open(pid: i32) -> io::Result<PidFd> {
        // SAFETY: pidfd_open takes a pid and a flags word and returns a new descriptor or
        // -1; it reads and writes no memory of ours.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
        // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
        Ok(PidFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Register with the runtime so the exit can be awaited.
    pub fn into_async(self) -> io::Result<AsyncFd<PidFd>> {
        // SAFETY: a PidFd owns its descriptor (an OwnedFd) and returns that same descriptor
        // from as_raw_fd for as long as it lives, which is as long as the AsyncFd.
        unsafe { AsyncFd::register_with_interest(self, tokio::io::Interest::READABLE) }
            .map_err(|e| e.into_parts().1)
    }
}

impl AsRawFd for PidFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Resolves once the process behind `fd` has exited (it may still be an unreaped zombie,
/// which keeps its pid, and so its process group, from being reused).
pub async fn exited(fd: &AsyncFd<PidFd>) -> io::Result<()> {
    // A pidfd stays readable after exit; there is nothing to read or clear.
    let _ready = fd.readable().await?;
    Ok(())
}
