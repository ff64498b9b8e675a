//! `baton status --watch`: the status table, asked again every interval and redrawn in
//! place. Each frame moves the cursor home and overwrites the previous one line by line,
//! clearing only what is left of each line and below the last, so the screen never goes
//! blank between frames (the flicker of `watch baton status`). On a terminal it uses the
//! alternate screen, like `top`, and gives the screen back on Ctrl-C or SIGTERM; when
//! standard output is not a terminal each frame is printed after the last.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::north::control::{self, Request};
use crate::north::status::render_table;

const HOME: &str = "\x1b[H";
const CLEAR_LINE_END: &str = "\x1b[K";
const CLEAR_BELOW: &str = "\x1b[J";
const ENTER: &str = "\x1b[?1049h\x1b[?25l\x1b[2J";
const LEAVE: &str = "\x1b[?25h\x1b[?1049l";

/// One frame for a terminal: home, each line overwritten and its tail cleared, the rest of
/// the screen below cleared.
pub fn frame(text: &str) -> String {
    let mut o = String::with_capacity(text.len() + 256);
    o.push_str(HOME);
    for line in text.lines() {
        o.push_str(line);
        o.push_str(CLEAR_LINE_END);
        o.push_str("\r\n");
    }
    o.push_str(CLEAR_BELOW);
    o
}

/// The text of one frame: a header line and the table, or why there is none.
pub fn page(
    control_socket: &Path,
    every: Duration,
    answer: Result<serde_json::Value, String>,
) -> String {
    let now = crate::north::page::utc(std::time::SystemTime::now());
    let mut t = format!(
        "Every {:.1}s: baton status -- {}    {now}\n\n",
        every.as_secs_f64(),
        control_socket.display()
    );
    match answer {
        Ok(v) => t.push_str(&render_table(&v)),
        Err(e) => t.push_str(&format!(
            "no answer: {e}\n(is the daemon running with this pid file or -p?)\n"
        )),
    }
    t
}

/// Run until interrupted.
pub fn run(control_socket: &Path, every: Duration) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("baton status: {e}");
            return ExitCode::from(1);
        }
    };
    let tty = std::io::stdout().is_terminal();
    rt.block_on(async {
        let mut stop = match (
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()),
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()),
        ) {
            (Ok(i), Ok(t)) => (i, t),
            _ => {
                eprintln!("baton status: cannot install signal handlers");
                return ExitCode::from(1);
            }
        };
        let mut out = std::io::stdout().lock();
        if tty && out.write_all(ENTER.as_bytes()).is_err() {
            return ExitCode::from(1);
        }
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let code = loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.0.recv() => break ExitCode::SUCCESS,
                _ = stop.1.recv() => break ExitCode::SUCCESS,
            }
            let answer = control::request(control_socket, &Request::Status)
                .await
                .map_err(|e| e.to_string());
            let text = page(control_socket, every, answer);
            let bytes = if tty {
                frame(&text)
            } else {
                format!("{text}\n")
            };
            if out
                .write_all(bytes.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                // The reader went away (a closed pipe): nothing left to show.
                break ExitCode::SUCCESS;
            }
        };
        if tty {
            let _ = out.write_all(LEAVE.as_bytes());
            let _ = out.flush();
        }
        code
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_overwrites_in_place_without_clearing_the_screen() {
        let f = frame("INSTANCE  STATE\nVI_1      MASTER\n");
        assert!(f.starts_with(HOME), "{f:?}");
        assert!(
            !f.contains("\x1b[2J"),
            "a full clear between frames flickers: {f:?}"
        );
        assert_eq!(
            f,
            "\x1b[HINSTANCE  STATE\x1b[K\r\nVI_1      MASTER\x1b[K\r\n\x1b[J"
        );
    }

    #[test]
    fn the_page_has_a_header_and_says_when_there_is_no_answer() {
        let p = page(
            Path::new("/run/k.sock"),
            Duration::from_secs(1),
            Err("connection refused".into()),
        );
        let lines: Vec<&str> = p.lines().collect();
        assert!(
            lines[0].starts_with("Every 1.0s: baton status -- /run/k.sock"),
            "{p}"
        );
        assert_eq!(lines[2], "no answer: connection refused");
        let p = page(
            Path::new("/run/k.sock"),
            Duration::from_millis(500),
            Ok(serde_json::json!({"instances": [{"name": "VI_1", "state": "Master"}]})),
        );
        assert!(
            p.lines()
                .any(|l| l.starts_with("VI_1") && l.contains("MASTER")),
            "{p}"
        );
    }
}
