//! Issue 11 item 2 through the daemon: a replacement needs a reason code, and a recusal over
//! the policy's cap on one team slot is refused (422, naming the cap); what was accepted still
//! verifies and `verify` prints the counts.

use serde_json::{Value, json};

use super::fixture::DrawnRun;
use super::harness::{Backend, verify_cli};

pub async fn replacements_are_coded_and_held_to_the_caps(b: &Backend) {
    let run = DrawnRun::start(b, 300).await;
    let path = format!("/api/runs/{}/replacements", run.id);
    let team = || -> (String, String) {
        let bundle: Value = serde_json::from_str(&run.bundle_text()).unwrap();
        let a = &bundle["result"]["final_assignments"][0];
        (
            a["object"].as_str().unwrap().to_owned(),
            a["inspectors"][0].as_str().unwrap().to_owned(),
        )
    };
    let (object, first) = team();
    let uncoded =
        json!({"kind": "inspector", "object": object, "inspector": first, "reason": "回避"})
            .to_string();
    let r = run
        .http
        .post(422, &path, &run.t.li, Some(uncoded.as_bytes()));
    let message = r["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("reason code is required") && message.contains("kinship"),
        "{message}"
    );
    for n in 0..3 {
        let (o, holder) = team();
        assert_eq!(o, object, "the recused object keeps its place");
        let body = json!({"kind": "inspector", "object": object, "inspector": holder,
                          "reason_code": "kinship", "reason": "回避"})
        .to_string();
        if n < 2 {
            run.http.post(200, &path, &run.t.li, Some(body.as_bytes()));
        } else {
            let r = run.http.post(422, &path, &run.t.li, Some(body.as_bytes()));
            let message = r["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("over the cap on recusals")
                    && message.contains("recusals_per_slot")
                    && message.contains("already had 2"),
                "{message}"
            );
        }
    }
    let bundle = run.bundle_text();
    let v: Value = serde_json::from_str(&bundle).unwrap();
    assert_eq!(v["result"]["replacements"].as_array().unwrap().len(), 2);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("public.json");
    std::fs::write(&file, &bundle).unwrap();
    let text = verify_cli(&file, None);
    assert!(
        text.contains("at most 2 recusal(s) on one team slot (cap 2)"),
        "{text}"
    );
}
