//! Accounts and tokens: one account per name however many race for it, names normalised,
//! tokens that belong to an account, expire, are listed and revoked, and stop with a disabled
//! account; the `account` and `token` commands on the database as the way back in; the Bearer
//! scheme in any case and `WWW-Authenticate` on 401; the first start of several instances.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Barrier;

use chrono::{Duration, Utc};
use double_random::service::tokens;
use double_random::service::{Actor, bootstrap, imports};
use serde_json::{Value, json};

use super::fixture::{demo_library, ids};
use super::harness::{BIN, Backend, Daemon, Http, office, raw_request};

/// The probe: 20 concurrent creations of `racer` gave five tokens. Now one account, and 19
/// conflicts; a name that normalises to it is the same name.
pub async fn a_name_is_one_account_however_many_race(b: &Backend) {
    let (_d, http, t) = office(b);
    let barrier = Barrier::new(20);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..20)
            .map(|_| {
                let (http, barrier, admin) = (http.clone(), &barrier, &t.admin);
                scope.spawn(move || {
                    let body = json!({"name": "racer", "role": "officer"}).to_string();
                    barrier.wait();
                    http.call("POST", "/api/tokens", Some(admin), Some(body.as_bytes()))
                        .0
                })
            })
            .collect();
        threads.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = statuses.iter().filter(|&&s| s == 201).count();
    let conflicts = statuses.iter().filter(|&&s| s == 409).count();
    assert_eq!((created, conflicts), (1, 19), "{statuses:?}");
    let listed = http.expect(
        200,
        "GET",
        "/api/tokens?account=racer",
        Some(&t.admin),
        None,
    );
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // Full-width letters are the same name (NFKC); invisible and bidi characters are refused.
    let body = json!({"name": "ｒａｃｅｒ", "role": "officer"}).to_string();
    http.post(409, "/api/tokens", &t.admin, Some(body.as_bytes()));
    for bad in [
        "rac\u{202E}er",
        "racer\u{200B}",
        "x\u{0}",
        "",
        &"长".repeat(65),
    ] {
        let body = json!({"name": bad, "role": "officer"}).to_string();
        let r = http.post(422, "/api/tokens", &t.admin, Some(body.as_bytes()));
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("account name"),
            "{r}"
        );
    }
}

/// The probe: a lowercase `bearer` was refused, and 401 said nothing of the scheme.
pub async fn the_bearer_scheme_is_case_insensitive_and_401_names_it(b: &Backend) {
    let (d, _http, t) = office(b);
    let answer = |auth: &str| {
        let head =
            format!("GET /api/accounts HTTP/1.1\r\nHost: t\r\n{auth}Connection: close\r\n\r\n");
        let mut text = String::new();
        let _ = raw_request(&d.url, &head).read_to_string(&mut text);
        text
    };
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let a = answer(&format!("authorization: {scheme} {}\r\n", t.admin));
        assert!(a.starts_with("HTTP/1.1 200"), "{scheme}: {a}");
    }
    for auth in [
        String::new(),
        "Authorization: Bearer drt_nonsense\r\n".to_owned(),
        format!("Authorization: Basic {}\r\n", t.admin),
    ] {
        let a = answer(&auth);
        assert!(a.starts_with("HTTP/1.1 401"), "{auth}: {a}");
        assert!(
            a.to_ascii_lowercase()
                .contains("\r\nwww-authenticate: bearer\r\n"),
            "{auth}: {a}"
        );
    }
}

