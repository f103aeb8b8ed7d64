pub mod cli;
pub mod config;
pub mod core;
pub mod library;
pub mod server;
pub mod service;
pub mod store;
pub mod table;
