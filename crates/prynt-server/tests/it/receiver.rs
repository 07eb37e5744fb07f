//! A real local HTTP(S) webhook receiver for the tests: records every request (headers, raw
//! body) and answers as told: fail a number of times first, hang, or answer a fixed status.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// The status this receiver answered.
    pub answered: u16,
}

impl Hit {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What the receiver does with a request.
pub const OK: u8 = 0;
pub const HANG: u8 = 1;
pub const GONE: u8 = 2;

pub struct Receiver {
    pub port: u16,
    hits: Arc<Mutex<Vec<Hit>>>,
    mode: Arc<AtomicU8>,
}

type Tls = Arc<rustls::ServerConfig>;

impl Receiver {
    /// Answers 500 to the first `fail_first` requests, then as `mode` says.
    pub fn start(mode: u8, fail_first: u32) -> Self {
        Self::start_inner(mode, fail_first, None)
    }

    /// The same over TLS with the given server config.
    pub fn start_tls(tls: Tls) -> Self {
        Self::start_inner(OK, 0, Some(tls))
    }

    fn start_inner(mode: u8, fail_first: u32, tls: Option<Tls>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(AtomicU8::new(mode));
        let failures = Arc::new(AtomicU32::new(fail_first));
        let (h, m) = (Arc::clone(&hits), Arc::clone(&mode));
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (h, m, f, tls) = (
                    Arc::clone(&h),
                    Arc::clone(&m),
                    Arc::clone(&failures),
                    tls.clone(),
                );
                std::thread::spawn(move || {
                    let _ = match tls {
                        Some(cfg) => match rustls::ServerConnection::new(cfg) {
                            Ok(conn) => serve(rustls::StreamOwned::new(conn, stream), &h, &m, &f),
                            Err(_) => Ok(()),
                        },
                        None => serve(stream, &h, &m, &f),
                    };
                });
            }
        });
        Receiver { port, hits, mode }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}/hook", self.port)
    }

    pub fn set_mode(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits until `pred` holds over the hits, or panics after `limit`.
    pub fn wait(&self, limit: Duration, what: &str, pred: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        let start = Instant::now();
        loop {
            let hits = self.hits();
            if pred(&hits) {
                return hits;
            }
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {what}; hits: {:?}",
                hits.iter()
                    .map(|h| String::from_utf8_lossy(&h.body).into_owned())
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve<S: Read + Write>(
    stream: S,
    hits: &Mutex<Vec<Hit>>,
    mode: &AtomicU8,
    failures: &AtomicU32,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut headers = HashMap::new();
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let status = if failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        500
    } else {
        match mode.load(Ordering::SeqCst) {
            HANG => {
                std::thread::sleep(Duration::from_secs(30));
                return Ok(());
            }
            GONE => 410,
            _ => 200,
        }
    };
    hits.lock().unwrap().push(Hit {
        headers,
        body,
        answered: status,
    });
    let stream = reader.get_mut();
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    )?;
    stream.flush()
}

/// A test CA and a server certificate for 127.0.0.1 and localhost signed by it: the CA's PEM
/// and the receiver's TLS config.
pub fn test_ca() -> (String, Tls) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Prynt test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.signed_by(&key, &issuer).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (ca_cert.pem(), Arc::new(config))
}
