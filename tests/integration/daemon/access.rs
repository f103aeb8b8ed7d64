//! Who may call what: every protected route refuses the public and a bad token, every
//! changing one an auditor; a refusal comes before a body is read; errors axum raises itself
//! (body too large, wrong method, bad query) are JSON with a code. Roles on single routes and
//! secrets never shown before the reveal are checked along the lifecycle.

use std::io::{BufReader, Read, Write};

use serde_json::json;

use super::harness::{Backend, Http, Tokens, office, raw_request};

/// Every endpoint the OpenAPI document marks as needing a token refuses the public, and every
/// changing one refuses an auditor; unknown paths answer a JSON 404.
pub async fn the_public_reaches_no_officer_endpoint(b: &Backend) {
    let (d, http, t) = office(b);
    let api = http.expect(200, "GET", "/api/openapi.json", None, None);
    let mut protected = 0;
    for (path, ops) in api["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{kind}", "objects")
            .replace("{year}", "2027")
            .replace("{code}", "91420700MA4KXXXX1X")
            .replace("{id}", "x")
            .replace("{name}", "x")
            .replace("{number}", "1");
        for (method, op) in ops.as_object().unwrap() {
            let method = method.to_uppercase();
            let open = op["security"] == json!([]);
            let (s, text) = http.call(&method, &concrete, None, None);
            if open {
                assert_ne!(s, 401, "{method} {path} is public but asked for a token");
                continue;
            }
            protected += 1;
            assert_eq!(s, 401, "{method} {path} without a token: {text}");
            let wrong = http.call(&method, &concrete, Some("drt_nonsense"), None);
            assert_eq!(wrong.0, 401, "{method} {path} with a bad token");
            if method != "GET" {
                let (s, text) = http.call(&method, &concrete, Some(&t.auditor), None);
                assert_eq!(s, 403, "{method} {path} as auditor: {text}");
            }
        }
    }
    assert!(
        protected >= 15,
        "only {protected} protected operations documented"
    );
    // An anonymous upload is refused before its body is read.
    let mut raw = raw_request(
        &d.url,
        "POST /api/libraries/objects HTTP/1.1\r\nHost: t\r\nContent-Length: 200000000\r\nConnection: close\r\n\r\n",
    );
    let mut head = [0u8; 12];
    raw.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 401");
    let r = http.expect(404, "GET", "/api/nothing-here", None, None);
    assert_eq!(r["error"]["code"], "unknown_route");
}

/// Errors axum raises itself are JSON with a code too; `id` is a run officer li may add
/// results to.
pub fn axum_rejections_are_json(base: &str, http: &Http, t: &Tokens, id: &str) {
    // A body over the 1 MiB limit.
    let head = format!(
        "POST /api/runs/{id}/results HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Length: 2000000\r\nConnection: close\r\n\r\n",
        t.li
    );
    let mut raw = raw_request(base, &head);
    // The server answers once it has read past the limit, and may close before the rest.
    let _ = raw.write_all(&vec![b'x'; 2_000_000]);
    let mut answer = String::new();
    let _ = BufReader::new(raw).read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
    let r = http.expect(
        405,
        "GET",
        &format!("/api/runs/{id}/publish"),
        Some(&t.li),
        None,
    );
    assert_eq!(r["error"]["code"], "method_not_allowed");
    let r = http.expect(400, "GET", "/api/audit?from=x", Some(&t.auditor), None);
    assert_eq!(r["error"]["code"], "bad_request");
}
