//! The GET request keepalived sends, byte for byte.

use std::net::SocketAddr;

use baton_conf::HttpProtocol;

/// `GET <path> HTTP/1.x`, keepalived's User-Agent, `Connection: close` for `1.0C` and
/// `1.1`, and a Host header: the virtual host if one is set, else the address and port
/// connected to (IPv6 in brackets).
pub fn get(
    path: &str,
    protocol: HttpProtocol,
    virtualhost: Option<&str>,
    dst: SocketAddr,
) -> String {
    let minor = match protocol {
        HttpProtocol::Http11 => 1,
        HttpProtocol::Http10 | HttpProtocol::Http10Close => 0,
    };
    let close = match protocol {
        HttpProtocol::Http10 => "",
        HttpProtocol::Http10Close | HttpProtocol::Http11 => "Connection: close\r\n",
    };
    let host = match virtualhost {
        Some(vhost) => vhost.to_string(),
        None => match dst {
            SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        },
    };
    format!(
        "GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {host}\r\n\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_keepalived_writes_it() {
        let dst: SocketAddr = "10.0.0.21:8080".parse().unwrap();
        assert_eq!(
            get("/", HttpProtocol::Http10, None, dst),
            "GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 10.0.0.21:8080\r\n\r\n"
        );
        assert_eq!(
            get(
                "/health",
                HttpProtocol::Http11,
                Some("www.example.com"),
                dst
            ),
            "GET /health HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n\
             Host: www.example.com\r\n\r\n"
        );
        let dst6: SocketAddr = "[fd00::21]:80".parse().unwrap();
        assert_eq!(
            get("/", HttpProtocol::Http10Close, None, dst6),
            "GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n\
             Host: [fd00::21]:80\r\n\r\n"
        );
    }
}
