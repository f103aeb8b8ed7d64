//! Library uploads a careless or hostile user sends: short rows, control characters and open
//! quotes are bad rows naming line and column; a spreadsheet bomb is refused before it is
//! inflated; a file name with a NUL or 300 characters is refused, not an internal error.

use super::harness::{Backend, office};

pub async fn bad_uploads_are_refused_with_their_place(b: &Backend) {
    let (_daemon, http, t) = office(b);
    let head = "id,name,kind,region,industry,status\n";
    let revoked = "91420704A63ULP8009,旧公司,enterprise,鄂城区,食品,revoked\n";
    let first = format!("{head}{revoked}");
    http.post(
        200,
        "/api/libraries/objects?filename=o.csv",
        &t.li,
        Some(first.as_bytes()),
    );
    for (row, line, column) in [
        ("91420704A63ULP8009,short row\n", 2, "(row)"),
        (
            "91420704A63ULP8009,a\u{0}b,enterprise,鄂城区,食品,active\n",
            2,
            "name",
        ),
        (
            "91420704A63ULP8009,\"open,enterprise,鄂城区,食品,active\n",
            2,
            "(row)",
        ),
    ] {
        let body = format!("{head}{row}");
        let r = http.post(
            422,
            "/api/libraries/objects?filename=bad.csv",
            &t.li,
            Some(body.as_bytes()),
        );
        assert_eq!(r["error"]["code"], "bad_rows", "{r}");
        let bad = &r["report"]["bad"][0];
        assert_eq!(
            (bad["line"].as_u64(), bad["errors"][0]["column"].as_str()),
            (Some(line), Some(column)),
            "{r}"
        );
    }
    // Nothing landed: the first upload is the only import in the audit log.
    let imports = |http: &super::harness::Http| {
        let log = http.expect(
            200,
            "GET",
            "/api/audit?from=1&limit=1000",
            Some(&t.auditor),
            None,
        );
        log.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "import")
            .count()
    };
    assert_eq!(imports(&http), 1);

    // The bomb: refused on what it declares, before it is inflated.
    let bomb = crate::inputs::xlsx_bomb(1024, false);
    let r = http.post(
        422,
        "/api/libraries/objects?filename=bomb.xlsx",
        &t.li,
        Some(&bomb),
    );
    assert_eq!(r["error"]["code"], "bad_file", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_xlsx_bytes"),
        "{r}"
    );
    // Its forged twin: refused while inflating, once past what it declares.
    let r = http.post(
        422,
        "/api/libraries/objects?filename=forged.xlsx",
        &t.li,
        Some(&crate::inputs::xlsx_bomb(300, true)),
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stopped after inflating"),
        "{r}"
    );

    // Upload names: a NUL, 300 characters.
    let long = format!("{}.csv", "x".repeat(300));
    for name in ["a%00b.csv", long.as_str()] {
        let path = format!("/api/libraries/objects?filename={name}");
        let r = http.post(422, &path, &t.li, Some(first.as_bytes()));
        assert_eq!(r["error"]["code"], "invalid", "{r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("file name "),
            "{r}"
        );
    }
    assert_eq!(imports(&http), 1);
}
