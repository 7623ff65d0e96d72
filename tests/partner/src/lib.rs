//! This crate stands for a partner's: the test in `tests/` uses the SDK
//! against the real server, and the examples below check the surface a
//! partner gets from `casebook-domain` without the server's feature.
//!
//! What partners use is there: the forms and their offline rules.
//!
//! ```
//! use casebook_domain::{ApplicationForm, ErrorCode};
//! let refused = ApplicationForm::new("", "sync@partner.org").validate_offline().unwrap_err();
//! assert!(refused.has("name", ErrorCode::Required));
//! ```
//!
//! The server's own rules that live beside them are not: the seeded roles,
//!
//! ```compile_fail,E0603
//! let _ = casebook_domain::role::seeded_roles();
//! ```
//!
//! the facts only storage knows, and the form's storage-aware `validate`,
//!
//! ```compile_fail,E0603
//! let _: Option<casebook_domain::application::ApplicationFacts> = None;
//! ```
//!
//! ```compile_fail,E0624
//! # fn check(form: casebook_domain::ApplicationForm) {
//! let _ = form.validate(todo!());
//! # }
//! ```
//!
//! the scope narrowing of token issuance,
//!
//! ```compile_fail,E0603
//! let _ = casebook_domain::oauth::narrow_scope(None, Default::default());
//! ```
//!
//! and the modules only the server uses (lockout, quotas, key checks, …),
//! with a fresh secret's minting.
//!
//! ```compile_fail,E0603
//! let _ = casebook_domain::lockout::locked_until(&[], 0);
//! ```
//!
//! ```compile_fail,E0599
//! let _ = casebook_domain::ClientSecret::from_random([0; 33]);
//! ```
