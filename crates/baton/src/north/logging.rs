//! Logs through `tracing`: to the console with `-l`, otherwise to syslog (`/dev/log`) with the
//! facility of `-S`, as keepalived does. Messages are worded like keepalived's, so the lines an
//! operator greps for (`Entering MASTER STATE`) stay the same; `-D` adds the detail.
//!
//! The syslog sender is a few lines over a Unix datagram socket rather than libc's `syslog(3)`,
//! so it can be pointed at a test socket and never blocks the runtime: a full or missing syslog
//! drops the line instead of stalling VRRP. The console (`-l`) is written the same way when
//! it can be: standard error reopened as a description of its own (so the non-blocking flag
//! is ours alone), a line dropped when its pipe is full. A socket (journald's stream) cannot
//! be reopened and is written as it is.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Where syslog listens on every Linux system.
pub const SYSLOG_SOCKET: &str = "/dev/log";
/// The program name in syslog lines.
pub const IDENT: &str = "baton";

/// Syslog facility, as `-S` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facility {
    User,
    Daemon,
    /// local0 … local7.
    Local(u8),
}

impl Facility {
    /// The facility code (RFC 5424 §6.2.1).
    pub fn code(self) -> u8 {
        match self {
            Facility::User => 1,
            Facility::Daemon => 3,
            Facility::Local(n) => 16 + n,
        }
    }
}

impl FromStr for Facility {
    type Err = String;

    /// keepalived's spellings: `0`-`7` and `local0`-`local7` are the local facilities, plus
    /// `user` and `daemon`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let local = |d: &str| match d.parse::<u8>() {
            Ok(n) if n <= 7 => Ok(Facility::Local(n)),
            _ => Err(format!(
                "invalid log facility '{s}': expected 0-7, local0-7, user or daemon"
            )),
        };
        match s {
            "user" => Ok(Facility::User),
            "daemon" => Ok(Facility::Daemon),
            _ => match s.strip_prefix("local") {
                Some(d) => local(d),
                None => local(s),
            },
        }
    }
}

/// Syslog severity of a tracing level.
fn severity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Sends each formatted event as one syslog datagram (`<PRI>ident[pid]: message`). syslog
/// daemons stamp the time on receipt when the line carries none.
#[derive(Debug, Clone)]
pub struct SyslogWriter {
    inner: Arc<Syslog>,
}

#[derive(Debug)]
struct Syslog {
    socket: UnixDatagram,
    facility: Facility,
    pid: u32,
}

impl SyslogWriter {
    /// Connect to the syslog socket at `path` (normally [`SYSLOG_SOCKET`]).
    pub fn connect(path: &Path, facility: Facility) -> io::Result<SyslogWriter> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        socket.set_nonblocking(true)?;
        Ok(SyslogWriter {
            inner: Arc::new(Syslog {
                socket,
                facility,
                pid: std::process::id(),
            }),
        })
    }
}

/// One event being formatted; sent when the formatter drops it.
#[derive(Debug)]
pub struct SyslogLine {
    inner: Arc<Syslog>,
    buf: Vec<u8>,
}

impl Write for SyslogLine {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        while self.buf.last().is_some_and(|b| *b == b'\n') {
            self.buf.pop();
        }
        if self.buf.len() > self.header_len() {
            // A lost log line must never stall or kill the daemon: ignore send errors.
            let _ = self.inner.socket.send(&self.buf);
        }
    }
}

impl SyslogLine {
    fn header_len(&self) -> usize {
        // Everything up to and including "]: ".
        self.buf
            .windows(3)
            .position(|w| w == b"]: ")
            .map_or(0, |p| p + 3)
    }
}

impl<'a> MakeWriter<'a> for SyslogWriter {
    type Writer = SyslogLine;

    fn make_writer(&'a self) -> SyslogLine {
        self.line(&Level::INFO)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SyslogLine {
        self.line(meta.level())
    }
}

impl SyslogWriter {
    fn line(&self, level: &Level) -> SyslogLine {
        let pri = u16::from(self.inner.facility.code()) * 8 + u16::from(severity(level));
        let mut buf = Vec::with_capacity(256);
        let _ = write!(buf, "<{pri}>{IDENT}[{}]: ", self.inner.pid);
        SyslogLine {
            inner: self.inner.clone(),
            buf,
        }
    }
}

/// How the daemon logs.
#[derive(Debug, Clone)]
pub struct LogOptions {
    pub console: bool,
    pub detail: bool,
    pub facility: Facility,
    /// The syslog socket; [`SYSLOG_SOCKET`] except in tests.
    pub syslog_socket: PathBuf,
}

/// Install the global subscriber. Without a reachable syslog the daemon falls back to the
/// console and says so once, rather than running blind.
pub fn init(opts: &LogOptions) {
    let level = if opts.detail {
        Level::DEBUG
    } else {
        Level::INFO
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false);
    if !opts.console {
        match SyslogWriter::connect(&opts.syslog_socket, opts.facility) {
            Ok(w) => {
                let _ = builder
                    .without_time()
                    .with_level(false)
                    .with_writer(w)
                    .try_init();
                return;
            }
            Err(e) => eprintln!(
                "{IDENT}: cannot reach syslog at {}: {e}; logging to the console",
                opts.syslog_socket.display()
            ),
        }
    }
    let _ = builder.with_writer(ConsoleWriter::open()).try_init();
}

/// Standard error, written without waiting: a pipe, tty or file is reopened non-blocking; a
/// socket (journald's stream, under systemd) cannot be reopened, so each line is sent with
/// `MSG_DONTWAIT` instead.
#[derive(Debug, Clone)]
pub struct ConsoleWriter {
    out: Console,
}

#[derive(Debug, Clone)]
enum Console {
    /// A non-blocking description of standard error's pipe, tty or file.
    Own(Arc<std::fs::File>),
    /// Standard error (this descriptor) is a socket.
    Socket(std::os::fd::RawFd),
    /// Neither: the inherited descriptor, written as it is.
    Inherited,
}

impl ConsoleWriter {
    pub fn open() -> ConsoleWriter {
        use std::os::unix::fs::OpenOptionsExt;
        let own = std::fs::OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
            .open("/proc/self/fd/2");
        let out = match own {
            Ok(f) => Console::Own(Arc::new(f)),
            Err(_) if stderr_is_socket() => Console::Socket(libc::STDERR_FILENO),
            Err(_) => Console::Inherited,
        };
        ConsoleWriter { out }
    }
}

fn stderr_is_socket() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/proc/self/fd/2").is_ok_and(|m| m.file_type().is_socket())
}

