//! Many clients at once: the public routes keep answering every one of them.

use std::thread;

use super::fixture::DrawnRun;
use super::harness::{Backend, Http};

/// More keep-alive clients than the database pool has connections, each on its own
/// connection, over every public route that reads the store. The probe's eight `/healthz`
/// clients froze the pool: each read held one connection and waited for a second.
pub async fn many_keep_alive_clients_on_the_public_routes_all_get_answers(b: &Backend) {
    // One client address makes every request: no lookup limit here (`enterprises` tests it).
    let config = b.dir.path().join("unlimited.toml");
    std::fs::write(&config, "[access]\nlookups_per_minute = 0\n").unwrap();
    let run = DrawnRun::start_with(b, 300, &["--config", config.to_str().unwrap()]).await;
    let code = run.inspected()[0].clone();
    let id = run.id.clone();
    let paths = [
        "/healthz".to_string(),
        "/readyz".into(),
        "/api/public/runs".into(),
        format!("/api/public/runs/{id}"),
        format!("/api/public/runs/{id}/bundle"),
        format!("/api/public/runs/{id}/check/{code}"),
        "/api/public/plans".into(),
        "/api/public/log/checkpoint".into(),
        "/api/public/log/entries?start=0".into(),
        "/api/public/deadlines".into(),
    ];
    let base = run.daemon.url.clone();
    let clients: Vec<_> = (0..48)
        .map(|c| {
            let (base, paths) = (base.clone(), paths.clone());
            thread::spawn(move || {
                // One agent per client: its own keep-alive connection.
                let http = Http::new(&base);
                for i in 0..3 * paths.len() {
                    let path = &paths[(c + i) % paths.len()];
                    let (status, body) = http.get(path, None);
                    assert_eq!(status, 200, "GET {path}: {body}");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("every client got 200 on every request");
    }

    // The probe's page past 2^63 wrapped to a negative index and ignored the page size.
    let http = &run.http;
    let all = http.expect(200, "GET", "/api/public/log/entries?start=0", None, None);
    assert!(!all.as_array().unwrap().is_empty());
    for start in ["9223372036854775808", "18446744073709551615"] {
        let page = http.expect(
            200,
            "GET",
            &format!("/api/public/log/entries?start={start}"),
            None,
            None,
        );
        assert_eq!(page, serde_json::json!([]), "start={start}");
    }
}
