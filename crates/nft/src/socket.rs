//! The netlink socket to nf_tables: sends a batch and reads the kernel's answer to each of
//! its messages.
//!
//! The kernel runs a batch inside `sendmsg` itself, so when `send` returns every answer is
//! already queued on the socket: they are read without blocking until the queue is empty.

use std::io;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_netfilter::nftables::{NfTablesMessage, RuleAttribute, RuleMessage};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

use crate::batch::{Batch, TableId};

/// One message of a batch that the kernel refused, by its index in the batch.
#[derive(Debug)]
pub struct Refusal {
    pub index: usize,
    pub error: io::Error,
}

/// Why a batch did not commit.
#[derive(Debug)]
pub enum BatchFailure {
    /// The kernel refused these messages (and so the whole batch).
    Refused(Vec<Refusal>),
    /// The socket itself failed, or the kernel said something that is not an answer.
    Io(io::Error),
}

/// A netlink socket bound to nf_tables in the network namespace it was opened in.
#[derive(Debug)]
pub struct NftSocket {
    sock: Socket,
    seq: u32,
    sndbuf: usize,
}

/// Answers to a large batch must fit in the receive queue: one acknowledgement (36 bytes)
/// per message.
const RCVBUF: usize = 4 << 20;

impl NftSocket {
    /// Open a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<NftSocket> {
        let mut sock = Socket::new(NETLINK_NETFILTER)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        set_buf(&sock, Buffer::Receive, RCVBUF);
        // Starting numbers differ between sockets so a stray answer is not mistaken.
        let seq = std::process::id().wrapping_mul(2_654_435_761);
        Ok(NftSocket {
            sock,
            seq,
            sndbuf: 0,
        })
    }

    /// Send one batch; `Ok` once the kernel committed it.
    pub fn commit(&mut self, batch: &Batch) -> Result<(), BatchFailure> {
        if batch.is_empty() {
            return Ok(());
        }
        let first = self.seq;
        self.seq = self.seq.wrapping_add(batch.seq_span());
        let bytes = batch.encode(first);
        if bytes.len() + 4096 > self.sndbuf {
            // A batch goes in one sendmsg, which may not exceed the send buffer.
            let want = (bytes.len() + 4096).max(1 << 20);
            set_buf(&self.sock, Buffer::Send, want);
            self.sndbuf = want;
        }
        self.drain_stale();
        let sent = self.sock.send(&bytes, 0).map_err(BatchFailure::Io)?;
        if sent != bytes.len() {
            return Err(BatchFailure::Io(io::Error::other(format!(
                "netlink sent {sent} of {} bytes",
                bytes.len()
            ))));
        }
        let mut refused = Vec::new();
        let mut answered = 0usize;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match self.sock.recv(&mut &mut buf[..], libc::MSG_DONTWAIT) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(BatchFailure::Io(e)),
            };
            let mut off = 0;
            while off < n {
                let msg = NetlinkMessage::<NetfilterMessage>::deserialize(&buf[off..n])
                    .map_err(|e| BatchFailure::Io(io::Error::other(e.to_string())))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
                let seq = msg.header.sequence_number.wrapping_sub(first);
                if let NetlinkPayload::Error(err) = msg.payload {
                    // Index 0 is the batch begin; messages count from 1.
                    if seq == 0 || seq as usize > batch.len() + 1 {
                        if err.code.is_some() {
                            return Err(BatchFailure::Io(err.to_io()));
                        }
                        continue;
                    }
                    answered += 1;
                    if err.code.is_some() {
                        refused.push(Refusal {
                            index: seq as usize - 1,
                            error: err.to_io(),
                        });
                    }
                }
            }
        }
        if !refused.is_empty() {
            return Err(BatchFailure::Refused(refused));
        }
        if answered < batch.len() {
            return Err(BatchFailure::Io(io::Error::other(format!(
                "nf_tables answered {answered} of {} messages",
                batch.len()
            ))));
        }
        Ok(())
    }

    /// The rules of one chain as the kernel holds them now, their counters' values included
    /// (each rule's attributes: table, chain, handle, expressions).
    pub fn rules(&mut self, t: &TableId, chain: &str) -> io::Result<Vec<Vec<RuleAttribute>>> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = seq;
        let request = NfTablesMessage::GetRule(RuleMessage {
            attributes: vec![
                RuleAttribute::Table(t.name.clone()),
                RuleAttribute::Chain(chain.to_string()),
            ],
        });
        let mut msg = NetlinkMessage::new(
            header,
            NetlinkPayload::InnerMessage(NetfilterMessage::new(
                NetfilterHeader::new(NetfilterProtoFamily::from(t.family as u8), 0, 0),
                request,
            )),
        );
        msg.finalize();
        let mut bytes = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut bytes);
        self.drain_stale();
        self.sock.send(&bytes, 0)?;
        // A dump ends with NLMSG_DONE, or an error; until then the kernel fills each read.
        let mut rules = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = self.sock.recv(&mut &mut buf[..], 0)?;
            let mut off = 0;
            while off < n {
                let msg = NetlinkMessage::<NetfilterMessage>::deserialize(&buf[off..n])
                    .map_err(|e| io::Error::other(e.to_string()))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    return Err(io::Error::other("nf_tables sent an empty message"));
                }
                off += (len + 3) & !3;
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Done(_) => return Ok(rules),
                    NetlinkPayload::Error(err) if err.code.is_some() => return Err(err.to_io()),
                    NetlinkPayload::InnerMessage(NetfilterMessage {
                        inner: NetfilterMessageInner::NfTables(NfTablesMessage::NewRule(rule)),
                        ..
                    }) => rules.push(rule.attributes),
                    _ => {}
                }
            }
        }
    }

    /// Throw away anything left from an earlier exchange.
    fn drain_stale(&mut self) {
        let mut buf = vec![0u8; 8192];
        while self
            .sock
            .recv(&mut &mut buf[..], libc::MSG_DONTWAIT)
            .is_ok()
        {}
    }
}

#[derive(Clone, Copy)]
enum Buffer {
    Send,
    Receive,
}

/// Raise a socket buffer: the FORCE option (CAP_NET_ADMIN) passes the system's cap; without
/// the capability the plain option gets what the cap allows.
fn set_buf(sock: &Socket, which: Buffer, size: usize) {
    use nix::sys::socket::{setsockopt, sockopt};
    let forced = match which {
        Buffer::Send => setsockopt(sock, sockopt::SndBufForce, &size),
        Buffer::Receive => setsockopt(sock, sockopt::RcvBufForce, &size),
    };
    if forced.is_err() {
        // Best effort: a small buffer only limits how large a batch can be.
        let _ = match which {
            Buffer::Send => setsockopt(sock, sockopt::SndBuf, &size),
            Buffer::Receive => setsockopt(sock, sockopt::RcvBuf, &size),
        };
    }
}
