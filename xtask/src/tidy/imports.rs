//! Import circles: which modules of the house name each other, directly or
//! through others.
//!
//! A Rust module's edges are the `crate::…` and `super::…` paths its
//! non-test code names. An edge is lifted to the two siblings under the
//! deepest module both ends share (`crate::auth` naming
//! `crate::http::oauth` is `auth → http`), so a circle between two subtrees
//! counts however deep its files sit; a module naming its own ancestor or
//! descendant is not an edge, as a parent and its children are one room.
//! JavaScript and TypeScript modules are compared file by file through their
//! relative `import … from` and `export … from` lines.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// One import circle: the modules on it, and for each step the file that
/// names the next module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circle {
    pub members: Vec<String>,
    pub witnesses: Vec<String>,
}

impl std::fmt::Display for Circle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.members.join(" ↔ "))?;
        for witness in &self.witnesses {
            write!(f, "\n    {witness}")?;
        }
        Ok(())
    }
}

/// Every import circle in the house: the Rust crates, the console's
/// scripts and the TypeScript SDK.
pub fn circles(root: &Path) -> Result<Vec<Circle>, String> {
    let mut found = Vec::new();
    for krate in rust_crates(root)? {
        for entry in ["src/lib.rs", "src/main.rs"] {
            let entry = krate.join(entry);
            if entry.exists() {
                let graph = rust_graph(root, &entry)?;
                found.extend(graph.circles());
            }
        }
    }
    for dir in ["crates/server/assets/console", "sdks/typescript/src", "tests/ui"] {
        let dir = root.join(dir);
        if dir.exists() {
            found.extend(script_graph(root, &dir)?.circles());
        }
    }
    Ok(found)
}

fn rust_crates(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut crates: Vec<PathBuf> = read_dir(&root.join("crates"))?
        .into_iter()
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    crates.extend(
        ["xtask", "tests", "fuzz"]
            .iter()
            .map(|dir| root.join(dir))
            .filter(|p| p.join("Cargo.toml").exists()),
    );
    crates.sort();
    Ok(crates)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        paths.push(entry.map_err(|e| format!("{}: {e}", dir.display()))?.path());
    }
    paths.sort();
    Ok(paths)
}

fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// Names and the edges between them, with a witness for each edge.
#[derive(Debug, Default)]
struct Graph {
    /// What the members of a circle are called in the report.
    label: BTreeMap<Vec<String>, String>,
    edges: BTreeMap<Vec<String>, BTreeMap<Vec<String>, String>>,
}

impl Graph {
    fn add(&mut self, from: Vec<String>, to: Vec<String>, witness: String) {
        self.edges.entry(from).or_default().entry(to).or_insert(witness);
    }

    /// The strongly connected components of more than one node, each told as
    /// one shortest circle through its first member.
    fn circles(&self) -> Vec<Circle> {
        let nodes: BTreeSet<&Vec<String>> = self
            .edges
            .keys()
            .chain(self.edges.values().flat_map(|to| to.keys()))
            .collect();
        let mut circles = Vec::new();
        let mut placed: BTreeSet<&Vec<String>> = BTreeSet::new();
        for start in &nodes {
            if placed.contains(start) {
                continue;
            }
            let Some(path) = self.shortest_return(start) else {
                continue;
            };
            let component: BTreeSet<&Vec<String>> = nodes
                .iter()
                .copied()
                .filter(|n| self.reaches(start, n) && self.reaches(n, start))
                .collect();
            let mut members = Vec::new();
            let mut witnesses = Vec::new();
            for pair in path.windows(2) {
                members.push(self.name(pair[0]));
                witnesses.push(self.edges[pair[0]][pair[1]].clone());
            }
            // The rest of a tangle, so that one report shows all of it.
            for other in &component {
                if !path.contains(other) {
                    members.push(format!("(and {})", self.name(other)));
                }
            }
            placed.extend(component);
            circles.push(Circle { members, witnesses });
        }
        circles
    }

    fn name(&self, node: &[String]) -> String {
        self.label.get(node).cloned().unwrap_or_else(|| node.join("::"))
    }

    fn reaches(&self, from: &Vec<String>, to: &Vec<String>) -> bool {
        let mut seen = BTreeSet::from([from]);
        let mut queue = vec![from];
        while let Some(node) = queue.pop() {
            if node == to {
                return true;
            }
            for next in self.edges.get(node).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(next) {
                    queue.push(next);
                }
            }
        }
        false
    }

    /// The shortest way from `start` back to itself, both ends included.
    fn shortest_return<'a>(&'a self, start: &'a Vec<String>) -> Option<Vec<&'a Vec<String>>> {
        let mut previous: BTreeMap<&Vec<String>, &Vec<String>> = BTreeMap::new();
        let mut frontier = vec![start];
        while !frontier.is_empty() {
            let mut next_frontier = Vec::new();
            for node in frontier {
                for next in self.edges.get(node).into_iter().flat_map(|e| e.keys()) {
                    if next == start {
                        let mut path = vec![start, node];
                        let mut at = node;
                        while at != start {
                            at = previous[at];
                            path.push(at);
                        }
                        path.reverse();
                        return Some(path);
                    }
                    if !previous.contains_key(next) {
                        previous.insert(next, node);
                        next_frontier.push(next);
                    }
                }
            }
            frontier = next_frontier;
        }
        None
    }
}

