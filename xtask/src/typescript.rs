//! `cargo xtask typescript [--check]`: the TypeScript SDK's types, generated
//! from `openapi/openapi.json` by the package's own pinned generator.

use crate::openapi::{ensure_file_contents, workspace_root};
use std::path::Path;
use std::process::Command;

pub const PACKAGE_DIR: &str = "sdks/typescript";
pub const GENERATED_PATH: &str = "sdks/typescript/src/generated/openapi.ts";

fn npm(package: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new("npm")
        .args(args)
        .current_dir(package)
        .status()
        .map_err(|e| format!("running npm {}: {e} (is Node.js installed?)", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("npm {} failed ({status})", args.join(" ")))
    }
}

pub fn run(check: bool) -> Result<(), String> {
    let root = workspace_root();
    let package = root.join(PACKAGE_DIR);
    let generated = root.join(GENERATED_PATH);
    if !package.join("node_modules").is_dir() {
        npm(&package, &["ci", "--no-audit", "--no-fund"])?;
    }
    // The generator writes the file itself; what it wrote is compared with
    // what was committed, which is put back in check mode.
    let committed = std::fs::read_to_string(&generated).unwrap_or_default();
    npm(&package, &["run", "--silent", "generate"])?;
    let fresh = std::fs::read_to_string(&generated).map_err(|e| format!("{GENERATED_PATH}: {e}"))?;
    if check {
        std::fs::write(&generated, &committed).map_err(|e| format!("{GENERATED_PATH}: {e}"))?;
        return ensure_file_contents(&generated, &fresh, true)
            .map_err(|_| format!("{GENERATED_PATH} was not up-to-date: run `cargo xtask typescript` and commit"));
    }
    Ok(())
}
