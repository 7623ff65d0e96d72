//! Names the commit a binary was built from, when it is built from a git
//! checkout: `casebook --version` and `casebook_build_info` show it, so an
//! operator can tell which build an install runs. Outside a checkout (a
//! source archive) the version stands alone.

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty() && text.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_default();
    println!("cargo:rustc-env=CASEBOOK_COMMIT={commit}");
    let version = env!("CARGO_PKG_VERSION");
    let long = if commit.is_empty() {
        version.to_owned()
    } else {
        format!("{version} (commit {commit})")
    };
    println!("cargo:rustc-env=CASEBOOK_LONG_VERSION={long}");
    // Built again when the checked-out commit moves, and only then.
    if let Ok(top) = Command::new("git").args(["rev-parse", "--git-dir"]).output()
        && top.status.success()
    {
        let git_dir = String::from_utf8_lossy(&top.stdout).trim().to_owned();
        let git_dir = Path::new(&git_dir);
        println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
        if let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD"))
            && let Some(reference) = head.strip_prefix("ref: ")
        {
            println!("cargo:rerun-if-changed={}", git_dir.join(reference.trim()).display());
        }
        println!("cargo:rerun-if-changed={}", git_dir.join("packed-refs").display());
    }
    println!("cargo:rerun-if-changed=build.rs");
}
