//! drand entropy end to end, without the internet: local relays serve the real beacons of
//! `tests/vectors/drand-beacons.json` (honestly, forged, mismatched, not yet, or not at all),
//! and the daemon's drand clock (`DOUBLE_RANDOM_DRAND_NOW`) makes the announced round one of
//! them: quicknet rounds 1 and 2.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use double_random::store::DocKind;

use super::fixture::{audit_intact, commits_in_audit, ids, prepared, public_bundle};
use super::harness::{Answer, Backend, Daemon, Http, cli, metric, tokens, verify_cli};

/// quicknet's round 1, unix time.
const QUICKNET_GENESIS: i64 = 1692803367;
const QUICKNET: &str = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Honest,
    /// The round's beacon with another round's signature (and the matching randomness).
    Forged,
    /// Another round's real beacon.
    Mismatched,
    NotYet,
    Down,
}

struct Relay {
    url: String,
    mode: Arc<Mutex<Mode>>,
    asked: Arc<AtomicUsize>,
}

fn beacons() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/drand-beacons.json"
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["beacons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["chain"] == "quicknet")
        .cloned()
        .collect()
}

impl Relay {
    fn start(mode: Mode) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = Relay {
            url: format!("http://{}", listener.local_addr().unwrap()),
            mode: Arc::new(Mutex::new(mode)),
            asked: Arc::default(),
        };
        let (mode, asked) = (relay.mode.clone(), relay.asked.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                asked.fetch_add(1, Ordering::SeqCst);
                let mode = *mode.lock().unwrap();
                std::thread::spawn(move || answer(stream, mode));
            }
        });
        relay
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
}

/// A relay address nothing listens on.
fn dead_relay() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", l.local_addr().unwrap())
}