/// A crate's modules from its root's `mod` lines, and the lifted edges of
/// the paths they name.
fn rust_graph(root: &Path, entry: &Path) -> Result<Graph, String> {
    let crate_name = entry
        .parent()
        .and_then(Path::parent)
        .map(|dir| display(root, dir))
        .unwrap_or_default();
    let mut modules: BTreeMap<Vec<String>, PathBuf> = BTreeMap::new();
    collect_modules(entry, Vec::new(), &mut modules)?;
    let mut graph = Graph::default();
    for (module, file) in &modules {
        let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let code = without_tests(&text);
        for named in named_paths(&code) {
            let absolute = match named.first().map(String::as_str) {
                Some("crate") => named[1..].to_vec(),
                Some("super") => {
                    let mut base = module.clone();
                    let mut rest = &named[..];
                    while rest.first().map(String::as_str) == Some("super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    base.extend(rest.iter().cloned());
                    base
                }
                _ => continue,
            };
            let target = longest_module(&modules, &absolute);
            let shared = module.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if shared == module.len() || shared == target.len() {
                continue;
            }
            let from = module[..=shared].to_vec();
            let to = target[..=shared].to_vec();
            for node in [&from, &to] {
                graph
                    .label
                    .insert(node.clone(), format!("{crate_name}: {}", node.join("::")));
            }
            let witness = format!(
                "{} names {}",
                display(root, file),
                std::iter::once("crate")
                    .chain(target.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join("::")
            );
            graph.add(from, to, witness);
        }
    }
    Ok(graph)
}

fn longest_module(modules: &BTreeMap<Vec<String>, PathBuf>, path: &[String]) -> Vec<String> {
    (0..=path.len())
        .rev()
        .map(|len| path[..len].to_vec())
        .find(|prefix| modules.contains_key(prefix))
        .unwrap_or_default()
}

/// Follows `mod name;` lines, leaving out modules compiled only for tests.
fn collect_modules(
    file: &Path,
    module: Vec<String>,
    modules: &mut BTreeMap<Vec<String>, PathBuf>,
) -> Result<(), String> {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    modules.insert(module.clone(), file.to_owned());
    let dir = match file.file_name().and_then(|n| n.to_str()) {
        Some("lib.rs" | "main.rs" | "mod.rs") => file.parent().map(Path::to_owned),
        _ => file.parent().map(|p| p.join(file.file_stem().unwrap_or_default())),
    }
    .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut in_macro_list = false;
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        // domain declares its server-only modules through a macro:
        // `server_only!(a, b, …);`, one name a line.
        if line == "server_only!(" {
            in_macro_list = true;
            continue;
        }
        if in_macro_list && line == ");" {
            in_macro_list = false;
            continue;
        }
        let declared = if in_macro_list {
            line.strip_suffix(',')
        } else {
            line.strip_prefix("pub ")
                .or_else(|| line.strip_prefix("pub(crate) "))
                .unwrap_or(line)
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'))
        };
        let Some(name) = declared.filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) else {
            continue;
        };
        let for_tests = i > 0 && lines[i - 1].trim().starts_with("#[cfg(") && lines[i - 1].contains("test");
        if for_tests {
            continue;
        }
        let mut child = module.clone();
        child.push(name.to_owned());
        let candidates = [dir.join(format!("{name}.rs")), dir.join(name).join("mod.rs")];
        let Some(path) = candidates.iter().find(|p| p.exists()) else {
            return Err(format!("{}: mod {name}; has no file", file.display()));
        };
        collect_modules(path, child, modules)?;
    }
    Ok(())
}

/// The text before a `#[cfg(test)]` module written inline, which by this
/// house's habit is the end of a file.
fn without_tests(text: &str) -> String {
    let mut kept = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod ") && next.trim_end().ends_with('{'))
        {
            break;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    kept
}

/// Every `crate::…` and `super::…` path in code, `use` trees expanded;
/// comments and strings are skipped.
fn named_paths(code: &str) -> Vec<Vec<String>> {
    let code = strip_comments_and_strings(code);
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let at_word_start =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':');
        // Only at a character's start: code may hold non-ASCII text
        // (a char literal, an identifier) that comment stripping keeps.
        let rest = code.get(i..).unwrap_or_default();
        if at_word_start && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let (tree, used) = read_tree(rest);
            paths.extend(tree);
            i += used.max(1);
        } else {
            i += 1;
        }
    }
    paths
}

