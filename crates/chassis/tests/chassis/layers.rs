//! The chassis's modules form layers (see `lib.rs`): no module uses, directly or through others,
//! a module that uses it. Read from the sources, so that a new `use` closing a cycle fails here
//! rather than in a review.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Which modules each module uses.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The `.rs` files below `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// A source file without its comments and unit tests: the code that runs.
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names that follow `prefix` in `code` (after `crate::`: the modules it uses).
fn names_after<'a>(code: &'a str, prefix: &'a str) -> impl Iterator<Item = &'a str> {
    code.match_indices(prefix).map(move |(at, _)| {
        let rest = &code[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        &rest[..end]
    })
}

/// The modules directly below `root` and which of them each uses, through paths that start with
/// `prefix` (`crate::` for the crate's modules, `super::` for a module's submodules).
fn module_graph(root: &Path, prefix: &str) -> Graph {
    let is_module = |name: &str| {
        root.join(format!("{name}.rs")).is_file() || root.join(name).join("mod.rs").is_file()
    };
    let mut graph = Graph::new();
    for file in sources(root) {
        let relative = file.strip_prefix(root).unwrap();
        let first = relative.components().next().unwrap();
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || module == "mod" {
            continue;
        }
        let code = code(&file);
        let used: Vec<String> = names_after(&code, prefix)
            .filter(|name| *name != module && is_module(name))
            .map(str::to_owned)
            .collect();
        graph.entry(module).or_default().extend(used);
    }
    graph
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
        module: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut cycle = path[at..].to_vec();
            cycle.push(module.to_owned());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for used in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(graph, used, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(graph, module, &mut Vec::new(), &mut done))
}

#[test]
fn the_chassis_modules_and_their_submodules_have_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let crate_graph = module_graph(&src, "crate::");
    assert!(crate_graph.len() > 10, "{crate_graph:?}");
    assert_eq!(cycle(&crate_graph), None);
    for dir in ["client", "discovery", "events", "shedding", "db"] {
        assert_eq!(
            cycle(&module_graph(&src.join(dir), "super::")),
            None,
            "in {dir}"
        );
    }
}

#[test]
fn a_cycle_is_found() {
    let graph: Graph = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(from, to)| (from.to_owned(), BTreeSet::from([to.to_owned()])))
        .collect();
    assert_eq!(
        cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