fn answer(stream: TcpStream, mode: Mode) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    reader.read_line(&mut request).unwrap();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
            break;
        }
    }
    let path = request.split(' ').nth(1).unwrap_or_default().to_owned();
    let round: Option<u64> = path
        .strip_prefix(&format!("/{QUICKNET}/public/"))
        .and_then(|r| r.parse().ok());
    let all = beacons();
    let find = |r: u64| all.iter().find(|b| b["round"] == r).cloned();
    let (status, body) = match (mode, round.and_then(find)) {
        (Mode::Down, _) => (503, "relay down".to_owned()),
        (Mode::NotYet, _) | (_, None) => (404, "no such round".to_owned()),
        (Mode::Honest, Some(b)) => (200, b.to_string()),
        (Mode::Forged, Some(mut b)) => {
            let other = all.iter().find(|o| o["round"] != b["round"]).unwrap();
            let sig = other["signature"].as_str().unwrap();
            b["signature"] = json!(sig);
            b["randomness"] = json!(hex::encode(Sha256::digest(hex::decode(sig).unwrap())));
            (200, b.to_string())
        }
        (Mode::Mismatched, Some(b)) => {
            let other = all.iter().find(|o| o["round"] != b["round"]).unwrap();
            (200, other.to_string())
        }
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A daemon (with its scheduler and drand watcher) whose drand clock stands `lead` seconds
/// before quicknet's round 1, so the demo run it commits at once announces round 1 (or 2 on
/// a slow machine).
fn start(
    b: &Backend,
    entropy: &str,
    relays: &[&str],
    stall_after: u64,
    lead: i64,
    failpoint: Option<&str>,
) -> Daemon {
    let config = b.dir.path().join("drand.toml");
    let relays: Vec<String> = relays.iter().map(|r| format!("{r:?}")).collect();
    std::fs::write(
        &config,
        format!(
            "[draw]\nentropy = {entropy}\nwitnesses = 1\n\n[drand]\nchain = \"quicknet\"\n\
             margin_secs = 1\nrelays = [{}]\ntimeout_secs = 2\nretry_secs = 1\n\
             stall_after_secs = {stall_after}\n",
            relays.join(", ")
        ),
    )
    .unwrap();
    let now = chrono::DateTime::from_timestamp(QUICKNET_GENESIS - lead, 0)
        .unwrap()
        .to_rfc3339();
    Daemon::start_with(
        &b.url,
        failpoint,
        &["--config", config.to_str().unwrap()],
        &[("DOUBLE_RANDOM_DRAND_NOW", &now)],
    )
}

/// Polls the public run until `done` holds.
fn wait_run(http: &Http, d: &Daemon, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (s, text) = http.get(&format!("/api/public/runs/{}", ids().2), None);
        if s == 200 {
            let run: Value = serde_json::from_str(&text).unwrap();
            if done(&run) {
                return run;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no run {what} within 90 s (last answer {s}: {text}):\n{}",
            d.readable_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The run's public bundle from the API, saved as `name`, passes `double-random verify`:
/// (the bundle, verify's output).
fn public_bundle_verifies(http: &Http, b: &Backend, name: &str) -> (Value, String) {
    let text = public_bundle(http, &ids().2);
    let file = b.dir.path().join(name);
    std::fs::write(&file, &text).unwrap();
    (
        serde_json::from_str(&text).unwrap(),
        verify_cli(&file, None),
    )
}

/// `double-random verify` on a bundle: (passed, output).
fn verify(file: &Path) -> (bool, String) {
    let (ok, out, err) = cli(&["verify".as_ref(), file.as_os_str()]);
    (ok, out + &err)
}

/// Witness and drand combined: the liars are skipped, the honest relay's beacon is verified
/// and drawn with, and the public bundle proves the round offline; a bundle whose beacon or
/// entropy was swapped fails.
async fn a_drand_round_is_fetched_verified_and_replayable(b: &Backend) {
    prepared(b, 300).await;
    let (honest, forged, mismatched) = (
        Relay::start(Mode::Honest),
        Relay::start(Mode::Forged),
        Relay::start(Mode::Mismatched),
    );
    let dead = dead_relay();
    let d = start(
        b,
        r#"["witness", "drand"]"#,
        &[&dead, &forged.url, &mismatched.url, &honest.url],
        600,
        6,
        None,
    );
    let http = Http::new(&d.url);
    let t = tokens(&http, d.admin_token());
    let run = wait_run(&http, &d, "committed", |_| true);
    let round = run["drand"]["round"].as_u64().unwrap();
    assert!(round == 1 || round == 2, "{run}");
    assert_eq!(run["drand"]["chain"], "quicknet");
    assert_eq!(run["drand"]["chain_hash"], QUICKNET);
    let source = run["commitment"]["entropy_source"].as_str().unwrap();
    let lines: Vec<&str> = source.lines().collect();
    assert_eq!(lines.len(), 2, "{source}");
    assert!(lines[0].starts_with("witness: "), "{source}");
    let due = chrono::DateTime::from_timestamp(QUICKNET_GENESIS + 3 * (round as i64 - 1), 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ");
    assert_eq!(
        lines[1],
        format!("drand: chain {QUICKNET} round {round} at {due}")
    );

    // The witness alone does not draw while the beacon is missing.
    let entered = http.post(
        200,
        &format!("/api/runs/{}/entropy", ids().2),
        &t.li,
        Some(br#"{"values": "3 14 15"}"#),
    );
    if entered["state"] == "committed" {
        assert!(entered["drand"]["beacon"].is_null(), "{entered}");
        assert!(entered["entropy"].is_string(), "{entered}");
    }
    let run = wait_run(&http, &d, "drawn", |r| r["state"] == "drawn");
    assert_eq!(run["drand"]["fetched"]["relay"], honest.url.as_str());
    assert_eq!(run["drand"]["beacon"]["beacon"]["round"], round);
    assert!(forged.asked.load(Ordering::SeqCst) >= 1);
    assert!(mismatched.asked.load(Ordering::SeqCst) >= 1);
    let log = d.log();
    for (relay, why) in [
        (&forged.url, "is not the chain's signature"),
        (&mismatched.url, "served round"),
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains("relay rejected") && l.contains(relay) && l.contains(why)),
            "no rejection of {relay} ({why}) in the log"
        );
    }
    let series = |relay: &str, outcome: &str| {
        format!("double_random_drand_requests_total{{relay=\"{relay}\",outcome=\"{outcome}\"}}")
    };
    assert!(metric(&http, &series(&dead, "unreachable")).unwrap() >= 1);
    assert!(metric(&http, &series(&forged.url, "rejected")).unwrap() >= 1);
    assert!(metric(&http, &series(&mismatched.url, "rejected")).unwrap() >= 1);
    assert_eq!(metric(&http, &series(&honest.url, "served")), Some(1));

    // The public bundle carries the beacon and verifies offline.
    let (bundle, out) = public_bundle_verifies(&http, b, "drand-bundle.json");
    assert!(
        out.contains(&format!("drand round {round} of chain {QUICKNET}"))
            && out.contains("BLS signature valid"),
        "{out}"
    );
    let real = beacons();
    let randomness = real.iter().find(|b| b["round"] == round).unwrap()["randomness"].clone();
    assert_eq!(bundle["entropy"][1], randomness);
    // Issue 11 item 6: the commitment's log proof. The recorded round was public long before
    // this daemon first logged the commitment (its drand clock replays the past, its log
    // clock is today's): with the publication key pinned, verify shows the commitment came
    // after the entropy, and fails.
    assert!(
        bundle["commitment_log"]["checkpoint"].is_string(),
        "{bundle}"
    );
    let key = super::fixture::public_key(&http);
    let file = b.dir.path().join("drand-bundle.json");
    let (ok, out, _) = cli(&[
        "verify".as_ref(),
        file.as_os_str(),
        "--key".as_ref(),
        key.as_ref(),
    ]);
    assert!(
        !ok && out.contains("committed before the entropy was published at")
            && out.contains("first logged at"),
        "{out}"
    );

    // Another round's signature, or entropy that is not the beacon's: refused.
    let mut forged_bundle = bundle.clone();
    let other = real.iter().find(|b| b["round"] != round).unwrap();
    forged_bundle["beacons"][0]["beacon"]["signature"] = other["signature"].clone();
    let mut swapped = bundle.clone();
    swapped["entropy"][1] = other["randomness"].clone();
    for (name, tampered) in [("forged", forged_bundle), ("swapped", swapped)] {
        let f = b.dir.path().join(format!("{name}.json"));
        std::fs::write(&f, tampered.to_string()).unwrap();
        let (ok, out) = verify(&f);
        assert!(!ok, "{name} bundle verified:\n{out}");
        // v2: a drand source's value and beacon are checked on `entropy` (draw-spec §7.7).
        assert!(out.contains("first mismatch at entropy"), "{name}: {out}");
    }
    let (status, _) = d.terminate();
    assert!(status.success());
}

/// drand alone, with the only relay down: the due run is marked stalled (API and metrics) and
/// draws as soon as the relay serves the round.
async fn a_run_stalls_while_no_relay_serves_and_resumes(b: &Backend) {
    prepared(b, 300).await;
    let relay = Relay::start(Mode::NotYet);
    let d = start(b, r#"["drand"]"#, &[&relay.url], 2, 4, None);
    let http = Http::new(&d.url);
    let t = tokens(&http, d.admin_token());
    let run = wait_run(&http, &d, "committed", |_| true);
    assert!(run["witness"].is_null(), "{run}");
    let source = run["commitment"]["entropy_source"].as_str().unwrap();
    assert!(
        source.starts_with(&format!("drand: chain {QUICKNET} round ")) && !source.contains('\n'),
        "{source}"
    );
    let refused = http.post(
        422,
        &format!("/api/runs/{}/entropy", ids().2),
        &t.li,
        Some(br#"{"values": "1 2 3"}"#),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("drand beacon"),
        "{refused}"
    );
    // Not yet, then down: both leave the round unserved.
    std::thread::sleep(Duration::from_millis(1500));
    relay.set(Mode::Down);
    let stalled = wait_run(&http, &d, "stalled", |r| !r["drand"]["stalled"].is_null());
    assert_eq!(stalled["state"], "committed");
    let reason = stalled["drand"]["stalled"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("no relay has served round") && reason.contains("503"),
        "{reason}"
    );
    assert_eq!(metric(&http, "double_random_runs_stalled"), Some(1));

    relay.set(Mode::Honest);
    let run = wait_run(&http, &d, "drawn", |r| r["state"] == "drawn");
    assert!(run["drand"]["stalled"].is_null(), "{run}");
    assert_eq!(metric(&http, "double_random_runs_stalled"), Some(0));
    public_bundle_verifies(&http, b, "resumed.json");
    let (status, _) = d.terminate();
    assert!(status.success());
}

/// SIGKILL just before the beacon is written, then just before the draw is written: each
/// restart goes on from the stored state (fetching the round again, or drawing at start), and
/// the run ends drawn with one commitment.
async fn a_kill_around_the_beacon_recovers(b: &Backend) {
    prepared(b, 300).await;
    let relay = Relay::start(Mode::Honest);
    let mut admin = None;
    for point in ["beacon", "draw"] {
        let mut d = start(b, r#"["drand"]"#, &[&relay.url], 600, 3, Some(point));
        admin.get_or_insert_with(|| d.admin_token());
        assert_eq!(d.reach(point, &Answer::default()), None);
        // A daemon stopped at a failpoint may not answer: the state is read from the store.
        d.kill9();
        let s = b.store().await;
        let doc = s.doc(DocKind::Run, &ids().2).await.unwrap().unwrap();
        s.close().await;
        let run: Value = serde_json::from_str(&doc.doc).unwrap();
        let expected = if point == "beacon" {
            "committed"
        } else {
            "entropy"
        };
        assert_eq!(run["state"], expected, "killed at {point}");
        assert_eq!(run["drand"]["beacon"].is_object(), point == "draw");
    }
    let d = start(b, r#"["drand"]"#, &[&relay.url], 600, 3, None);
    assert!(
        d.log().contains("completing an interrupted draw"),
        "{}",
        d.readable_log()
    );
    let http = Http::new(&d.url);
    let run = wait_run(&http, &d, "drawn", |r| r["state"] == "drawn");
    assert!(run["drand"]["beacon"].is_object(), "{run}");
    let t = tokens(&http, admin.unwrap());
    assert_eq!(commits_in_audit(&http, &t), 1);
    audit_intact(&http, &t);
    public_bundle_verifies(&http, b, "recovered.json");
    drop(d);
}

backend_tests!(
    a_drand_round_is_fetched_verified_and_replayable,
    a_run_stalls_while_no_relay_serves_and_resumes,
    a_kill_around_the_beacon_recovers,
);