/// One event, written whole when its formatting is done.
#[derive(Debug)]
pub struct ConsoleLine {
    out: Console,
    buf: Vec<u8>,
}

impl Write for ConsoleLine {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ConsoleLine {
    fn drop(&mut self) {
        // A line that does not fit now is lost rather than waited for.
        let _ = match &self.out {
            Console::Own(f) => (&**f).write(&self.buf).map(drop),
            Console::Socket(fd) => {
                use nix::sys::socket::{MsgFlags, send};
                send(
                    *fd,
                    &self.buf,
                    MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
                )
                .map(drop)
                .map_err(io::Error::from)
            }
            Console::Inherited => io::stderr().write_all(&self.buf),
        };
    }
}

impl<'a> MakeWriter<'a> for ConsoleWriter {
    type Writer = ConsoleLine;

    fn make_writer(&'a self) -> ConsoleLine {
        ConsoleLine {
            out: self.out.clone(),
            buf: Vec::with_capacity(256),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;

    #[test]
    fn facilities_parse_like_keepalived() {
        assert_eq!("0".parse(), Ok(Facility::Local(0)));
        assert_eq!("7".parse(), Ok(Facility::Local(7)));
        assert_eq!("local4".parse(), Ok(Facility::Local(4)));
        assert_eq!("daemon".parse(), Ok(Facility::Daemon));
        assert_eq!("user".parse(), Ok(Facility::User));
        assert!("local8".parse::<Facility>().is_err());
        assert!("kern".parse::<Facility>().is_err());
        assert!("".parse::<Facility>().is_err());
        assert_eq!(Facility::Daemon.code(), 3);
        assert_eq!(Facility::Local(3).code(), 19);
    }

    #[test]
    fn syslog_lines_carry_facility_severity_ident_and_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let server = UnixDatagram::bind(&path).unwrap();
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let writer = SyslogWriter::connect(&path, Facility::Local(2)).unwrap();
        let subscriber = tracing_subscriber::fmt()
            .with_target(false)
            .with_ansi(false)
            .without_time()
            .with_level(false)
            .with_writer(writer)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("(VI_1) Entering FAULT STATE");
            tracing::info!("(VI_1) Entering MASTER STATE");
        });
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        let pid = std::process::id();
        // local2 = 18; 18 * 8 + warning (4) = 148.
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            format!("<148>baton[{pid}]: (VI_1) Entering FAULT STATE")
        );
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            format!("<150>baton[{pid}]: (VI_1) Entering MASTER STATE")
        );
    }

    #[test]
    fn the_console_drops_a_line_rather_than_wait_for_a_full_pipe() {
        use std::os::fd::AsRawFd;
        // A pipe nobody reads, standing in for standard error.
        let (read, write) = nix::unistd::pipe().unwrap();
        let file = std::fs::OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(format!("/proc/self/fd/{}", write.as_raw_fd()))
            .unwrap();
        let console = ConsoleWriter {
            out: Console::Own(Arc::new(file)),
        };
        let t = std::time::Instant::now();
        // Far more than a pipe holds (64 KiB).
        for _ in 0..10_000 {
            let mut line = console.make_writer();
            line.write_all(&[b'x'; 100]).unwrap();
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        // The inherited descriptor stays blocking for whoever else holds it.
        let flags = nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_GETFL).unwrap();
        assert_eq!(flags & libc::O_NONBLOCK, 0);
        drop(read);
    }

    #[test]
    fn the_console_drops_a_line_rather_than_wait_for_a_full_socket() {
        use std::os::fd::AsRawFd;
        // journald's stream socket, standing in for standard error, read by nobody.
        let (ours, _journald) = std::os::unix::net::UnixStream::pair().unwrap();
        let console = ConsoleWriter {
            out: Console::Socket(ours.as_raw_fd()),
        };
        let t = std::time::Instant::now();
        // Far more than a socket's buffer holds.
        for _ in 0..50_000 {
            let mut line = console.make_writer();
            line.write_all(&[b'x'; 100]).unwrap();
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        // The socket itself stays blocking for whoever else holds it.
        let flags = nix::fcntl::fcntl(&ours, nix::fcntl::FcntlArg::F_GETFL).unwrap();
        assert_eq!(flags & libc::O_NONBLOCK, 0);
    }

    #[test]
    fn missing_syslog_socket_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SyslogWriter::connect(&dir.path().join("nothing"), Facility::Daemon).is_err());
    }
}