/// Reads a path, possibly ending in a `{…}` group, from the start of `text`;
/// returns the paths it names and the bytes read.
fn read_tree(text: &str) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    let mut i = 0;
    let bytes = text.as_bytes();
    loop {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if i > start {
            prefix.push(text[start..i].to_owned());
        }
        if text[i..].starts_with("::{") {
            i += 3;
            let mut paths = Vec::new();
            loop {
                while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
                    i += 1;
                }
                if i >= bytes.len() || bytes[i] == b'}' {
                    i += 1;
                    break;
                }
                let (inner, used) = read_tree(&text[i..]);
                for mut path in inner {
                    let mut full = prefix.clone();
                    full.append(&mut path);
                    paths.push(full);
                }
                i += used.max(1);
                // Skip an `as name` or `*` until the next separator.
                while i < bytes.len() && bytes[i] != b',' && bytes[i] != b'}' {
                    if bytes[i] == b'{' {
                        break;
                    }
                    i += 1;
                }
            }
            if paths.is_empty() {
                paths.push(prefix);
            }
            return (paths, i);
        }
        if text[i..].starts_with("::") {
            i += 2;
            continue;
        }
        return (vec![prefix], i);
    }
}

fn strip_comments_and_strings(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Scripts in one folder, file by file, through their relative imports.
fn script_graph(root: &Path, dir: &Path) -> Result<Graph, String> {
    let mut graph = Graph::default();
    let mut files = Vec::new();
    collect_scripts(dir, &mut files)?;
    for file in files {
        let text = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let from = vec![display(root, &file)];
        for target in relative_imports(&text) {
            let Some(parent) = file.parent() else { continue };
            let mut resolved = normalize(&parent.join(&target));
            if resolved.extension().is_none() || !resolved.exists() {
                let with_ts = resolved.with_extension("ts");
                if with_ts.exists() {
                    resolved = with_ts;
                }
            }
            if !resolved.exists() {
                // `./x.js` written for a TypeScript file `x.ts`.
                let as_ts = resolved.with_extension("ts");
                if as_ts.exists() {
                    resolved = as_ts;
                }
            }
            let to = vec![display(root, &resolved)];
            graph.add(from.clone(), to, format!("{} imports {target}", display(root, &file)));
        }
    }
    Ok(graph)
}

fn collect_scripts(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    for path in read_dir(dir)? {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "node_modules") {
                continue;
            }
            collect_scripts(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "js" || e == "mjs" || e == "ts") {
            files.push(path);
        }
    }
    Ok(())
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The `./…` and `../…` specifiers of `import`/`export … from` lines and
/// bare `import "./…"` lines. A type-only import still makes a circle for
/// the reader, so it counts.
fn relative_imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut statement = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if statement.is_empty() && !(trimmed.starts_with("import ") || trimmed.starts_with("export ")) {
            continue;
        }
        statement.push_str(trimmed);
        statement.push(' ');
        let done = trimmed.contains(" from ")
            || trimmed.starts_with("from ")
            || trimmed.ends_with(';')
            || trimmed.starts_with("import \"")
            || trimmed.starts_with("import '");
        if !done && statement.len() < 2000 {
            continue;
        }
        let spec = statement
            .rsplit_once(" from ")
            .map(|(_, s)| s)
            .or_else(|| statement.strip_prefix("import "))
            .unwrap_or("")
            .trim()
            .trim_end_matches(';')
            .trim();
        let quoted = spec.trim_matches(|c| c == '"' || c == '\'');
        if (quoted.starts_with("./") || quoted.starts_with("../")) && quoted.len() < spec.len() {
            found.push(quoted.to_owned());
        }
        statement.clear();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_trees_expand() {
        let paths = named_paths("use crate::{a::{b, c::D}, e as f};\nfn x() { super::g::h(); }\n// crate::z\n");
        assert_eq!(
            paths,
            vec![
                vec!["crate", "a", "b"],
                vec!["crate", "a", "c", "D"],
                vec!["crate", "e"],
                vec!["super", "g", "h"],
            ]
            .into_iter()
            .map(|p| p.into_iter().map(String::from).collect::<Vec<_>>())
            .collect::<Vec<_>>()
        );
    }

    #[test]
    fn script_imports_are_read_across_lines() {
        let text = "import { a,\n  b } from './a.js';\nimport x from \"../x.js\";\nimport y from 'lib';\nexport { z } from './z.js';\n";
        assert_eq!(relative_imports(text), vec!["./a.js", "../x.js", "./z.js"]);
    }
}
