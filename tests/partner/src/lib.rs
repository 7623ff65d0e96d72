//! Nothing but the test in `tests/`: this crate stands for a partner's.
