//! A plain HTTP/1.1 client over a socket, for the tests that talk to the examples as
//! processes: one request per connection, the answer read within [`PATIENCE`].

use lifespan_examples::PATIENCE;

/// `GET path` over a plain socket, as any HTTP client would; returns the body.
pub(crate) fn get(addr: &str, path: &str) -> String {
    let (status, body) = request(addr, path, "");
    assert_eq!(status, 200, "{body}");
    body
}

/// `GET path` with `headers` (each line ending in `\r\n`); returns the status code and body.
pub(crate) fn request(addr: &str, path: &str, headers: &str) -> (u16, String) {
    send(addr, "GET", path, headers)
}

/// `method path` with `headers` (each line ending in `\r\n`) and no body; returns the status
/// code and body.
pub(crate) fn send(addr: &str, method: &str, path: &str, headers: &str) -> (u16, String) {
    use std::io::{Read, Write};

    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    (
        status,
        response.split_once("\r\n\r\n").unwrap().1.to_owned(),
    )
}
