//! One integration-test crate: the CLI spawned as a process, frozen vectors, properties,
//! statistics, and matching rules through the library API.

#[macro_use]
mod support;

mod architecture;
mod backend;
mod cli;
mod daemon;
mod entropy;
mod fuzz_corpus;
mod independent;
mod inputs;
mod library_cli;
mod matching;
mod privacy;
mod properties;
mod statistics;
mod store;
mod vectors;
