//! The dependency graph between tighten's top-level modules, read from the
//! source (`crate::MODULE` paths), must not gain cycles: the modules caught
//! in one today are listed, and the list may only shrink (the direction is
//! layers: model below policy and rollout, cluster beside, app over all, ui
//! over app). A new edge that closes a cycle fails here with the path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules in a cycle today (one strongly connected group), to be taken
/// apart; none may join it and no new group may form.
const KNOWN_CYCLE: &[&str] = &[
    "app", "cluster", "config", "declared", "gate", "hubble", "ledger", "policy", "repo", "rollout", "ui",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`src/app/update/mod.rs` → `app`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// The modules a file names as `crate::NAME`, outside comments.
fn references(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = modules.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for file in &files {
        let Some(from) = module_of(&src, file) else { continue };
        let text = std::fs::read_to_string(file).expect("readable");
        for to in references(&text) {
            if to != from && modules.contains(&to) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

/// Strongly connected groups of more than one module (Tarjan's algorithm).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        groups: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, node: &'a str) {
        let n = w.index.len();
        w.index.insert(node, n);
        w.low.insert(node, n);
        w.stack.push(node);
        w.on_stack.insert(node);
        for next in w.edges.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !w.index.contains_key(next) {
                visit(w, next);
                let low = w.low[node].min(w.low[next]);
                w.low.insert(node, low);
            } else if w.on_stack.contains(next) {
                let low = w.low[node].min(w.index[next]);
                w.low.insert(node, low);
            }
        }
        if w.low[node] == w.index[node] {
            let mut group = BTreeSet::new();
            while let Some(top) = w.stack.pop() {
                w.on_stack.remove(top);
                group.insert(top.to_string());
                if top == node {
                    break;
                }
            }
            if group.len() > 1 {
                w.groups.push(group);
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for node in edges.keys() {
        if !walk.index.contains_key(node.as_str()) {
            visit(&mut walk, node);
        }
    }
    walk.groups
}

#[test]
fn no_module_joins_a_cycle() {
    let edges = graph();
    let known: BTreeSet<String> = KNOWN_CYCLE.iter().map(|m| m.to_string()).collect();
    for group in cycles(&edges) {
        let new: Vec<&String> = group.difference(&known).collect();
        assert!(
            new.is_empty(),
            "{new:?} joined a module cycle {group:?}; edges: {:#?}",
            edges
                .iter()
                .filter(|(m, _)| group.contains(*m))
                .map(|(m, to)| (m, to.intersection(&group).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        );
    }
    // Modules outside the known group stay out of every cycle.
    for leaf in [
        "backoff",
        "commands",
        "errors",
        "flows",
        "prometheus",
        "runtime",
        "shared",
    ] {
        assert!(cycles(&edges).iter().all(|g| !g.contains(leaf)), "{leaf} is in a cycle");
    }
}

#[test]
fn the_check_sees_a_cycle_it_is_shown() {
    let edges: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec!["a"])]
            .into_iter()
            .map(|(m, to)| (m.to_string(), to.into_iter().map(str::to_string).collect()))
            .collect();
    let found = cycles(&edges);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0], ["a", "b", "c"].into_iter().map(str::to_string).collect());
    assert_eq!(
        references("use crate::flows::Flow; // crate::ui in a comment\nlet x = crate::gate::evaluate;"),
        ["flows", "gate"].into_iter().map(str::to_string).collect()
    );
}

#[test]
#[ignore = "prints the graph"]
fn print_the_graph() {
    let edges = graph();
    for (m, to) in &edges {
        println!("{m} -> {to:?}");
    }
    println!("cycles: {:?}", cycles(&edges));
}
