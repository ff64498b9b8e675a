//! The adverts of one batch of actions, built back to back into one buffer and handed to the
//! kernel together (`sendmmsg`), one system call per socket and batch rather than one per
//! advert. With thousands of instances a master sends hundreds of adverts per wake-up, all
//! due within the same millisecond; each costs the kernel's work on the packet and nothing
//! more. Order is kept: a batch goes out before any other action runs, so an advert is never
//! overtaken by the address change or notification the core asked for after it.

use std::time::Duration;

use baton_vrrp::{Destination, SendAdvert};

use super::Daemon;
use crate::south::sockets::QueuedAdvert;
use crate::south::vrrp_socket::{MAX_BATCH, Outgoing};

/// Room for the adverts of one batch beyond the largest single one: about a hundred adverts
/// with a few VIPs each.
const BATCH_ROOM: usize = 8 * 1024;

/// Adverts built and not yet sent, all for one socket.
#[derive(Debug)]
pub(super) struct AdvertBatch {
    buf: Box<[u8]>,
    used: usize,
    /// The endpoint (see `Sockets::get_mut`) every queued advert goes out on.
    endpoint: Option<usize>,
    queued: Vec<QueuedAdvert>,
    /// The realtime clock, read once per batch and only for `auth_hmac` signing.
    unix_time: Option<Duration>,
    /// Each instance's endpoint, by instance index, once looked up: finding it by interface
    /// name for every advert cost a master of thousands of instances a twentieth of its
    /// CPU. Forgotten when the sockets are planned again (a reload).
    endpoint_of: Vec<Option<usize>>,
}

impl AdvertBatch {
    pub(super) fn new() -> AdvertBatch {
        AdvertBatch {
            buf: vec![0u8; BATCH_ROOM + super::SEND_BUFFER].into_boxed_slice(),
            used: 0,
            endpoint: None,
            queued: Vec::with_capacity(MAX_BATCH),
            unix_time: None,
            endpoint_of: Vec::new(),
        }
    }

    /// The sockets were planned again: every instance's endpoint is looked up afresh.
    pub(super) fn forget_endpoints(&mut self) {
        self.endpoint_of = Vec::new();
    }

    fn full(&self) -> bool {
        self.queued.len() >= MAX_BATCH || self.buf.len() - self.used < super::SEND_BUFFER
    }
}

impl Daemon {
    /// Build the advert `s` asks for into the batch; the batch is sent first if it is full or
    /// for another socket.
    pub(super) async fn queue_advert(&mut self, s: SendAdvert) {
        let Some(inst) = self.node.instance(s.instance) else {
            return;
        };
        let index = s.instance.0 as usize;
        let known = self.adverts.endpoint_of.get(index).copied().flatten();
        let Some(endpoint) = known.or_else(|| {
            self.sockets
                .position(inst.advert_interface(), inst.family())
        }) else {
            tracing::warn!(
                "({}) no VRRP socket for {} ({})",
                inst.name(),
                inst.advert_interface(),
                inst.family()
            );
            return;
        };
        if known.is_none() {
            let of = &mut self.adverts.endpoint_of;
            if of.len() <= index {
                of.resize(self.node.instances().len().max(index + 1), None);
            }
            of[index] = Some(endpoint);
        }
        if self.adverts.endpoint != Some(endpoint) || self.adverts.full() {
            self.flush_adverts().await;
        }
        let b = &mut self.adverts;
        b.endpoint = Some(endpoint);
        let unix_time = *b.unix_time.get_or_insert_with(super::clock::unix_time);
        // Signing (auth_hmac) advances the instance's sequence, so the core builds it.
        let built = self.node.emit_advert(&s, unix_time, &mut b.buf[b.used..]);
        let n = match built {
            Ok(n) => n,
            Err(e) => {
                if let Some(inst) = self.node.instance(s.instance) {
                    tracing::warn!("({}) cannot build the advert: {e}", inst.name());
                }
                return;
            }
        };
        b.queued.push(QueuedAdvert {
            out: Outgoing {
                src: s.src,
                dst: s.dst.addr(),
                start: b.used,
                len: n,
            },
            ttl: s.ttl,
            unicast: matches!(s.dst, Destination::Unicast(_)),
        });
        b.used += n;
    }

    /// Send every queued advert.
    pub(super) async fn flush_adverts(&mut self) {
        let b = &mut self.adverts;
        if let Some(ep) = b.endpoint.and_then(|i| self.sockets.get_mut(i))
            && !b.queued.is_empty()
        {
            ep.send_all(&b.buf[..b.used], &b.queued).await;
        }
        b.queued.clear();
        b.used = 0;
        b.endpoint = None;
        b.unix_time = None;
    }
}
