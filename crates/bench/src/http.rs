//! An HTTP prober on the client host: a fresh connection to the VIP every millisecond, noting
//! which load balancer answered (each nginx answers with its host name) and when.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use anyhow::{Result, anyhow};
use baton_lab::Host;

/// One answered request.
#[derive(Debug, Clone)]
pub struct Answer {
    /// When the answer had arrived.
    pub at: SystemTime,
    /// The body, trimmed: the name of the host that served it.
    pub from: String,
}

#[derive(Debug)]
pub struct HttpProbe {
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<Answer>>>,
    threads: Vec<JoinHandle<Result<()>>>,
}

/// Connect and read deadlines: far above the lab's round trip (tens of µs), short enough that
/// a SYN sent to a host that no longer holds the VIP costs only a few ms.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(5);
const READ_TIMEOUT: Duration = Duration::from_millis(50);
/// Probing threads. A request stuck on its connect deadline would blind a single prober
/// for 5 ms; with several, staggered, a request starts about every `pause / THREADS`.
const THREADS: u32 = 4;

impl HttpProbe {
    pub fn start(client: &Host, target: SocketAddr, pause: Duration) -> HttpProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..THREADS)
            .map(|i| {
                let (client, s, a) = (client.clone(), stop.clone(), answers.clone());
                std::thread::spawn(move || {
                    std::thread::sleep(pause * i / THREADS);
                    client
                        .in_netns(move || {
                            while !s.load(Ordering::Relaxed) {
                                if let Some(from) = get(target) {
                                    let at = SystemTime::now();
                                    if let Ok(mut list) = a.lock() {
                                        list.push(Answer { at, from });
                                    }
                                }
                                std::thread::sleep(pause);
                            }
                        })
                        .map_err(|e| anyhow!("HTTP probe on {}: {e}", client.name()))
                })
            })
            .collect();
        HttpProbe {
            stop,
            answers,
            threads,
        }
    }

    /// The first answer from `who` at or after `t`.
    pub fn first_from(&self, who: &str, t: SystemTime) -> Option<Answer> {
        // Threads append in their own order: the earliest, not the first listed.
        self.answers
            .lock()
            .ok()?
            .iter()
            .filter(|a| a.at >= t && a.from == who)
            .min_by_key(|a| a.at)
            .cloned()
    }

    pub fn stop(mut self) -> Result<Vec<Answer>> {
        self.halt()?;
        Ok(self.answers.lock().map(|l| l.clone()).unwrap_or_default())
    }

    fn halt(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join()
                .map_err(|_| anyhow!("HTTP probe thread panicked"))??;
        }
        Ok(())
    }
}

impl Drop for HttpProbe {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// One GET from `client` (inside its network namespace: the lab's addresses exist only
/// there); the trimmed body of a 200 answer.
pub fn get_from(client: &Host, target: SocketAddr) -> Result<Option<String>> {
    client
        .in_netns(|| get(target))
        .map_err(|e| anyhow!("GET from {}: {e}", client.name()))
}

/// One GET on a fresh connection from the calling thread's network namespace.
fn get(target: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT).ok()?;
    s.set_read_timeout(Some(READ_TIMEOUT)).ok()?;
    s.set_write_timeout(Some(READ_TIMEOUT)).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n").ok()?;
    let mut buf = Vec::with_capacity(512);
    s.take(64 * 1024).read_to_end(&mut buf).ok()?;
    body_of_ok(&buf)
}

fn body_of_ok(response: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.lines().next()?;
    status
        .split_whitespace()
        .nth(1)
        .filter(|code| *code == "200")?;
    Some(body.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_200_has_a_body() {
        let ok = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 4\r\n\r\nlb2\n";
        assert_eq!(body_of_ok(ok).as_deref(), Some("lb2"));
        let bad = b"HTTP/1.1 502 Bad Gateway\r\n\r\nno";
        assert_eq!(body_of_ok(bad), None);
        assert_eq!(body_of_ok(b"garbage"), None);
    }
}
