//! A small HTTP/1.1 server on one thread: GET (or HEAD) `/metrics` reads the
//! processes (at most once per `--min-interval`) and answers in the format the
//! scraper's Accept header asks for; `/` says what is watched and, for a process that
//! cannot be read, why. One connection at a time, each closed after its answer, with
//! a 5 s limit to send the request and to take the answer and an 8 KiB limit on the
//! request head: a slow or hostile client costs at most that, and memory stays
//! bounded. No request body is read; nothing a client sends changes what is read.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::exposition::Format;
use super::State;

const MAX_HEAD: usize = 8 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Serve until the process is stopped. Errors on one connection are told and the
/// server goes on.
pub fn serve(listener: TcpListener, state: &mut State) -> ! {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = answer(stream, state) {
                    // A client that went away or was too slow: nothing to do.
                    if e.kind() != std::io::ErrorKind::BrokenPipe {
                        eprintln!("arena-sweep export: a request failed: {e}");
                    }
                }
            }
            Err(e) => {
                // Out of file descriptors, say: back off rather than spin.
                eprintln!("arena-sweep export: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// The parts of a request the server looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub accept: Option<String>,
}

/// Parse a request head (up to the blank line); `None` when it is not HTTP.
pub fn parse_head(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n").flat_map(|l| l.split('\n'));
    let mut first = lines.next()?.split(' ');
    let (method, target, version) = (first.next()?, first.next()?, first.next()?);
    if !version.starts_with("HTTP/1.") || method.is_empty() {
        return None;
    }
    let path = target.split('?').next().unwrap_or("").to_string();
    let accept = lines.find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("accept")
            .then(|| v.trim().to_string())
    });
    Some(Request {
        method: method.to_string(),
        path,
        accept,
    })
}

fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_end(&buf) {
            return Ok(Some(String::from_utf8_lossy(&buf[..end]).into_owned()));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

fn find_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| buf.windows(2).position(|w| w == b"\n\n"))
}

fn answer(mut stream: TcpStream, state: &mut State) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let Some(req) = read_head(&mut stream)?.as_deref().and_then(parse_head) else {
        return respond(
            &mut stream,
            "400 Bad Request",
            "text/plain; charset=utf-8",
            "bad request\n",
            true,
        );
    };
    let head_only = req.method == "HEAD";
    if req.method != "GET" && !head_only {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET and HEAD\n",
            true,
        );
    }
    match req.path.as_str() {
        "/metrics" => {
            let format = Format::from_accept(req.accept.as_deref());
            let body = state.scrape(format, Instant::now());
            respond(
                &mut stream,
                "200 OK",
                format.content_type(),
                &body,
                !head_only,
            )
        }
        "/" => {
            let body = state.status_page();
            respond(
                &mut stream,
                "200 OK",
                "text/plain; charset=utf-8",
                &body,
                !head_only,
            )
        }
        _ => respond(
            &mut stream,
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found: the metrics are at /metrics\n",
            !head_only,
        ),
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
    with_body: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prometheus_request_head_is_read() {
        let head = "GET /metrics?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9978\r\nUser-Agent: Prometheus/2.42.0\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\nAccept-Encoding: gzip\r\n";
        let r = parse_head(head).unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/metrics");
        assert!(r
            .accept
            .unwrap()
            .starts_with("application/openmetrics-text"));
        assert_eq!(parse_head("GET / HTTP/1.0").unwrap().accept, None);
    }

    #[test]
    fn what_is_not_http_is_refused() {
        assert_eq!(parse_head(""), None);
        assert_eq!(parse_head("hello"), None);
        assert_eq!(parse_head("GET /metrics SMTP/1.0"), None);
        assert_eq!(find_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"), Some(20));
    }
}
