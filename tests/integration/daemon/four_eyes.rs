//! Separation of duties (四眼原则): a plan and an amendment are approved by another account
//! with the approver role, recorded as that account; a task with a draw is never drawn again,
//! neither through an amendment nor by a trigger after one; witnesses count per account.

use chrono::Datelike;
use double_random::library::plan::{Schedule, Task};
use double_random::service::{Actor, documents};
use serde_json::{Value, json};

use super::fixture::{ids, prepared, today};
use super::harness::{Backend, Http, office};
use crate::store::{ITEMS, TASK};

/// A new account with `role` and its token, made by the admin.
pub fn account(http: &Http, admin: &str, name: &str, role: &str) -> String {
    let body = json!({"name": name, "role": role}).to_string();
    http.post(201, "/api/tokens", admin, Some(body.as_bytes()))["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn error_of(v: &Value) -> (&str, &str) {
    (
        v["error"]["code"].as_str().unwrap_or(""),
        v["error"]["message"].as_str().unwrap_or(""),
    )
}

pub async fn a_plan_and_its_amendments_are_approved_by_another_account(b: &Backend) {
    let (_d, http, t) = office(b);
    let zhao = account(&http, &t.admin, "zhao", "approver");
    let items = "/api/libraries/items?filename=items.csv";
    http.post(200, items, &t.li, Some(ITEMS.as_bytes()));
    let plan = json!({"id": "2027", "year": 2027, "name": "2027年度抽查计划"}).to_string();
    // The probe: one officer created, submitted and approved their own plan.
    http.post(201, "/api/plans", &t.li, Some(plan.as_bytes()));
    http.post(201, "/api/plans/2027/tasks", &t.li, Some(TASK.as_bytes()));
    http.post(200, "/api/plans/2027/submit", &t.li, None);
    let r = http.post(403, "/api/plans/2027/approve", &t.li, None);
    assert!(error_of(&r).1.contains("needs approver"), "{r}");
    // An approver who wrote part of the plan (here: a task) is no second pair of eyes.
    let p2 = json!({"id": "2028", "year": 2028, "name": "x"}).to_string();
    http.post(201, "/api/plans", &t.li, Some(p2.as_bytes()));
    let t2 = TASK
        .replace("T-2027-01", "T-2028-01")
        .replace("2027-", "2028-");
    http.post(201, "/api/plans/2028/tasks", &t.wang, Some(t2.as_bytes()));
    http.post(200, "/api/plans/2028/submit", &t.li, None);
    let r = http.post(403, "/api/plans/2028/approve", &t.wang, None);
    assert!(error_of(&r).1.contains("four eyes"), "{r}");
    http.post(200, "/api/plans/2028/approve", &zhao, None);
    // Another approver account approves, and the plan records it.
    let r = http.post(200, "/api/plans/2027/approve", &t.wang, None);
    assert_eq!(
        (&r["approved_by"], &r["authors"]),
        (&json!("wang"), &json!(["li"]))
    );

    // The probe: a free-text approver and a new date. No approver is taken from the query.
    let second = TASK.replace("T-2027-01", "T-2027-02");
    let path = "/api/plans/2027/amendments?approver=%E5%B1%80%E9%95%BF%E6%9C%AC%E4%BA%BA&reason=x";
    let r = http.post(422, path, &t.li, Some(second.as_bytes()));
    assert!(error_of(&r).1.contains("approver role"), "{r}");
    let r = http.post(
        422,
        "/api/plans/2027/amendments",
        &t.li,
        Some(second.as_bytes()),
    );
    assert!(error_of(&r).1.contains("reason"), "{r}");
    // Proposed: nothing changes until another approver approves.
    let propose = "/api/plans/2027/amendments?reason=%E6%96%B0%E5%A2%9E";
    let a = http.post(201, propose, &t.li, Some(second.as_bytes()));
    assert_eq!((&a["number"], &a["state"]), (&json!(1), &json!("proposed")));
    let public = http.expect(200, "GET", "/api/public/plans/2027", None, None);
    assert_eq!(public["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(public["amendments"][0]["state"], "proposed");
    http.expect(404, "GET", "/api/public/tasks/T-2027-02", None, None);
    let r = http.post(403, "/api/plans/2027/amendments/1/approve", &t.li, None);
    assert!(error_of(&r).1.contains("needs approver"), "{r}");
    // An approver does not approve their own proposal.
    let moved = TASK.replace("date = 2027-03-05", "date = 2027-03-20");
    let a2 = http.post(201, propose, &t.wang, Some(moved.as_bytes()));
    assert_eq!(a2["number"], 2);
    let r = http.post(403, "/api/plans/2027/amendments/2/approve", &t.wang, None);
    assert!(error_of(&r).1.contains("four eyes"), "{r}");
    let a = http.post(200, "/api/plans/2027/amendments/1/approve", &zhao, None);
    assert_eq!(
        (&a["state"], &a["approver"], &a["proposed_by"]),
        (&json!("approved"), &json!("zhao"), &json!("li"))
    );
    http.expect(200, "GET", "/api/public/tasks/T-2027-02", None, None);
    let r = http.post(422, "/api/plans/2027/amendments/1/approve", &zhao, None);
    assert!(error_of(&r).1.contains("approved already"), "{r}");
    // Two proposals for one task: the first approved wins, the other is stale.
    let other = TASK.replace("date = 2027-03-05", "date = 2027-03-25");
    http.post(201, propose, &t.li, Some(other.as_bytes()));
    http.post(200, "/api/plans/2027/amendments/2/approve", &zhao, None);
    let r = http.post(409, "/api/plans/2027/amendments/3/approve", &zhao, None);
    assert!(error_of(&r).1.contains("changed since"), "{r}");
    let task = http.expect(200, "GET", "/api/public/tasks/T-2027-01", None, None);
    assert_eq!(task["task"]["schedule"]["date"], "2027-03-20", "{task}");
    // The audit log names the accounts.
    let audit = http.expect(200, "GET", "/api/audit?limit=1000", Some(&t.auditor), None);
    let approvals: Vec<(&str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().ends_with("approve"))
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        approvals,
        [
            ("plan.approve", "zhao"),
            ("plan.approve", "wang"),
            ("plan.amend.approve", "zhao"),
            ("plan.amend.approve", "zhao")
        ]
    );
}

/// A date in the demo task's window other than today.
fn another_day() -> chrono::NaiveDate {
    let t = today();
    if t.day() == 1 {
        t.succ_opt().unwrap()
    } else {
        t.pred_opt().unwrap()
    }
}

pub async fn a_drawn_task_is_never_drawn_again(b: &Backend) {
    let lib = prepared(b, 200).await;
    let (d, http, t) = office(b);
    let (plan, task_id, run) = ids();
    let moved = std::fs::read_to_string(lib.join("task.toml"))
        .unwrap()
        .replace(
            &format!("date = {}", today()),
            &format!("date = {}", another_day()),
        );
    assert!(moved.contains(&another_day().to_string()), "{moved}");
    let propose = format!("/api/plans/{plan}/amendments?reason=move");
    // Proposed before the draw, approved after it: refused at approval.
    let early = http.post(201, &propose, &t.li, Some(moved.as_bytes()));
    let draw = format!("/api/tasks/{task_id}/draw");
    http.post(201, &draw, &t.li, None);

    // Witnesses count per account: li's second token is still li.
    let li2 = http.post(201, "/api/accounts/li/tokens", &t.admin, None)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let entropy = format!("/api/runs/{run}/entropy");
    let values = json!({"values": "9 8 7"}).to_string();
    http.post(200, &entropy, &t.li, Some(values.as_bytes()));
    let r = http.post(200, &entropy, &li2, Some(values.as_bytes()));
    assert_eq!(r["state"], "committed", "one account is one witness: {r}");
    let r = http.post(200, &entropy, &t.wang, Some(values.as_bytes()));
    assert_eq!(r["state"], "drawn", "{r}");

    let approve = format!("/api/plans/{plan}/amendments/{}/approve", early["number"]);
    let r = http.post(422, &approve, &t.wang, None);
    assert!(error_of(&r).1.contains("never drawn twice"), "{r}");
    // Amending the date of the drawn task: refused when proposed.
    let r = http.post(422, &propose, &t.li, Some(moved.as_bytes()));
    assert!(error_of(&r).1.contains("never drawn twice"), "{r}");
    // Triggering again: the same run, not a second one.
    let again = http.post(200, &draw, &t.li, None);
    assert_eq!(again["id"], run.as_str());

    // A task redefined anyway (as in a database from before this rule): its trigger, and the
    // scheduler, draw it no second time.
    let s = b.store().await;
    let stored = documents::get::<Task>(&*s, &task_id)
        .await
        .unwrap()
        .unwrap();
    let mut redefined = stored.value.clone();
    redefined.schedule = Schedule::Date(another_day());
    let (doc, op) = documents::put(&redefined, Some(&stored));
    let who = Actor {
        name: "someone with the database".into(),
        reason: "redraw".into(),
    };
    let audit = documents::draft(&who, "task.replace", &task_id, &[&doc]);
    s.write_docs(vec![op], audit).await.unwrap();
    s.close().await;
    let r = http.post(422, &draw, &t.li, None);
    assert!(error_of(&r).1.contains("no second draw"), "{r}");
    let runs = http.expect(200, "GET", "/api/public/runs", None, None);
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    drop(d);
}
