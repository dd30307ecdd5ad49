//! The source tree reads as the data flow: no two modules import each other, directly or round
//! a longer circle, so that each can be read with only what comes before it.
//!
//! An import is any `crate::a::b` path in a module's code (comments aside), and, in a folder's
//! `mod.rs`, any path that starts with one of its own submodules. It counts against the module
//! the path names: the longest of its prefixes that is a module of the crate.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Every module of the library, by path (`sample::proc_net_dev`; `crate` for lib.rs), with its
/// source.
fn modules() -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    walk(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src").as_path(),
        &[],
        &mut found,
    );
    found
}

fn walk(dir: &Path, prefix: &[String], found: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut inner = prefix.to_vec();
            inner.push(name);
            walk(&path, &inner, found);
            continue;
        }
        let Some(stem) = name.strip_suffix(".rs") else {
            continue;
        };
        let mut segments = prefix.to_vec();
        match stem {
            "main" if prefix.is_empty() => continue, // the binary, not the library
            "lib" if prefix.is_empty() => {}
            "mod" => {}
            _ => segments.push(stem.to_owned()),
        }
        let module = if segments.is_empty() {
            "crate".to_owned()
        } else {
            segments.join("::")
        };
        found.insert(module, fs::read_to_string(&path).unwrap());
    }
}

/// The paths a line of code names after `crate::`, as segments; a group (`crate::a::{b, c}`)
/// names each of its members.
fn crate_paths(line: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = &rest[..at];
        rest = &rest[at + "crate::".len()..];
        if before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // part of another name
        }
        paths.extend(expand(Vec::new(), rest));
    }
    paths
}

/// The paths `text` names after `prefix`: `a::b`, or `a::{b, c::d, self}`.
fn expand(prefix: Vec<String>, text: &str) -> Vec<Vec<String>> {
    let mut path = prefix;
    let named = segments(text);
    let after: usize = named.iter().map(|s| s.len() + 2).sum();
    path.extend(named);
    let Some(group) = text.get(after..).and_then(|t| t.strip_prefix('{')) else {
        return vec![path];
    };
    let mut members = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                members.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                members.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    members
        .into_iter()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .flat_map(|member| match member {
            "self" => vec![path.clone()],
            _ => expand(path.clone(), member),
        })
        .collect()
}

/// The `a::b::c` at the start of `text`.
fn segments(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        found.push(rest[..end].to_owned());
        match rest[end..].strip_prefix("::") {
            Some(after) => rest = after,
            None => break,
        }
    }
    found
}

/// Who imports whom: module -> the modules it names.
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let resolve = |path: &[String]| {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].join("::"))
            .find(|candidate| modules.contains_key(candidate))
    };
    let mut edges = BTreeMap::new();
    for (module, source) in modules {
        let children: Vec<&str> = source
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub mod "))
            .filter_map(|l| l.strip_suffix(';'))
            .collect();
        let mut named = BTreeSet::new();
        for line in source.lines().map(str::trim) {
            if line.starts_with("//") {
                continue;
            }
            for path in crate_paths(line) {
                named.extend(resolve(&path));
            }
            // `use child::...` in a folder's mod.rs.
            if let Some(used) = line.strip_prefix("use ") {
                let path = segments(used);
                if path
                    .first()
                    .is_some_and(|first| children.contains(&first.as_str()))
                {
                    let mut full: Vec<String> = if module == "crate" {
                        Vec::new()
                    } else {
                        module.split("::").map(str::to_owned).collect()
                    };
                    full.extend(path);
                    named.extend(resolve(&full));
                }
            }
        }
        named.remove(module);
        edges.insert(module.clone(), named);
    }
    edges
}

/// A circle of imports, if there is one.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut found = path[at..].to_vec();
            found.push(module.to_owned());
            return Some(found);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in edges.get(module).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|module| visit(module, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_two_modules_import_each_other_even_round_a_circle() {
    let modules = modules();
    let edges = imports(&modules);
    assert!(modules.len() > 20, "{:?}", modules.keys());
    if let Some(found) = circle(&edges) {
        panic!("an import circle: {}", found.join(" -> "));
    }
}

#[test]
fn the_checker_sees_imports_and_circles() {
    assert_eq!(
        crate_paths("use crate::stats::view::SharedView; // crate::x"),
        [vec!["stats", "view", "SharedView"], vec!["x"]]
    );
    assert!(crate_paths("the_crate::x").is_empty());
    assert_eq!(
        crate_paths("use crate::serve::{self, api::{Reply, Clock}, docs};"),
        [
            vec!["serve"],
            vec!["serve", "api", "Reply"],
            vec!["serve", "api", "Clock"],
            vec!["serve", "docs"]
        ]
    );
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(m, to)| (m.to_owned(), to.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(
        circle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let modules = modules();
    let edges = imports(&modules);
    assert!(
        edges["serve::reaper"].contains("serve::sockets"),
        "{edges:?}"
    );
    assert!(
        edges["sample"].contains("sample::proc_net_dev"),
        "a mod.rs's own submodule"
    );
}
