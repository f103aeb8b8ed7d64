//! The daemon as users meet it: the real binary started with `serve` on port 0, driven over
//! HTTP, killed and restarted; against SQLite always and PostgreSQL when one is available.
//! One file per story; every story test is instantiated here for both backends, so its name
//! stays `daemon::sqlite::<test>` (`daemon::postgres::<test>`), wherever its body lives.

mod access;
mod accounts;
mod attest;
mod drand;
mod enterprises;
mod fixture;
mod four_eyes;
mod harness;
mod kill;
mod lease;
mod lifecycle;
mod load;
mod log;
mod openapi;
mod replacements;
mod scheduler;
mod secrets;
mod uploads;

use harness::Backend;

backend_tests!(
    lifecycle::lifecycle_from_import_to_publication,
    attest::attestations_are_signed_checked_logged_and_served,
    lifecycle::fifty_concurrent_triggers_give_one_draw,
    kill::a_kill_during_any_transition_recovers,
    access::the_public_reaches_no_officer_endpoint,
    scheduler::cron_fires_run_once_and_missed_fires_collapse,
    scheduler::serve_demo_commits_the_due_run_once,
    lifecycle::an_impossible_draw_fails_in_public,
    lifecycle::weak_entropy_needs_the_task_flag,
    log::the_log_records_each_event_and_a_watcher_verifies_it,
    log::a_tampered_log_is_never_signed,
    load::many_keep_alive_clients_on_the_public_routes_all_get_answers,
    secrets::a_copy_of_the_database_holds_no_secret,
    secrets::the_audit_log_is_no_oracle_for_hidden_witness_values,
    lease::a_survivor_finishes_a_draw_whose_instance_died,
    uploads::bad_uploads_are_refused_with_their_place,
    accounts::a_name_is_one_account_however_many_race,
    accounts::the_bearer_scheme_is_case_insensitive_and_401_names_it,
    accounts::tokens_belong_to_accounts_expire_and_are_revoked,
    accounts::the_cli_on_the_database_is_the_way_back_in,
    accounts::three_first_starts_at_once_print_one_admin_token,
    accounts::a_demo_load_cut_short_is_finished_by_the_next_start,
    four_eyes::a_plan_and_its_amendments_are_approved_by_another_account,
    four_eyes::a_drawn_task_is_never_drawn_again,
    replacements::replacements_are_coded_and_held_to_the_caps,
    enterprises::the_public_check_tells_no_tier_cooldown_or_exclusion,
    enterprises::an_enterprise_gets_its_proof_only_with_its_access_code,
    enterprises::a_guessing_run_is_stopped,
);

#[cfg(unix)]
#[test]
fn the_database_files_are_private_and_a_readable_one_is_refused() {
    secrets::the_database_files_are_private_and_a_readable_one_is_refused()
}
