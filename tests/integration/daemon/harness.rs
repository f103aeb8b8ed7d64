//! How the tests meet the daemon: the real binary started with `serve` on port 0 (optionally
//! set to stop at a failpoint), its log, an HTTP client that keeps every answer, raw requests,
//! the officers' tokens, and the CLI run on what the daemon serves.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use crate::backend::Backend;

pub const BIN: &str = env!("CARGO_BIN_EXE_double-random");

/// A running `double-random serve` with everything it printed.
pub struct Daemon {
    child: Child,
    pub url: String,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    pub fn start(db: &str, failpoint: Option<&str>, extra: &[&str]) -> Daemon {
        Self::start_with(db, failpoint, extra, &[])
    }

    pub fn start_with(
        db: &str,
        failpoint: Option<&str>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Daemon {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--db", db])
            .args(extra)
            .envs(env.iter().copied())
            .env_remove("DOUBLE_RANDOM_CONFIG")
            .env("DOUBLE_RANDOM_KEY_FILE", crate::backend::key_file(db))
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(f) = failpoint {
            cmd.env("DOUBLE_RANDOM_FAILPOINT", f);
        }
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [out, err] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let mut d = Daemon {
            child,
            url: String::new(),
            log,
        };
        let line = d.wait_for("listening on http://");
        let addr = line
            .split("http://")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        d.url = format!("http://{addr}");
        d
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The log without sqlx's query lines, for failure messages.
    pub fn readable_log(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().filter(|l| !l.contains("sqlx")).collect();
        lines.join("\n")
    }

    /// Waits for a line containing `needle`, and returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self.log().lines().find(|l| l.contains(needle)) {
                return l.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "daemon exited ({status}) before {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no {needle:?} within 120 s:\n{}",
                self.readable_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the daemon stops at failpoint `point` (None) or `answer` comes (Some).
    pub fn reach(&mut self, point: &str, answer: &Answer) -> Option<(u16, String)> {
        let (needle, start) = (format!("failpoint {point} reached"), Instant::now());
        loop {
            if self.log().contains(&needle) {
                return None;
            }
            if let Some(a) = answer.lock().unwrap().take() {
                return Some(a);
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "neither {needle:?} nor an answer within 120 s:\n{}",
                self.readable_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn admin_token(&self) -> String {
        token_in(&self.log())
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        (status, self.log())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token_in(text: &str) -> String {
    let at = text.find("drt_").expect("a token");
    text[at..at + 68].to_owned()
}

/// The answer to a request sent to a daemon that should stop at a failpoint instead.
pub type Answer = Arc<Mutex<Option<(u16, String)>>>;

/// A client that records every answer, to search them for secrets.
#[derive(Clone)]
pub struct Http {
    base: String,
    agent: ureq::Agent,
    pub seen: Arc<Mutex<String>>,
}

impl Http {
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A daemon that stopped answering fails the test instead of hanging it.
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Self {
            base: base.into(),
            agent,
            seen: Default::default(),
        }
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> (u16, String) {
        let (status, _, text) = self.call_with(method, path, token, &[], body);
        (status, text)
    }

    /// A call with extra request headers: (status, the answer's `Retry-After`, body).
    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> (u16, Option<String>, String) {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut resp = match method {
            "GET" => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                for (name, value) in headers {
                    r = r.header(*name, *value);
                }
                r.call()
            }
            _ => {
                let mut r = match method {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    m => panic!("method {m}"),
                };
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                for (name, value) in headers {
                    r = r.header(*name, *value);
                }
                match body {
                    Some(b) => r.send(b),
                    None => r.send_empty(),
                }
            }
        }
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .unwrap();
        let mut seen = self.seen.lock().unwrap();
        seen.push_str(&text);
        seen.push('\n');
        (status, retry_after, text)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        self.call("GET", path, token, None)
    }

    /// A call that must answer `status`; its JSON.
    pub fn expect(
        &self,
        status: u16,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Value {
        let (s, text) = self.call(method, path, token, body);
        assert_eq!(s, status, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    /// A POST with `token` that must answer `status`; its JSON.
    pub fn post(&self, status: u16, path: &str, token: &str, body: Option<&[u8]>) -> Value {
        self.expect(status, "POST", path, Some(token), body)
    }

    /// A POST sent from its own thread to a daemon that should stop at a failpoint (and be
    /// killed) before answering; an answer that comes all the same lands in the slot.
    pub fn post_unanswered(&self, path: &str, token: &str, body: Option<Vec<u8>>) -> Answer {
        let (agent, url) = (self.agent.clone(), format!("{}{path}", self.base));
        let auth = format!("Bearer {token}");
        let answer = Answer::default();
        let keep = answer.clone();
        std::thread::spawn(move || {
            let r = agent.post(&url).header("Authorization", &auth);
            let r = match body {
                Some(b) => r.send(&b[..]),
                None => r.send_empty(),
            };
            if let Ok(mut r) = r {
                let text = r.body_mut().read_to_string().unwrap_or_default();
                *keep.lock().unwrap() = Some((r.status().as_u16(), text));
            }
        });
        answer
    }
}

/// Sends `head` (a request line and headers, no body) over a plain TCP connection, for what
/// the client refuses to send; the stream reads with a 20 s timeout.
pub fn raw_request(base: &str, head: &str) -> TcpStream {
    let mut raw = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    raw.write_all(head.as_bytes()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    raw
}

/// The value on the `/metrics` line that starts with `series` (name and labels), if any.
pub fn metric(http: &Http, series: &str) -> Option<u64> {
    let text = http.get("/metrics", None).1;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[derive(Clone)]
pub struct Tokens {
    pub admin: String,
    pub li: String,
    pub wang: String,
    pub auditor: String,
}

/// An officer (li), an approver (wang, who may also do what officers do) and an auditor, made
/// by the admin; a second account of one name is refused.
pub fn tokens(http: &Http, admin: String) -> Tokens {
    let make = |name: &str, role: &str| {
        let body = json!({"name": name, "role": role}).to_string();
        http.post(201, "/api/tokens", &admin, Some(body.as_bytes()))["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let twice = json!({"name": "li", "role": "officer"}).to_string();
    let tokens = Tokens {
        li: make("li", "officer"),
        wang: make("wang", "approver"),
        auditor: make("audit", "auditor"),
        admin: admin.clone(),
    };
    http.post(409, "/api/tokens", &admin, Some(twice.as_bytes()));
    tokens
}

/// A daemon without its scheduler on `b`, a client, and the tokens (its first start).
pub fn office(b: &Backend) -> (Daemon, Http, Tokens) {
    office_with(b, &[])
}

/// The same with more `serve` arguments (e.g. `--config FILE`).
pub fn office_with(b: &Backend, extra: &[&str]) -> (Daemon, Http, Tokens) {
    let args: Vec<&str> = ["--no-scheduler"].iter().chain(extra).copied().collect();
    let daemon = Daemon::start(&b.url, None, &args);
    let http = Http::new(&daemon.url);
    let t = tokens(&http, daemon.admin_token());
    (daemon, http, t)
}

/// The CLI with `args`: (succeeded, stdout, stderr).
pub fn cli<S: AsRef<OsStr>>(args: &[S]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `double-random verify` on a bundle or proof (against a public bundle), which must pass;
/// what it printed.
pub fn verify_cli(file: &Path, public: Option<&Path>) -> String {
    let mut args: Vec<&OsStr> = vec!["verify".as_ref(), file.as_os_str()];
    if let Some(p) = public {
        args.extend(["--public".as_ref(), p.as_os_str()]);
    }
    let (ok, text, _) = cli(&args);
    assert!(ok, "verify {}: {text}", file.display());
    text
}
