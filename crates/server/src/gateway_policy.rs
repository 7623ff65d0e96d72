//! `CASEBOOK_GATEWAY_POLICY`: the TOML file of forward auth's routes, read
//! and compiled once at start (and by `casebook check`). A file that does
//! not read, does not parse or names what does not exist stops the start
//! with where the mistake is.

use casebook_domain::gateway::{Policy, PolicyFile};
use std::io::Read;
use std::path::Path;

/// A policy larger than this is a mistake, not a policy.
const MAX_POLICY_BYTES: u64 = 1024 * 1024;

/// Reads and compiles the policy at `path`; the error names the file and,
/// for each mistake, the line (TOML) or the route.
pub fn load(path: &Path) -> Result<Policy, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("CASEBOOK_GATEWAY_POLICY {shown}: {e}"))?;
    let mut text = String::new();
    file.take(MAX_POLICY_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("CASEBOOK_GATEWAY_POLICY {shown}: {e}"))?;
    if text.len() as u64 > MAX_POLICY_BYTES {
        return Err(format!(
            "CASEBOOK_GATEWAY_POLICY {shown}: larger than {MAX_POLICY_BYTES} bytes"
        ));
    }
    parse(&text).map_err(|e| format!("CASEBOOK_GATEWAY_POLICY {shown}: {e}"))
}

/// The policy in `text`, or every mistake in it.
pub fn parse(text: &str) -> Result<Policy, String> {
    let file: PolicyFile = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
    Policy::compile(&file).map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use casebook_domain::gateway::{Decision, RouteAccess};

    #[test]
    fn the_contract_s_example_compiles() {
        let policy = parse(
            r#"
[[route]]
method = "GET"                         # or ["GET", "HEAD"], or "*"
path = "/placements/v2/children/{id}"  # {name}: one segment; {*rest}: the remainder
permission = "placements:view"

[[route]]
method = "*"
path = "/status"
public = true
"#,
        )
        .unwrap();
        assert_eq!(policy.len(), 2);
        assert_eq!(
            policy.decide("GET", "/status"),
            Decision::Route {
                route: 1,
                access: RouteAccess::Public
            }
        );
    }

    #[test]
    fn a_mistake_says_where_it_is() {
        let unknown_key =
            parse("[[route]]\nmethod = \"GET\"\npath = \"/a\"\npermision = \"placements:view\"\n").unwrap_err();
        assert!(unknown_key.contains("line 4"), "{unknown_key}");
        assert!(unknown_key.contains("permision"), "{unknown_key}");
        let bad_permission =
            parse("[[route]]\nmethod = \"GET\"\npath = \"/a\"\npermission = \"placements:fly\"\n").unwrap_err();
        assert!(bad_permission.starts_with("route 1: "), "{bad_permission}");
        let not_toml = parse("[[route]\n").unwrap_err();
        assert!(not_toml.contains("line 1"), "{not_toml}");
    }
}
