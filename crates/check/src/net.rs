//! Sockets with keepalived's connection options (`bindto`, `bind_port`, `bind_if`,
//! `fwmark`), connected without blocking, bounded by `connect_timeout`.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

use baton_conf::Connection;

/// Why a connection attempt gave no answer from the server.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Setting the socket up failed on our side (bind, device, mark): keepalived logs it
    /// and tries again after `delay_loop`, judging nothing.
    #[error("{0}")]
    Local(String),
    /// The server did not complete the connection within `connect_timeout`.
    #[error("connection timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The server or the network refused it (RST, ICMP unreachable, ...).
    #[error("{0}")]
    Failed(io::Error),
}

impl ConnectError {
    /// A failure of the check rather than of our own socket setup.
    pub fn is_server_failure(&self) -> bool {
        !matches!(self, ConnectError::Local(_))
    }
}

/// A socket of `ty` for talking to `conn.dst`, with its options applied and bound.
pub fn socket_for(conn: &Connection, ty: Type, protocol: Protocol) -> Result<Socket, ConnectError> {
    let domain = Domain::for_address(conn.dst);
    let socket = Socket::new(domain, ty.nonblocking().cloexec(), Some(protocol))
        .map_err(|e| ConnectError::Local(format!("cannot create socket: {e}")))?;
    apply_options(&socket, conn)?;
    Ok(socket)
}

/// `fwmark`, `bind_if`, `bindto`/`bind_port`, in keepalived's order.
pub fn apply_options(socket: &Socket, conn: &Connection) -> Result<(), ConnectError> {
    if let Some(mark) = conn.fwmark {
        socket.set_mark(mark).map_err(|e| {
            ConnectError::Local(format!("Error setting fwmark {mark} to socket: {e}"))
        })?;
    }
    if let Some(dev) = &conn.bind_if {
        socket
            .bind_device(Some(dev.as_bytes()))
            .map_err(|e| ConnectError::Local(format!("Checker can't bind to device {dev}: {e}")))?;
    }
    if conn.bindto.is_some() || conn.bind_port.is_some() {
        let ip = conn.bindto.unwrap_or(match conn.dst {
            SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
        });
        let local = SocketAddr::new(ip, conn.bind_port.unwrap_or(0));
        if conn.bind_port.is_some() {
            // A fixed source port is reused by every probe; without this the previous
            // probe's TIME_WAIT would make every other bind fail.
            let _ = socket.set_reuse_address(true);
        }
        socket
            .bind(&SockAddr::from(local))
            .map_err(|e| ConnectError::Local(format!("Checker bind failed: {e}")))?;
    }
    Ok(())
}

/// Open a TCP connection to `conn.dst` within `connect_timeout`.
pub async fn tcp_connect(conn: &Connection) -> Result<TcpStream, ConnectError> {
    let socket = socket_for(conn, Type::STREAM, Protocol::TCP)?;
    let std_stream: std::net::TcpStream = socket.into();
    let socket = TcpSocket::from_std_stream(std_stream);
    match tokio::time::timeout(conn.timeout, socket.connect(conn.dst)).await {
        Err(_) => Err(ConnectError::Timeout(conn.timeout)),
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) if e.kind() == io::ErrorKind::TimedOut => {
            Err(ConnectError::Timeout(conn.timeout))
        }
        Ok(Err(e)) => Err(ConnectError::Failed(e)),
    }
}

/// A UDP socket connected to `conn.dst`. ICMP errors about it (port or host unreachable)
/// make the next receive fail, as keepalived's `IP_RECVERR` handling does.
pub fn udp_connect(conn: &Connection) -> Result<UdpSocket, ConnectError> {
    let socket = socket_for(conn, Type::DGRAM, Protocol::UDP)?;
    let recverr = match conn.dst {
        SocketAddr::V4(_) => set_int(&socket, libc::SOL_IP, libc::IP_RECVERR, 1),
        SocketAddr::V6(_) => set_int(&socket, libc::SOL_IPV6, libc::IPV6_RECVERR, 1),
    };
    if let Err(e) = recverr {
        tracing::debug!("IP_RECVERR on a checker socket: {e}");
    }
    socket
        .connect(&SockAddr::from(conn.dst))
        .map_err(ConnectError::Failed)?;
    let std_socket: std::net::UdpSocket = socket.into();
    UdpSocket::from_std(std_socket).map_err(|e| ConnectError::Local(e.to_string()))
}

pub(crate) fn set_int(socket: &Socket, level: i32, name: i32, value: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid descriptor, and a pointer to a live c_int with its exact size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `[ip]:port`, keepalived's `inet_sockaddrtopair`.
pub fn pair(addr: SocketAddr) -> String {
    format!("[{}]:{}", addr.ip(), addr.port())
}
