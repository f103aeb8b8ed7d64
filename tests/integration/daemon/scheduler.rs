//! The scheduler: each fire time of a task runs once, a missed stretch once (its latest fire),
//! across restarts; `serve --demo` commits the demo run that is due today.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{FixedOffset, TimeZone};
use double_random::service::Actor;
use double_random::store::{self, Store};

use super::fixture::{amend_with, prepared_on, service_runs};
use super::harness::{Backend, Daemon, Http};

/// Cron fires: a missed stretch runs once (the latest fire), and each fire time runs once,
/// across a restart.
pub async fn cron_fires_run_once_and_missed_fires_collapse(b: &Backend) {
    let lib = prepared_on(
        b,
        200,
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
    )
    .await;
    let store: Arc<dyn Store> = Arc::from(store::open(&b.url).await.unwrap());
    let who = Actor {
        name: "zhang".into(),
        reason: "add a weekday task".into(),
    };
    let task = std::fs::read_to_string(lib.join("task.toml"))
        .unwrap()
        .replace("id = \"demo-2026-01\"", "id = \"weekday\"")
        .replace("date = 2026-12-01", "cron = \"0 0 9 * * Mon-Fri\"");
    amend_with(&*store, "2026", "weekday", task, &who).await;
    let metrics = double_random::server::metrics::Metrics::default();
    let cst = FixedOffset::east_opt(8 * 3600).unwrap();
    let at = |d: u32, h: u32, m: u32| cst.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap().to_utc();
    let pass = double_random::server::scheduler::pass;
    let r1 = service_runs(store.clone()).await;
    assert_eq!(
        pass(&r1, &metrics, at(1, 0, 0) - chrono::Duration::hours(1))
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    // Down from before Dec 1 until Thursday Dec 3, 10:00: fires of Dec 1, 2, 3 were missed.
    let mut started = pass(&r1, &metrics, at(3, 10, 0)).await.unwrap();
    started.sort();
    assert_eq!(
        started,
        ["demo-2026-01.20261201T000000", "weekday.20261203T090000"]
    );
    assert!(pass(&r1, &metrics, at(3, 10, 5)).await.unwrap().is_empty());
    // A restart (a new service on the same database) runs nothing twice.
    let r2 = service_runs(store.clone()).await;
    assert!(pass(&r2, &metrics, at(3, 11, 0)).await.unwrap().is_empty());
    // Friday's and Monday's fires come; the weekend has none. Down over Friday: Monday runs once.
    assert_eq!(
        pass(&r2, &metrics, at(7, 9, 0)).await.unwrap(),
        ["weekday.20261207T090000"]
    );
    assert!(pass(&r2, &metrics, at(7, 9, 1)).await.unwrap().is_empty());
    assert_eq!(r2.list(Some("weekday")).await.unwrap().len(), 2);
    store.close().await;
}

/// `serve --demo` with the scheduler: the demo task is due today, so one run is committed, and
/// a restart commits no second one.
pub async fn serve_demo_commits_the_due_run_once(b: &Backend) {
    let demo_dir = b.dir.path().join("serve-demo");
    let demo = demo_dir.to_str().unwrap();
    let d = Daemon::start(&b.url, None, &["--demo", "--demo-dir", demo]);
    let http = Http::new(&d.url);
    let wait_runs = |http: &Http| {
        let start = Instant::now();
        loop {
            let runs = http.expect(200, "GET", "/api/public/runs", None, None);
            if !runs.as_array().unwrap().is_empty() || start.elapsed() > Duration::from_secs(30) {
                return runs;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let runs = wait_runs(&http);
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    let (status, _) = d.terminate();
    assert!(status.success());
    let d = Daemon::start(&b.url, None, &["--demo", "--demo-dir", demo]);
    assert!(
        !d.log().contains("loading the demo"),
        "demo data loaded twice"
    );
    let http = Http::new(&d.url);
    std::thread::sleep(Duration::from_millis(1500));
    let again = http.expect(200, "GET", "/api/public/runs", None, None);
    assert_eq!(again, runs);
}
