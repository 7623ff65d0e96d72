//! The command line: `--quick`, `--binary PATH`, and the release build.

use super::USAGE;
use crate::openapi::workspace_root;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long and how much: the full run, or `--quick`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    pub(super) quick: bool,
    pub(super) warmup: Duration,
    pub(super) phase: Duration,
    pub(super) rss_tokens: u64,
    pub(super) scale_apps: usize,
    pub(super) spread_clients: usize,
    pub(super) list_rate: u32,
}

impl Plan {
    pub(super) fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                warmup: Duration::from_secs(1),
                phase: Duration::from_secs(4),
                rss_tokens: 20_000,
                scale_apps: 10_000,
                spread_clients: 1_000,
                list_rate: 50,
            }
        } else {
            Self {
                quick,
                warmup: Duration::from_secs(2),
                phase: Duration::from_secs(10),
                rss_tokens: 200_000,
                scale_apps: 100_000,
                spread_clients: 10_000,
                list_rate: 50,
            }
        }
    }
}

/// What the command line asked for.
#[derive(Debug)]
pub(super) struct Options {
    pub(super) quick: bool,
    /// The binary given with `--binary`, when one was.
    pub(super) given: Option<PathBuf>,
}

impl Options {
    pub(super) fn parse(args: &[String]) -> Result<Self, String> {
        let mut quick = false;
        let mut given: Option<PathBuf> = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let path = match arg.as_str() {
                "--quick" => {
                    quick = true;
                    continue;
                }
                "--binary" => args.next().ok_or(format!("--binary needs a path; {USAGE}"))?,
                other => other
                    .strip_prefix("--binary=")
                    .ok_or(format!("unknown argument {other:?}; {USAGE}"))?,
            };
            if given.replace(PathBuf::from(path)).is_some() {
                return Err(format!("--binary given twice; {USAGE}"));
            }
        }
        Ok(Self { quick, given })
    }
}

pub(super) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A `casebook` binary built elsewhere (another commit, another target
/// directory), benchmarked as it is.
pub(super) fn given_binary(path: &Path) -> Result<PathBuf, String> {
    // Absolute, so the path printed with the figures says which build they are.
    let binary = std::fs::canonicalize(path).map_err(|e| format!("--binary {}: {e}", path.display()))?;
    if !binary.is_file() {
        return Err(format!("--binary {}: not a file", binary.display()));
    }
    println!("binary: {} (given with --binary; nothing built)", binary.display());
    Ok(binary)
}

pub(super) fn build_release() -> Result<PathBuf, String> {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    println!("building: cargo build --release -p casebook-server");
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "casebook-server"])
        .current_dir(&root)
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err("the release build failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let binary = target.join("release").join("casebook");
    binary
        .is_file()
        .then_some(binary.clone())
        .ok_or_else(|| format!("{} was not built", binary.display()))
}
