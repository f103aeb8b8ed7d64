//! Shared fixtures: small deterministic pools and draws.

use chrono::NaiveDate;
use double_random::cli::demo;
use double_random::core::Protocol;
use double_random::core::bundle::{DrawInputs, FullBundle};
use double_random::core::draw::ReplacementRequest;
use double_random::core::encode::sha256;
use double_random::core::entropy::{Announced, EntropySource};
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
        protocol: Protocol::CURRENT,
        task_id: format!("task-{label}"),
        policy,
        snapshot: Snapshot::new(objects, inspectors).unwrap(),
        salt_key: SaltKey(sha256(format!("salt {label}").as_bytes())),
        secret: Secret::new(sha256(format!("secret {label}").as_bytes()).to_vec()).unwrap(),
        announced: witness_only(),
        entropy: vec![witness_value(label)],
        beacons: Vec::new(),
        replacements: Vec::<ReplacementRequest>::new(),
    }
}

/// Witness values only: 0 bits of min-entropy, so the commitment says `allow_weak_entropy`.
pub fn witness_only() -> Announced {
    Announced {
        text: "witness: test (fixed numbers)".into(),
        sources: vec![EntropySource::Witness {
            event: "test".into(),
            witnesses: 1,
        }],
        allow_weak: true,
    }
}

/// Fixed witness numbers per label, in their canonical form.
pub fn witness_value(label: &str) -> Vec<u8> {
    let h = sha256(format!("entropy {label}").as_bytes());
    let mut n: Vec<u64> = h
        .chunks(8)
        .map(|c| u64::from(c[0]) * 256 + u64::from(c[1]))
        .collect();
    n.sort_unstable();
    n.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" ")
        .into_bytes()
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
