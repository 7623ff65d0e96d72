use super::*;
use crate::permission::{Action, Module};
use proptest::prelude::*;

fn spec(method: &str, path: &str, access: &str) -> RouteSpec {
    RouteSpec {
        method: if method.starts_with('[') {
            MethodSpec::Many(method[1..method.len() - 1].split(',').map(str::to_owned).collect())
        } else {
            MethodSpec::One(method.to_owned())
        },
        path: path.to_owned(),
        permission: (access != "public").then(|| access.to_owned()),
        public: access == "public",
    }
}

fn policy(routes: &[(&str, &str, &str)]) -> Policy {
    let file = PolicyFile {
        route: routes.iter().map(|(m, p, a)| spec(m, p, a)).collect(),
    };
    Policy::compile(&file).expect("compiles")
}

fn needs(module: Module, action: Action) -> RouteAccess {
    RouteAccess::Needs(Permission::new(module, action))
}

fn platform() -> Policy {
    policy(&[
        ("GET", "/placements/v2/children/{id}", "placements:view"),
        ("[GET,HEAD]", "/providers/{*rest}", "providers:view"),
        ("*", "/status", "public"),
        ("POST", "/placements/v2/children", "placements:create"),
        ("*", "/placements/{*rest}", "placements:edit"),
    ])
}

#[test]
fn the_first_route_that_matches_decides() {
    let p = platform();
    let at = |method: &str, uri: &str| match p.decide(method, uri) {
        Decision::Route { route, access } => Some((route, access)),
        _ => None,
    };
    let placements_view = needs(Module::Placements, Action::View);
    assert_eq!(at("GET", "/placements/v2/children/7"), Some((0, placements_view)));
    assert_eq!(at("GET", "/placements/v2/children/7?x=1#f"), Some((0, placements_view)));
    // The first route does not take POST; the catch-all after it does.
    assert_eq!(
        at("POST", "/placements/v2/children/7"),
        Some((4, needs(Module::Placements, Action::Edit)))
    );
    assert_eq!(
        at("POST", "/placements/v2/children"),
        Some((3, needs(Module::Placements, Action::Create)))
    );
    assert_eq!(at("HEAD", "/providers/a/b/c"), Some((1, needs(Module::Providers, Action::View))));
    assert_eq!(at("DELETE", "/status"), Some((2, RouteAccess::Public)));
    // A method compares with case; a parameter takes one non-empty segment;
    // a catch-all takes one segment or more.
    assert_eq!(p.decide("get", "/status/x"), Decision::NoRoute);
    assert_eq!(p.decide("GET", "/placements/v2/children/"), Decision::Route {
        route: 4,
        access: needs(Module::Placements, Action::Edit)
    });
    assert_eq!(p.decide("GET", "/providers/"), Decision::NoRoute);
    assert_eq!(p.decide("GET", "/providers"), Decision::NoRoute);
    assert_eq!(p.decide("GET", "/investigations/1"), Decision::NoRoute);
}

#[test]
fn a_uri_is_normalised_before_matching() {
    let p = platform();
    let route = |uri: &str| match p.decide("GET", uri) {
        Decision::Route { route, .. } => Some(route),
        _ => None,
    };
    // A public route's prefix does not make what follows public.
    assert_eq!(route("/status/../placements/v2/children/7"), Some(0));
    assert_eq!(route("/status/%2e%2e/placements/v2/children/7"), Some(0));
    assert_eq!(route("/status/%2E%2E/placements/v2/children/7"), Some(0));
    assert_eq!(route("/placements/v2/./children/7"), Some(0));
    assert_eq!(route("/%70lacements/v2/children/7"), Some(0));
    assert_eq!(route("/../../status"), Some(2));
    assert_eq!(route("/status/."), None, "/status/ is not /status");
    for (uri, why) in [
        ("/placements%2Fv2/children/7", Unsafe::EncodedSeparator),
        ("/status/..%2f..%2fadmin", Unsafe::EncodedSeparator),
        ("/status/%5c..", Unsafe::EncodedSeparator),
        ("/status%00", Unsafe::EncodedSeparator),
        ("/status\\..\\admin", Unsafe::Backslash),
        ("/status%", Unsafe::BrokenEscape),
        ("/status%zz", Unsafe::BrokenEscape),
        ("/status%+1", Unsafe::BrokenEscape),
        ("/sta\ttus", Unsafe::ControlCharacter),
        ("status", Unsafe::NotAPath),
        ("", Unsafe::NotAPath),
        ("https://evil.example/status", Unsafe::NotAPath),
    ] {
        assert_eq!(p.decide("GET", uri), Decision::Unsafe(why), "{uri}");
    }
    // Reserved characters stay encoded, in one case.
    assert_eq!(normalise("/a%3a%3Ab").unwrap(), "/a%3A%3Ab");
}

