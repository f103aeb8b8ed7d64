//! The served OpenAPI document is the router: it is generated from the same registration
//! (`utoipa_axum::routes!`), and here every documented operation is checked to exist, every
//! other method on a documented path to be refused (405), the declared security to be what
//! the route does without a token, and every reference to resolve.

use serde_json::{Value, json};

use super::harness::{Backend, Daemon, Http};

const METHODS: [&str; 3] = ["GET", "POST", "PUT"];

fn concrete(path: &str) -> String {
    path.replace("{kind}", "objects")
        .replace("{year}", "2027")
        .replace("{code}", "91420700MA4KXXXX1X")
        .replace("{id}", "x")
        .replace("{name}", "x")
        .replace("{number}", "1")
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_matches_the_router() {
    let b = Backend::sqlite().await;
    let d = Daemon::start(&b.url, None, &["--no-scheduler"]);
    let http = Http::new(&d.url);
    let admin = d.admin_token();
    let api = http.expect(200, "GET", "/api/openapi.json", None, None);
    let bearer = json!([{"bearer": []}]);
    let mut operations = 0;
    for (path, ops) in api["paths"].as_object().unwrap() {
        let url = concrete(path);
        let ops = ops.as_object().unwrap();
        for method in METHODS {
            let Some(op) = ops.get(&method.to_lowercase()) else {
                let (s, text) = http.call(method, &url, Some(&admin), None);
                assert_eq!(
                    s, 405,
                    "{method} {path} is not documented but answers {text}"
                );
                continue;
            };
            operations += 1;
            let (s, text) = http.call(method, &url, None, None);
            assert_ne!(s, 405, "{method} {path} is documented but not routed");
            if s == 404 {
                let e: Value = serde_json::from_str(&text).unwrap();
                assert_ne!(e["error"]["code"], "unknown_route", "{method} {path}");
            }
            match (&op["security"], s) {
                (sec, 401) => assert_eq!(sec, &bearer, "{method} {path} asks for a token"),
                (sec, _) => assert_eq!(sec, &json!([]), "{method} {path} is public: {text}"),
            }
        }
    }
    assert_eq!(operations, 54, "documented operations");
    let mut found = Vec::new();
    refs(&api, &mut found);
    for r in found {
        let pointer = r.strip_prefix('#').expect("a local reference");
        assert!(api.pointer(pointer).is_some(), "{r} does not resolve");
    }
    assert!(api["components"]["securitySchemes"]["bearer"].is_object());
}
