//! `kohonen health [URL]`: one plain HTTP/1.1 GET, so a container health check needs no curl.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::CliError;
use crate::config::HealthArgs;

/// Exit 0 when the server answers 200 with `"status": "ok"`; 1 (with the reason on stderr)
/// when it does not answer or answers otherwise; 2 for a URL that is not `http://host[:port]/path`.
pub fn health(args: HealthArgs) -> Result<(), CliError> {
    let url = args
        .url
        .unwrap_or_else(|| format!("http://127.0.0.1:{}/health", args.port));
    let (host, port, path) = split_url(&url)?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let answer = ask(&host, port, &path, timeout)
        .map_err(|err| CliError::Unhealthy(format!("{url}: {err}")))?;
    let status_ok = answer
        .lines()
        .next()
        .is_some_and(|line| line.split_whitespace().nth(1) == Some("200"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let says_ok =
        serde_json::from_str::<serde_json::Value>(body).is_ok_and(|value| value["status"] == "ok");
    if status_ok && says_ok {
        println!("{body}");
        Ok(())
    } else {
        let first_line = answer.lines().next().unwrap_or("no answer");
        Err(CliError::Unhealthy(format!("{url}: {first_line}")))
    }
}

/// The whole answer to `GET path`.
fn ask(host: &str, port: u16, path: &str, timeout: Duration) -> std::io::Result<String> {
    let address = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{host} has no address")))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

fn split_url(url: &str) -> Result<(String, u16, String), CliError> {
    let bad = || CliError::BadInput(format!("{url:?} is not an http://host[:port]/path URL"));
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/health"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().map_err(|_| bad())?),
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_owned(), port, path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn urls_split_into_host_port_and_path() {
        let split = |url| split_url(url).ok();
        assert_eq!(
            split("http://127.0.0.1:8000/health"),
            Some(("127.0.0.1".into(), 8000, "/health".into()))
        );
        assert_eq!(
            split("http://localhost"),
            Some(("localhost".into(), 80, "/health".into()))
        );
        assert_eq!(split("https://x/health"), None);
        assert_eq!(split("http://:80/health"), None);
        assert_eq!(split("http://x:port/health"), None);
    }
}
