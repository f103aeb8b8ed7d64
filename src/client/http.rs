//! A plain HTTP GET (watchers point this at a daemon or a mirror; TLS is a proxy's job).

use std::io::{Read, Write};

use super::{ClientError, Result};

/// The body of `GET base path`, which must answer 200.
pub fn get(base: &str, path: &str) -> Result<String> {
    let addr = base
        .strip_prefix("http://")
        .ok_or(ClientError::Usage(
            "--url must be http://host:port (put a TLS proxy's plain side here)",
        ))?
        .trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).map_err(|error| ClientError::Connect {
        addr: addr.to_owned(),
        error,
    })?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).map_err(ClientError::NotUtf8)?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or(ClientError::MalformedAnswer)?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(ClientError::Status {
            path: path.to_owned(),
            status: head.lines().next().unwrap_or_default().to_owned(),
            body: body.to_owned(),
        });
    }
    Ok(body.to_owned())
}
