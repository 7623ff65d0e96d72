//! The architecture map stays whole: every folder at the root, and every
//! source file under `crates/*/src`, is named on some line of
//! `ARCHITECTURE.md`, so that a newcomer finds each room one hop from it.
//!
//! A folder is named as `` `name/` ``. A file is named by its path from its
//! crate's `src/` (`` `http/oauth.rs` ``) inside that crate's section (the
//! part under a heading that names `` `crates/<name>` ``), or by its whole
//! path anywhere. Unit-test modules beside the code (`tests.rs`,
//! `*_tests.rs`, anything under a `tests/` folder in `src/`) are part of the
//! file they test and need no line of their own.

use std::fs;
use std::path::{Path, PathBuf};

/// Folders at the root that are not part of the house.
const NOT_ROOMS: [&str; 3] = [".git", "target", "node_modules"];

/// Everything the map should name and does not.
pub fn unmapped(root: &Path) -> Result<Vec<String>, String> {
    let map_path = root.join("ARCHITECTURE.md");
    let map = fs::read_to_string(&map_path).map_err(|e| format!("{}: {e}", map_path.display()))?;
    let mut missing = Vec::new();
    for folder in entries(root)? {
        let Some(name) = folder.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if folder.is_dir() && !NOT_ROOMS.contains(&name) && !map.contains(&format!("`{name}/")) {
            missing.push(format!("{name}/ (a folder at the root)"));
        }
    }
    for krate in entries(&root.join("crates"))? {
        let src = krate.join("src");
        if !src.is_dir() {
            continue;
        }
        let crate_path = format!(
            "crates/{}",
            krate.file_name().and_then(|n| n.to_str()).unwrap_or_default()
        );
        let section = section_of(&map, &crate_path);
        let mut files = Vec::new();
        sources(&src, &mut files)?;
        for file in files {
            let relative = file
                .strip_prefix(&src)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            if is_test_module(&relative) {
                continue;
            }
            let whole = format!("`{crate_path}/src/{relative}`");
            if !map.contains(&whole) && !section.contains(&format!("`{relative}`")) {
                missing.push(format!("{crate_path}/src/{relative}"));
            }
        }
    }
    Ok(missing)
}

/// The lines under the heading that names `` `crates/<name>` ``, up to the
/// next heading of the same or a higher level.
fn section_of(map: &str, crate_path: &str) -> String {
    let mut inside: Option<usize> = None;
    let mut section = String::new();
    for line in map.lines() {
        let level = line.chars().take_while(|c| *c == '#').count();
        if level > 0 && line[level..].starts_with(' ') {
            if inside.is_some_and(|at| level <= at) {
                inside = None;
            }
            if line.contains(&format!("`{crate_path}`")) {
                inside = Some(level);
                continue;
            }
        }
        if inside.is_some() {
            section.push_str(line);
            section.push('\n');
        }
    }
    section
}

fn is_test_module(relative: &str) -> bool {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    name == "tests.rs" || name.ends_with("_tests.rs") || relative.split('/').any(|part| part == "tests")
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        paths.push(entry.map_err(|e| format!("{}: {e}", dir.display()))?.path());
    }
    paths.sort();
    Ok(paths)
}

fn sources(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    for path in entries(dir)? {
        if path.is_dir() {
            sources(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_found_in_its_own_crates_section_only() {
        let map =
            "## Map\n### `crates/a` — a\n- `lib.rs`: x\n### `crates/b`\n- `other.rs`\n## Elsewhere\n- `late.rs`\n";
        let a = section_of(map, "crates/a");
        assert!(a.contains("`lib.rs`") && !a.contains("`other.rs`"));
        assert!(
            !section_of(map, "crates/b").contains("`late.rs`"),
            "a higher heading ends the section"
        );
    }

    #[test]
    fn test_modules_beside_the_code_need_no_line() {
        assert!(is_test_module("client_keys/tests.rs"));
        assert!(is_test_module("application/limits_tests.rs"));
        assert!(!is_test_module("contests.rs"));
        assert!(!is_test_module("http/oauth.rs"));
    }
}
