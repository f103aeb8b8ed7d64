//! Shared fixtures: small deterministic pools and draws.

use chrono::NaiveDate;
use double_random::cli::demo;
use double_random::core::bundle::{DrawInputs, FullBundle};
use double_random::core::draw::ReplacementRequest;
use double_random::core::encode::sha256;
use double_random::core::model::{Inspector, Object, Snapshot};
use double_random::core::policy::Policy;
use double_random::core::pool::CommittedPool;
use double_random::core::secret::{SaltKey, Secret};

pub fn draw_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

pub fn pool(objects: u64, inspectors: u64, seed: u64) -> (Vec<Object>, Vec<Inspector>) {
    let objs = demo::objects(objects, inspectors, seed, draw_date());
    let ins = demo::inspectors(inspectors, &objs, seed, draw_date());
    (objs.into_iter().map(|d| d.object).collect(), ins)
}

pub fn demo_policy() -> Policy {
    Policy::from_toml(&demo::policy_toml(draw_date())).unwrap()
}

pub fn policy(toml: &str) -> Policy {
    Policy::from_toml(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"))
}

pub fn inputs(
    policy: Policy,
    objects: Vec<Object>,
    inspectors: Vec<Inspector>,
    label: &str,
) -> DrawInputs {
    DrawInputs {
        task_id: format!("task-{label}"),
        policy,
        snapshot: Snapshot::new(objects, inspectors).unwrap(),
        salt_key: SaltKey(sha256(format!("salt {label}").as_bytes())),
        secret: Secret::new(sha256(format!("secret {label}").as_bytes()).to_vec()).unwrap(),
        entropy_source: "test: fixed entropy".into(),
        entropy: vec![format!("entropy {label}").into_bytes()],
        beacons: Vec::new(),
        replacements: Vec::<ReplacementRequest>::new(),
    }
}

pub fn draw(inputs: DrawInputs) -> (FullBundle, CommittedPool) {
    FullBundle::create(inputs).unwrap()
}

/// One test body per name, run against SQLite (always) and PostgreSQL (ignored unless a
/// server is given: DOUBLE_RANDOM_TEST_PG, `--ignored`). Each body takes a `&Backend`; a body
/// in a submodule (`story::name`) gives its test the plain name (`sqlite::name`).
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        backend_tests!(@ $([$name] $name),*);
    };
    ($($module:ident :: $name:ident),* $(,)?) => {
        backend_tests!(@ $([$module::$name] $name),*);
    };
    (@ $([$($body:ident)::+] $name:ident),*) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$($body)::+(&super::Backend::sqlite().await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: set DOUBLE_RANDOM_TEST_PG and pass --ignored (.ci/run does)"]
                async fn $name() {
                    super::$($body)::+(&super::Backend::postgres().await).await
                }
            )*
        }
    };
}