#[test]
fn every_mistake_in_a_policy_is_named_with_its_route() {
    let file = PolicyFile {
        route: vec![
            spec("GET", "/ok/{id}", "placements:view"),
            spec("get", "/a", "placements:view"),
            spec("GET", "b", "placements:view"),
            spec("GET", "/c", "placements:fly"),
            spec("GET", "/d/{*rest}/e", "placements:view"),
            spec("GET", "/e/{id}/{id}", "placements:view"),
            spec("GET", "/f/x{id}", "placements:view"),
            spec("GET", "/g/../h", "placements:view"),
            spec("[]", "/i", "placements:view"),
            RouteSpec {
                public: true,
                ..spec("GET", "/j", "placements:view")
            },
            RouteSpec {
                permission: None,
                ..spec("GET", "/k", "placements:view")
            },
            spec("GET", "/l%2fm", "placements:view"),
            spec("[GET,*]", "/n", "placements:view"),
        ],
    };
    let errors = Policy::compile(&file).unwrap_err();
    let routes: Vec<usize> = errors.iter().map(|e| e.route).collect();
    assert_eq!(routes, (2..=13).collect::<Vec<_>>(), "{errors:#?}");
    assert!(errors[2].to_string().starts_with("route 4: (path \"/c\") permission \"placements:fly\""));
    let empty = Policy::compile(&PolicyFile { route: vec![] }).unwrap_err();
    assert_eq!(empty[0].route, 0);
}

/// A segment as a client might write it: plain, with some unreserved
/// characters percent-encoded, or a parameter's value.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("v2".to_owned()),
        "[a-z0-9~._-]{1,6}",
    ]
}

fn route_spec() -> impl Strategy<Value = RouteSpec> {
    let pattern_segment = prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("v2".to_owned()),
        Just("{p}".to_owned()),
    ];
    (
        prop::collection::vec(pattern_segment, 1..4),
        any::<bool>(),
        prop_oneof![Just("GET"), Just("POST"), Just("*")],
        prop_oneof![Just("public"), Just("placements:view"), Just("providers:edit")],
    )
        .prop_map(|(segments, rest, method, access)| {
            // Each parameter has its own name.
            let named: Vec<String> = segments
                .iter()
                .enumerate()
                .map(|(i, s)| if s == "{p}" { format!("{{p{i}}}") } else { s.clone() })
                .collect();
            let mut path = format!("/{}", named.join("/"));
            if rest {
                path.push_str("/{*rest}");
            }
            spec(method, &path, access)
        })
}

/// `text` with every character that may be encoded encoded or not, by `mask`.
fn encode_some(text: &str, mask: u64) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            if c != '/' && mask >> (i % 64) & 1 == 1 {
                format!("%{:02x}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

proptest! {
    /// A URI is decided by exactly the first route that alone would match it.
    #[test]
    fn the_decision_is_the_first_route_that_matches_alone(
        specs in prop::collection::vec(route_spec(), 1..6),
        segments in prop::collection::vec(segment(), 1..6),
        method in prop_oneof![Just("GET"), Just("POST"), Just("DELETE")],
    ) {
        let whole = Policy::compile(&PolicyFile { route: specs.clone() }).unwrap();
        let uri = format!("/{}", segments.join("/"));
        let first_alone = specs.iter().position(|one| {
            let alone = Policy::compile(&PolicyFile { route: vec![one.clone()] }).unwrap();
            matches!(alone.decide(method, &uri), Decision::Route { .. })
        });
        match whole.decide(method, &uri) {
            Decision::Route { route, .. } => prop_assert_eq!(Some(route), first_alone),
            Decision::NoRoute => prop_assert_eq!(None, first_alone),
            Decision::Unsafe(why) => prop_assert!(false, "{uri}: {why:?}"),
        }
    }

    /// Encoding unreserved characters, or adding dot segments, never
    /// changes the decision.
    #[test]
    fn spellings_of_one_path_are_decided_alike(
        specs in prop::collection::vec(route_spec(), 1..6),
        segments in prop::collection::vec(segment(), 1..6),
        mask in any::<u64>(),
        detour in segment().prop_filter("a detour is a real segment", |s| s != "." && s != ".."),
    ) {
        let policy = Policy::compile(&PolicyFile { route: specs }).unwrap();
        let plain = format!("/{}", segments.join("/"));
        let encoded = encode_some(&plain, mask);
        let (head, tail) = segments.split_at(1);
        let dotted = format!("/{}/./{detour}/../{}", head.join("/"), tail.join("/"));
        let decided = policy.decide("GET", &plain);
        prop_assert_eq!(policy.decide("GET", &encoded), decided, "{}", encoded);
        if !tail.is_empty() {
            prop_assert_eq!(policy.decide("GET", &dotted), decided, "{}", dotted);
        }
    }

    /// An encoded slash anywhere is refused whatever the policy says.
    #[test]
    fn an_encoded_slash_is_never_matched(
        specs in prop::collection::vec(route_spec(), 1..6),
        segments in prop::collection::vec(segment(), 1..4),
        at in 0usize..4,
    ) {
        let policy = Policy::compile(&PolicyFile { route: specs }).unwrap();
        let mut parts = segments.clone();
        let at = at.min(parts.len() - 1);
        parts[at].push_str("%2F");
        let uri = format!("/{}", parts.join("/"));
        prop_assert_eq!(policy.decide("GET", &uri), Decision::Unsafe(Unsafe::EncodedSeparator));
    }
}
