//! The terminal, with termios and ANSI sequences: keys without Enter or echo, the alternate screen so the live view redraws in place
//! and the shell's scrollback is left as it was, and a restore that runs on every way out.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::sync::Mutex;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::termios::{self, InputFlags, LocalFlags, SetArg, SpecialCharacterIndices, Termios};

/// What to restore: the terminal's settings before raw mode, and whether the alternate
/// screen is on. Global so the panic hook can restore it.
static SAVED: Mutex<Saved> = Mutex::new(Saved {
    termios: None,
    alternate: false,
});

struct Saved {
    termios: Option<Termios>,
    alternate: bool,
}

/// Enter the alternate screen, hide the cursor.
const ENTER_SCREEN: &str = "\x1b[?1049h\x1b[?25l";
/// Show the cursor, leave the alternate screen.
const LEAVE_SCREEN: &str = "\x1b[?25h\x1b[?1049l";

/// How the demo talks to its user.
#[derive(Debug)]
pub struct Terminal {
    /// Redraw the live view in place (stdout is a terminal).
    pub live: bool,
    /// Single keys can be read (stdin is a terminal, now in raw mode).
    pub keys: bool,
}

impl Terminal {
    /// Take over the terminal as far as there is one.
    pub fn open() -> Terminal {
        let live = std::io::stdout().is_terminal();
        let keys = std::io::stdin().is_terminal() && raw_mode().is_ok();
        if live {
            let mut saved = lock();
            saved.alternate = true;
            let mut out = std::io::stdout();
            let _ = write!(out, "{ENTER_SCREEN}");
            let _ = out.flush();
        }
        Terminal { live, keys }
    }

    /// Rows and columns of the terminal (a classic 24×80 when it cannot tell).
    pub fn size(&self) -> (usize, usize) {
        match terminal_size::terminal_size_of(std::io::stdout()) {
            Some((terminal_size::Width(w), terminal_size::Height(h))) if w > 0 && h > 0 => {
                (usize::from(h), usize::from(w))
            }
            _ => (24, 80),
        }
    }

    /// Draw `lines` over the previous frame.
    pub fn draw(&self, lines: &[String]) {
        let mut frame = String::from("\x1b[H");
        for l in lines {
            frame.push_str(l);
            // Clear what a longer line of the previous frame left.
            frame.push_str("\x1b[K\r\n");
        }
        frame.push_str("\x1b[J");
        let mut out = std::io::stdout();
        let _ = out.write_all(frame.as_bytes());
        let _ = out.flush();
    }

    /// The next key pressed within `wait`, if any.
    pub fn key(&self, wait: Duration) -> Option<u8> {
        if !self.keys {
            std::thread::sleep(wait);
            return None;
        }
        let stdin = std::io::stdin();
        let fd = stdin.as_fd();
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, timeout) {
            Ok(n) if n > 0 => {
                let mut b = [0u8; 1];
                match nix::unistd::read(fd, &mut b) {
                    Ok(1) => Some(b[0]),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        restore();
    }
}

fn lock() -> std::sync::MutexGuard<'static, Saved> {
    SAVED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keys one at a time, unechoed, Ctrl-C as a key; output processing stays on so `\n` still
/// starts a new line.
fn raw_mode() -> nix::Result<()> {
    let stdin = std::io::stdin();
    let before = termios::tcgetattr(stdin.as_fd())?;
    let mut raw = before.clone();
    raw.local_flags &=
        !(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG | LocalFlags::IEXTEN);
    raw.input_flags &= !(InputFlags::IXON | InputFlags::ICRNL);
    raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
    lock().termios = Some(before);
    Ok(())
}

/// Put the terminal back as it was. Idempotent; safe to call from the panic hook.
pub fn restore() {
    let mut saved = match SAVED.try_lock() {
        Ok(s) => s,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return,
    };
    if let Some(t) = saved.termios.take() {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &t);
    }
    if std::mem::take(&mut saved.alternate) {
        let mut out = std::io::stdout();
        let _ = write!(out, "{LEAVE_SCREEN}");
        let _ = out.flush();
    }
}
