//! A forwarded URI as a proxy sends it to forward auth
//! (`casebook_domain::gateway`), judged by a fixed policy.
//!
//! Properties: nothing panics; normalising is idempotent and yields an
//! absolute path without dot segments, query or fragment; the decision of
//! a URI is the decision of its normalised path; an encoded slash is never
//! matched.

#![no_main]

use casebook_domain::gateway::{Decision, MethodSpec, Policy, PolicyFile, RouteSpec, normalise};
use libfuzzer_sys::fuzz_target;

fn policy() -> Policy {
    let route = |method: &str, path: &str, permission: Option<&str>| RouteSpec {
        method: MethodSpec::One(method.to_owned()),
        path: path.to_owned(),
        permission: permission.map(str::to_owned),
        public: permission.is_none(),
    };
    Policy::compile(&PolicyFile {
        route: vec![
            route("GET", "/placements/v2/children/{id}", Some("placements:view")),
            route("*", "/status", None),
            route("*", "/placements/{*rest}", Some("placements:edit")),
            route("GET", "/", None),
        ],
    })
    .expect("the fixed policy compiles")
}

fuzz_target!(|data: &[u8]| {
    let Ok(uri) = std::str::from_utf8(data) else { return };
    let policy = policy();
    let decided = policy.decide("GET", uri);
    match normalise(uri) {
        Err(why) => assert_eq!(decided, Decision::Unsafe(why)),
        Ok(path) => {
            assert!(path.starts_with('/'), "{path:?}");
            assert!(!path.contains(['?', '#']), "{path:?}");
            assert!(path.split('/').all(|s| s != "." && s != ".."), "{path:?}");
            assert_eq!(normalise(&path).as_deref(), Ok(path.as_str()), "normalising twice");
            assert_eq!(policy.decide("GET", &path), decided, "{uri:?} -> {path:?}");
            let raw_path = uri.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
            for separator in ["%2f", "%5c", "%00"] {
                assert!(!raw_path.contains(separator), "an encoded separator was matched: {uri:?}");
            }
        }
    }
});
