//! The scheduler: each fire time of a task runs once, a missed stretch once (its latest fire),
//! across restarts; `serve --demo` commits the demo run that is due today.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{FixedOffset, TimeZone};
use double_random::service::Actor;
use double_random::store::{self, Store};

use double_random::server::metrics::Metrics;
use double_random::service::runs::Runs;

use super::fixture::{TestClock, amend_with, prepared_on, service_runs_on};
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
    let store: Arc<dyn Store> = Arc::from(store::open(&b.url, b.key()).await.unwrap());
    let who = Actor {
        name: "zhang".into(),
        reason: "add a weekday task".into(),
    };
    let task = std::fs::read_to_string(lib.join("task.toml"))
        .unwrap()
        .replace("id = \"demo-2026-01\"", "id = \"weekday\"")
        .replace("date = 2026-12-01", "cron = \"0 0 9 * * Mon-Fri\"");
    amend_with(&*store, "2026", "weekday", task, &who).await;
    let metrics = Metrics::default();
    let cst = FixedOffset::east_opt(8 * 3600).unwrap();
    let at = |d: u32, h: u32, m: u32| cst.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap().to_utc();
    // Each pass runs at the service's clock, which the test sets.
    let clock = TestClock::at(at(1, 0, 0) - chrono::Duration::hours(1));
    let r1 = service_runs_on(store.clone(), clock.clone()).await;
    assert_eq!(pass_now(&r1, &metrics).await, Vec::<String>::new());
    // Down from before Dec 1 until Thursday Dec 3, 10:00: fires of Dec 1, 2, 3 were missed.
    clock.set(at(3, 10, 0));
    let mut started = pass_now(&r1, &metrics).await;
    started.sort();
    assert_eq!(
        started,
        ["demo-2026-01.20261201T000000", "weekday.20261203T090000"]
    );
    // What the run records is the service's time, not the system's.
    let run = r1.get("weekday.20261203T090000").await.unwrap();
    assert_eq!(run.committed_at, at(3, 10, 0));
    assert_eq!(run.snapshot.created_at, at(3, 10, 0));
    clock.set(at(3, 10, 5));
    assert!(pass_now(&r1, &metrics).await.is_empty());
    // A restart (a new service on the same database) runs nothing twice.
    clock.set(at(3, 11, 0));
    let r2 = service_runs_on(store.clone(), clock.clone()).await;
    assert!(pass_now(&r2, &metrics).await.is_empty());
    // Friday's and Monday's fires come; the weekend has none. Down over Friday: Monday runs once.
    clock.set(at(7, 9, 0));
    assert_eq!(pass_now(&r2, &metrics).await, ["weekday.20261207T090000"]);
    clock.set(at(7, 9, 1));
    assert!(pass_now(&r2, &metrics).await.is_empty());
    assert_eq!(r2.list(Some("weekday")).await.unwrap().len(), 2);
    store.close().await;
}

/// One scheduler pass at the service's own now.
async fn pass_now(runs: &Runs, metrics: &Metrics) -> Vec<String> {
    double_random::server::scheduler::pass(runs, metrics, runs.now())
        .await
        .unwrap()
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
