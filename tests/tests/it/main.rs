//! Every workspace-level integration test, in one binary: the real server on
//! a free port, over HTTP, each test on SQLite and on PostgreSQL through
//! [`casebook_tests::both_backends!`]. One binary links once, which on a
//! two-core builder is most of the time a test run takes to start.

mod admin;
mod api;
mod application_dpop;
mod audit_evidence;
mod authorization;
mod backup;
mod check;
mod client_secrets;
mod console;
mod contract;
mod disk_full;
mod dpop;
mod federated;
mod federated_limits;
mod hardening;
mod jose;
mod json_logs;
mod jwks_uri;
mod key_host;
mod leaks;
mod lifecycle;
mod master_keys;
mod method_change;
mod metrics_listener;
mod migrate;
mod notifications;
mod oauth;
mod passkeys;
mod password_links;
mod private_key_jwt;
mod quickstart;
mod quota;
mod replicas;
mod sdk;
mod sdk_keys;
mod sdk_secrets;
mod sdk_sign_in;
mod search;
mod secret_format;
mod secret_reminders;
mod served;
mod shapes;
mod signing;
mod smoke;
mod soft_passkey;
mod sources;
mod strong_sign_in;
mod tenant_attacks;
mod tenants;
mod tls;
mod traces;
mod upgrades;
mod weak_keys;
