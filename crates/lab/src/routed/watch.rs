//! A route watcher: a netlink subscription to IPv4 and IPv6 route changes opened inside a host's
//! network namespace, each notification stamped with the monotonic clock when it arrives.
//! Timings are read off these stamps, not off polling, so they resolve to microseconds.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Host;
use anyhow::{Context, Result};
use futures::StreamExt;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use rtnetlink::MulticastGroup;
use rtnetlink::packet_core::NetlinkPayload;

/// One route notification.
#[derive(Debug, Clone)]
pub struct RouteEvent {
    pub at: Instant,
    /// RTM_NEWROUTE (true) or RTM_DELROUTE.
    pub added: bool,
    pub dst: Option<IpAddr>,
    pub prefix_len: u8,
    pub table: u32,
    /// Gateways, of a single route or of each multipath next hop.
    pub gateways: Vec<IpAddr>,
}

/// Watching one host's route changes until dropped.
#[derive(Debug)]
pub struct RouteWatch {
    events: Arc<Mutex<Vec<RouteEvent>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn gateway(a: &RouteAttribute) -> Option<IpAddr> {
    match a {
        RouteAttribute::Gateway(RouteAddress::Inet(g)) => Some(IpAddr::V4(*g)),
        RouteAttribute::Gateway(RouteAddress::Inet6(g)) => Some(IpAddr::V6(*g)),
        _ => None,
    }
}

fn event(at: Instant, added: bool, m: &RouteMessage) -> RouteEvent {
    let mut e = RouteEvent {
        at,
        added,
        dst: None,
        prefix_len: m.header.destination_prefix_length,
        table: u32::from(m.header.table),
        gateways: Vec::new(),
    };
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(d)) => e.dst = Some(IpAddr::V4(*d)),
            RouteAttribute::Destination(RouteAddress::Inet6(d)) => e.dst = Some(IpAddr::V6(*d)),
            RouteAttribute::Table(t) => e.table = *t,
            RouteAttribute::MultiPath(hops) => {
                for h in hops {
                    e.gateways.extend(h.attributes.iter().filter_map(gateway));
                }
            }
            other => e.gateways.extend(gateway(other)),
        }
    }
    e
}

impl RouteWatch {
    /// Subscribe to RTNLGRP_IPV4_ROUTE and RTNLGRP_IPV6_ROUTE inside `host`; returns once
    /// subscribed.
    pub fn start(host: &Host) -> Result<RouteWatch> {
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ev, st, h) = (events.clone(), stop.clone(), host.clone());
        let (ready_tx, ready) = std::sync::mpsc::channel::<std::result::Result<(), String>>();
        let thread = std::thread::spawn(move || {
            let r = h.in_netns(|| {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let (conn, _handle, mut messages) =
                        match rtnetlink::new_multicast_connection(&[
                            MulticastGroup::Ipv4Route,
                            MulticastGroup::Ipv6Route,
                        ]) {
                            Ok(c) => c,
                            Err(e) => {
                                let _ = ready_tx.send(Err(e.to_string()));
                                return;
                            }
                        };
                    let driver = tokio::spawn(conn);
                    let _ = ready_tx.send(Ok(()));
                    while !st.load(Ordering::Relaxed) {
                        let next =
                            tokio::time::timeout(Duration::from_millis(20), messages.next()).await;
                        let Ok(Some((msg, _))) = next else { continue };
                        let at = Instant::now();
                        let e = match msg.payload {
                            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(m)) => {
                                event(at, true, &m)
                            }
                            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(m)) => {
                                event(at, false, &m)
                            }
                            _ => continue,
                        };
                        if let Ok(mut v) = ev.lock() {
                            v.push(e);
                        }
                    }
                    driver.abort();
                });
            });
            if let Err(e) = r {
                eprintln!("route watch: {e}");
            }
        });
        ready
            .recv_timeout(Duration::from_secs(5))
            .context("route watch did not start")?
            .map_err(anyhow::Error::msg)
            .context("route watch socket")?;
        Ok(RouteWatch {
            events,
            stop,
            thread: Some(thread),
        })
    }

    /// The events so far.
    pub fn events(&self) -> Vec<RouteEvent> {
        self.events.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The first change to the host route `dst` (/32, /128) in `table` after `t` that
    /// leaves `gw` out: a deletion (of `gw`'s next hop, when the notification names next
    /// hops), or a replacement whose next hops no longer include it; `gw` `None`: the first
    /// deletion.
    pub fn withdrawn_after(
        &self,
        t: Instant,
        dst: IpAddr,
        table: u32,
        gw: Option<IpAddr>,
    ) -> Option<Instant> {
        let len = if dst.is_ipv4() { 32 } else { 128 };
        self.events()
            .into_iter()
            .filter(|e| e.at >= t && e.dst == Some(dst) && e.prefix_len == len)
            .filter(|e| e.table == table)
            .find(|e| match gw {
                None => !e.added,
                Some(g) if e.added => !e.gateways.contains(&g),
                Some(g) => e.gateways.is_empty() || e.gateways.contains(&g),
            })
            .map(|e| e.at)
    }

    /// The first addition (or replacement) of the host route `dst` in `table` after `t`.
    pub fn added_after(&self, t: Instant, dst: IpAddr, table: u32) -> Option<Instant> {
        let len = if dst.is_ipv4() { 32 } else { 128 };
        self.events()
            .into_iter()
            .find(|e| {
                e.at >= t
                    && e.added
                    && e.dst == Some(dst)
                    && e.prefix_len == len
                    && e.table == table
            })
            .map(|e| e.at)
    }
}

impl Drop for RouteWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
