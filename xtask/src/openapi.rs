//! `cargo xtask openapi [--check]`.

use std::path::{Path, PathBuf};

pub const SPEC_PATH: &str = "openapi/openapi.json";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The document, byte-stable: keys sorted (serde_json's map is ordered), a
/// pinned version from the source, and a trailing newline.
pub fn render() -> Result<String, String> {
    let spec = casebook_server::openapi();
    let value = serde_json::to_value(&spec).map_err(|e| format!("serialising the OpenAPI document: {e}"))?;
    let mut text = serde_json::to_string_pretty(&value).map_err(|e| format!("printing the OpenAPI document: {e}"))?;
    text.push('\n');
    Ok(text)
}

/// Writes the file, or in check mode fails when it differs (rust-analyzer's
/// `ensure_file_contents`).
pub fn ensure_file_contents(path: &Path, contents: &str, check: bool) -> Result<(), String> {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current == contents {
        return Ok(());
    }
    let shown = path
        .strip_prefix(workspace_root())
        .unwrap_or(path)
        .display()
        .to_string();
    if check {
        return Err(format!(
            "{shown} was not up-to-date: run `cargo xtask openapi` and commit"
        ));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{shown}: {e}"))?;
    }
    std::fs::write(path, contents).map_err(|e| format!("{shown}: {e}"))?;
    eprintln!("wrote {shown}");
    Ok(())
}

pub fn run(check: bool) -> Result<(), String> {
    ensure_file_contents(&workspace_root().join(SPEC_PATH), &render()?, check)
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_spec_is_up_to_date() {
        if let Err(e) = super::run(true) {
            panic!("{e}");
        }
    }
}