pub async fn tokens_belong_to_accounts_expire_and_are_revoked(b: &Backend) {
    let (_d, http, t) = office(b);
    let password = "correct horse battery staple";
    let body = json!({"name": "chen", "role": "officer", "password": password}).to_string();
    let a = http.post(201, "/api/accounts", &t.admin, Some(body.as_bytes()));
    assert_eq!(
        (&a["name"], &a["role"]),
        (&json!("chen"), &json!("officer"))
    );
    assert!(a["password_set_at"].is_string(), "{a}");
    let body = json!({"name": "weak", "role": "officer", "password": "short"}).to_string();
    http.post(422, "/api/accounts", &t.admin, Some(body.as_bytes()));
    // Only admins manage accounts.
    http.post(403, "/api/accounts", &t.wang, Some(body.as_bytes()));
    http.expect(403, "GET", "/api/tokens", Some(&t.li), None);

    let issue = |days: Option<u32>| {
        let body = days.map(|d| json!({ "days": d }).to_string());
        let r = http.post(
            201,
            "/api/accounts/chen/tokens",
            &t.admin,
            body.as_deref().map(str::as_bytes),
        );
        (r["token"].as_str().unwrap().to_owned(), r["info"].clone())
    };
    let (first, info) = issue(None);
    let expires = chrono::DateTime::parse_from_rfc3339(info["expires_at"].as_str().unwrap())
        .unwrap()
        .to_utc();
    let days = (expires - Utc::now()).num_hours();
    assert!((89 * 24..=90 * 24).contains(&days), "{info}");
    let (second, _) = issue(Some(7));
    http.post(
        422,
        "/api/accounts/chen/tokens",
        &t.admin,
        Some(br#"{"days": 0}"#),
    );
    let works = |token: &str| http.call("GET", "/api/audit?limit=1", Some(token), None).0;
    assert_eq!((works(&first), works(&second)), (200, 200));

    let listed = http.expect(200, "GET", "/api/tokens?account=chen", Some(&t.admin), None);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert_eq!(ids[0], info["id"].as_str().unwrap());
    let revoke = format!("/api/tokens/{}/revoke?reason=lost", ids[0]);
    let r = http.post(200, &revoke, &t.admin, None);
    assert_eq!(r["state"], "revoked");
    http.post(422, &revoke, &t.admin, None);
    http.post(404, "/api/tokens/000000000000/revoke", &t.admin, None);
    assert_eq!((works(&first), works(&second)), (401, 200));

    let pw = json!({"password": "another long passphrase"}).to_string();
    http.post(
        200,
        "/api/accounts/chen/password",
        &t.admin,
        Some(pw.as_bytes()),
    );
    let r = http.post(200, "/api/accounts/chen/disable", &t.admin, None);
    assert!(r["disabled_at"].is_string(), "{r}");
    assert_eq!(works(&second), 401, "a disabled account's tokens stop");
    http.post(422, "/api/accounts/chen/tokens", &t.admin, None);
    http.post(422, "/api/accounts/chen/disable", &t.admin, None);
    let all = http.expect(200, "GET", "/api/accounts", Some(&t.admin), None);
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "audit", "chen", "li", "wang"]);

    // No secret in any answer or in the audit log: tokens, passwords, their hashes.
    let audit = http.expect(200, "GET", "/api/audit?limit=1000", Some(&t.auditor), None);
    let seen = format!("{audit}{all}{listed}");
    for secret in [
        &first,
        &second,
        password,
        "another long passphrase",
        "$argon2",
    ] {
        assert!(!seen.contains(secret), "{secret} shown");
    }
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "account.create",
        "token.create",
        "token.revoke",
        "account.password",
        "account.disable",
    ] {
        assert!(
            actions.contains(&action),
            "{action} not audited: {actions:?}"
        );
    }

    // A token works until it expires (checked at the service, on a given clock).
    let s = b.store().await;
    let who = Actor {
        name: "admin".into(),
        reason: String::new(),
    };
    let then = Utc::now() - Duration::days(2);
    let (old, _) = tokens::issue(&*s, "li", 1, &who, then).await.unwrap();
    let at = |t| tokens::authenticate(&*s, old.expose(), t);
    assert_eq!(
        at(then + Duration::hours(23)).await.unwrap().unwrap().name,
        "li"
    );
    assert_eq!(at(then + Duration::days(1)).await.unwrap(), None);
    assert!(!format!("{old:?}").contains(old.expose()));
    s.close().await;
}

