//! What the demo-server tests share: the server on an ephemeral port, on a runtime of
//! its own, and a small blocking HTTP/1.1 client over `TcpStream`.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use demo_server::{AppState, Limits};

/// The admin token of every test server.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// The header that authorises an admin request.
pub const ADMIN: (&str, &str) = ("authorization", "Bearer test-admin-token");

/// A server on its own tokio runtime, stopped when dropped.
pub struct Server {
    pub port: u16,
    pub host: Arc<patchpanel::Host>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(limits: Limits) -> Server {
        Server::start_with(limits, None)
    }

    /// A server whose plugins are configured by `config` (a config file's text).
    pub fn start_with(limits: Limits, config: Option<&str>) -> Server {
        let metrics = demo_server::telemetry::prometheus().expect("a recorder");
        let setup = demo_app::Setup {
            metrics: true,
            config: config.map(|text| patchpanel::config::ConfigFile::parse(text).expect("a valid config file")),
            ..demo_app::Setup::default()
        };
        let host = Arc::new(demo_app::start_with(setup).expect("the demo plugins start"));
        let state = AppState {
            host: Arc::clone(&host),
            metrics: Some(metrics),
            auth: Arc::new(demo_server::auth::AdminAuth::new(ADMIN_TOKEN).expect("a token")),
        };
        let app = demo_server::app(state, &limits);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                demo_server::serve::serve(
                    listener,
                    app,
                    Duration::from_secs(10),
                    async move {
                        let _ = stopped.await;
                    },
                    Duration::from_secs(10),
                )
                .await;
            });
        });
        Server {
            port,
            host,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Response {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", body.map_or(0, <[u8]>::len)));
        stream.write_all(head.as_bytes()).unwrap();
        if let Some(body) = body {
            stream.write_all(body).unwrap();
        }
        read_response(stream)
    }

    pub fn json(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Response {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.request("POST", path, &all, Some(body.as_bytes()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
    /// The error body's kind and message.
    pub fn error(&self) -> (String, String) {
        let json = self.json();
        (
            json["error"]["kind"].as_str().unwrap_or_default().to_owned(),
            json["error"]["message"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

pub fn read_response(stream: TcpStream) -> Response {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).expect("a status line").parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut body = Vec::new();
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map(|(_, value)| value.parse::<usize>().unwrap());
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value == "chunked");
    if let Some(length) = length {
        body.resize(length, 0);
        reader.read_exact(&mut body).unwrap();
    } else if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        reader.read_to_end(&mut body).unwrap();
    }
    Response { status, headers, body }
}
