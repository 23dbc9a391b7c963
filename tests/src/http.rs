//! A minimal HTTP/1.1 client for tests that talk to the real console binary over TCP,
//! the way a browser or `curl` would: one request per connection, cookies by hand.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One response: status, headers (names lower-cased) and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Response {
    /// The value a `Set-Cookie` header gives cookie `name` (ignoring empty removals).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next())
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, v)| *k == name && !v.is_empty())
            .map(|(_, v)| v.to_string())
    }
}

/// Sends `method path` to 127.0.0.1:`port` with `cookies` (a `Cookie:` header value,
/// empty for none) and, for POST, `body` as an urlencoded form.
pub fn request(port: u16, method: &str, path: &str, cookies: &str, body: &str) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if !cookies.is_empty() {
        req.push_str(&format!("Cookie: {cookies}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("no status line: {head}"))
        })?;
    let headers =
        lines.filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_lowercase(), v.to_string())).collect();
    Ok(Response { status, headers, body: body.to_string() })
}

/// Percent-encodes everything but ASCII letters and digits (form values).
pub fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Logs in through the console's form (`/login` with its CSRF cookie), as a browser
/// does; the answer carries the `fv_session` cookie on success (303).
pub fn login(port: u16, user: &str, password: &str) -> std::io::Result<Response> {
    let page = request(port, "GET", "/login", "", "")?;
    let csrf = page
        .cookie("fv_login_csrf")
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no login CSRF cookie"))?;
    request(
        port,
        "POST",
        "/login",
        &format!("fv_login_csrf={csrf}"),
        &format!("username={}&password={}&csrf={csrf}", form_encode(user), form_encode(password)),
    )
}