/// `double-random` with `args` on the database, `stdin` fed to it: (succeeded, output).
fn cli_with(db: &str, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(BIN)
        .args(["--db", db, "--actor", "运维"])
        .args(args)
        .env_remove("DOUBLE_RANDOM_CONFIG")
        .env("DOUBLE_RANDOM_KEY_FILE", crate::backend::key_file(db))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The probe: a lost admin token could only be recovered by deleting the database. The
/// commands work on the database directly, next to a running daemon.
pub async fn the_cli_on_the_database_is_the_way_back_in(b: &Backend) {
    let (_d, http, t) = office(b);
    let ok = |args: &[&str], stdin: &str| {
        let (success, text) = cli_with(&b.url, args, stdin);
        assert!(success, "{args:?}: {text}");
        text
    };
    let list = ok(&["token", "list", "--account", "admin", "--json"], "");
    let listed: Value = serde_json::from_str(&list).unwrap();
    let admin_id = listed[0]["id"].as_str().unwrap().to_owned();
    ok(&["token", "revoke", &admin_id, "--reason", "lost"], "");
    assert_eq!(
        http.call("GET", "/api/accounts", Some(&t.admin), None).0,
        401
    );
    let made = ok(&["token", "create", "admin", "--days", "1"], "");
    let at = made.find("drt_").expect("a token printed");
    let token = &made[at..at + 68];
    http.expect(200, "GET", "/api/accounts", Some(token), None);

    // Passwords come from stdin (or the terminal), never from the arguments.
    let password = "a long enough passphrase";
    ok(
        &["account", "add", "孙", "--role", "approver", "--password"],
        &format!("{password}\n"),
    );
    let (refused, text) = cli_with(
        &b.url,
        &[
            "account",
            "add",
            "x",
            "--role",
            "officer",
            "--password",
            "pw",
        ],
        "",
    );
    assert!(!refused && text.contains("unexpected argument"), "{text}");
    let (short, text) = cli_with(&b.url, &["account", "reset-password", "孙"], "short\n");
    assert!(!short && text.contains("12 to 1024"), "{text}");
    ok(
        &["account", "reset-password", "孙"],
        "another long passphrase\n",
    );
    let (bidi, text) = cli_with(
        &b.url,
        &["account", "add", "a\u{202E}b", "--role", "officer"],
        "",
    );
    assert!(!bidi && text.contains("U+202E"), "{text}");
    let (dup, text) = cli_with(&b.url, &["account", "add", "li", "--role", "admin"], "");
    assert!(!dup && text.contains("exists already"), "{text}");
    let accounts = ok(&["account", "list", "--json"], "");
    let parsed: Value = serde_json::from_str(&accounts).unwrap();
    let sun = parsed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "孙")
        .unwrap();
    assert_eq!(sun["role"], "approver");
    assert!(sun["password_set_at"].is_string(), "{sun}");
    ok(&["account", "disable", "孙", "--reason", "left"], "");
    let (disabled, text) = cli_with(&b.url, &["token", "create", "孙"], "");
    assert!(!disabled && text.contains("disabled"), "{text}");
    let printed = format!("{list}{accounts}{}", ok(&["token", "list"], ""));
    for secret in [
        password,
        "another long passphrase",
        "$argon2",
        &t.admin[4..],
        &token[4..],
    ] {
        assert!(!printed.contains(secret), "{secret} printed");
    }
    let audit = http.expect(200, "GET", "/api/audit?limit=1000", Some(token), None);
    let by_cli = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "运维")
        .count();
    assert_eq!(by_cli, 5, "each change by the CLI is audited under --actor");
}

