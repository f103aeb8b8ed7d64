//! The draw lifecycle, one persisted state machine per task run:
//! committed → entropy → drawn → results → published (or failed).
//!
//! Each transition (`transition.rs`) is one compare-and-set write of the run document (plus the
//! documents it brings: snapshot, bundle) and its audit entry, so a crash leaves the run in the
//! state before or after a transition, never between. The draw secret is written in the same
//! transaction that makes the commitment visible, and lives in the run's secret column until
//! the draw copies it into the (then public) run and bundle.
//!
//! - `service.rs`: the `Runs` service and the reads every step shares; `settings.rs`.
//! - `model.rs`: the stored run; `results.rs`: what officers enter; `view.rs`: what callers see.
//! - `transition.rs`: the write of a transition (audit entry, log leaf, failpoint).
//! - `commit.rs`: trigger and the scheduler's due fires; `entropy.rs`: witness values and drand
//!   beacons; `draw.rs`: the draw, replacements, bundles; `check.rs`: an object's place in the
//!   published list, and its own proof; `publish.rs`: results and publication; `cache.rs`: the
//!   pool kept between a commitment and its draw.
//! - `attest.rs`: auditor attestations of a drawn run.
//! - `deadlines.rs`: publication deadlines; `gauges.rs`: counts for the metrics.

mod attest;
mod cache;
mod check;
mod commit;
mod deadlines;
mod draw;
mod entropy;
mod gauges;
mod model;
mod publish;
mod results;
mod service;
mod settings;
mod transition;
mod view;

pub use self::check::object_id;
pub use self::deadlines::DeadlineView;
pub use self::results::ResultInput;
pub use self::service::Runs;
pub use self::settings::{DrandSettings, DrawSettings, WitnessRequest};
pub use self::view::{
    EnterprisePage, OwnProof, PublicCheck, PublishedResults, RunSummary, RunView,
};