/// The probe: three `serve --demo` on an empty database lost the admin token (its maker
/// exited on "plan already exists"). Now exactly one prints it, and all three serve.
pub async fn three_first_starts_at_once_print_one_admin_token(b: &Backend) {
    let demo_dir = b.dir.path().join("serve-demo");
    let demo = demo_dir.to_str().unwrap();
    let barrier = Barrier::new(3);
    let daemons: Vec<Daemon> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    Daemon::start(
                        &b.url,
                        None,
                        &["--no-scheduler", "--demo", "--demo-dir", demo],
                    )
                })
            })
            .collect();
        threads.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let printed: Vec<String> = daemons
        .iter()
        .filter(|d| d.log().contains("drt_"))
        .map(Daemon::admin_token)
        .collect();
    assert_eq!(printed.len(), 1, "admin tokens printed: {printed:?}");
    for d in &daemons {
        let http = Http::new(&d.url);
        http.expect(200, "GET", "/healthz", None, None);
        http.expect(200, "GET", "/api/accounts", Some(&printed[0]), None);
        let plans = http.expect(200, "GET", "/api/public/plans", None, None);
        assert_eq!(plans.as_array().unwrap().len(), 1, "{plans}");
        assert_eq!(plans[0]["state"], "approved");
    }
    let http = Http::new(&daemons[0].url);
    let accounts = http.expect(200, "GET", "/api/accounts", Some(&printed[0]), None);
    assert_eq!(
        accounts.as_array().unwrap().len(),
        2,
        "admin and demo-approver: {accounts}"
    );
    let tokens = http.expect(200, "GET", "/api/tokens", Some(&printed[0]), None);
    assert_eq!(tokens.as_array().unwrap().len(), 1, "{tokens}");
}

/// A first start that died while loading the demo: its admin token was printed before the
/// load, and the next start with --demo finishes the load (and prints no second token).
pub async fn a_demo_load_cut_short_is_finished_by_the_next_start(b: &Backend) {
    let s = b.store().await;
    let first = bootstrap::first_start(&*s, true, 90, Utc::now())
        .await
        .unwrap();
    assert_eq!(first.demo, Some(bootstrap::DemoState::Pending));
    let token = first
        .admin_token
        .expect("the first start makes the admin token");
    let again = bootstrap::first_start(&*s, true, 90, Utc::now())
        .await
        .unwrap();
    assert!(again.admin_token.is_none(), "a second admin token");
    // Died after the first import.
    let lib = demo_library(&b.dir.path().join("half"), 300);
    let who = Actor {
        name: "demo".into(),
        reason: "serve --demo".into(),
    };
    let objects = lib.join("objects.csv");
    let r = imports::import(
        &*s,
        double_random::library::Kind::Objects,
        std::fs::File::open(&objects).unwrap(),
        "objects.csv",
        Default::default(),
        &who,
    )
    .await
    .unwrap();
    assert!(r.committed);
    s.close().await;

    let demo_dir = b.dir.path().join("serve-demo");
    let demo = demo_dir.to_str().unwrap();
    let d = Daemon::start(
        &b.url,
        None,
        &["--no-scheduler", "--demo", "--demo-dir", demo],
    );
    assert!(
        d.log().contains("loading the demo data set"),
        "{}",
        d.readable_log()
    );
    assert!(!d.log().contains("drt_"), "a second admin token printed");
    let http = Http::new(&d.url);
    let plans = http.expect(200, "GET", "/api/public/plans", None, None);
    assert_eq!(
        (plans[0]["id"].as_str(), &plans[0]["state"]),
        (Some(ids().0.as_str()), &json!("approved"))
    );
    assert_eq!(
        http.expect(200, "GET", "/api/accounts", Some(token.expose()), None)
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (status, _) = d.terminate();
    assert!(status.success());
    let d = Daemon::start(
        &b.url,
        None,
        &["--no-scheduler", "--demo", "--demo-dir", demo],
    );
    assert!(
        !d.log().contains("loading the demo"),
        "demo data loaded twice"
    );
}
