//! The host's layers (docs/architecture.md), checked from the source: every
//! `crate::module` a top-level module of the host names (outside comments)
//! is an import, and
//! 1. no module imports another that imports it back, directly or around
//!    a loop — in the host and in the Discord simulator;
//! 2. every import of the host goes down its declared layers (the table in
//!    [`HOST_LAYERS`], the picture in docs/architecture.md).
//!
//! Hand-written because the tools that know Rust's module graph
//! (cargo-modules) build rust-analyzer, minutes of compiling on CI for a
//! check this scanner does in milliseconds; a `crate::` path is the only
//! way one module of these crates names another (no glob re-exports across
//! top-level modules, no `super::super` past the top).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The host's top-level modules, bottom layer first. A module may import
/// those of lower layers, never those of its own layer or above.
const HOST_LAYERS: &[&[&str]] = &[
    // Knows nothing of the host: WIT bindings, configuration, logging,
    // settings-schema rules.
    &["wit", "config", "telemetry", "schema"],
    // Storage, then the cache (which borrows a few of the store's helpers),
    // then the probes of both.
    &["store"],
    &["cache"],
    &["probe"],
    // The Discord client (gateway, REST, shard monitor, model mapping),
    // and the LLM gateway beside it.
    &["discord", "llm"],
    // What cogs can do.
    &["capabilities"],
    // Loading and running cogs.
    &["runtime"],
    // Discord → cogs.
    &["dispatch"],
    // The servers: health/metrics, then the API.
    &["health"],
    &["api"],
    // The command line wires everything.
    &["cli"],
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The identifiers right after each `crate::` in `code` (`crate::{a, b::c}` gives a and b).
fn crate_paths(code: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        // `baseline_host::crate` is not a thing, but `my_crate::x` would be: whole words only.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.push(ident(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(ident(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(ident(rest));
        }
    }
    found.retain(|name| !name.is_empty());
    found
}

/// Module → the modules it imports, for the crate whose sources are in `src`.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let module = path.is_dir() || path.extension().is_some_and(|e| e == "rs");
        if module && name != "lib" && name != "main" {
            modules.insert(name);
        }
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in &modules {
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            sources(&dir, &mut files);
        }
        let file = src.join(format!("{module}.rs"));
        if file.is_file() {
            files.push(file);
        }
        let edges = graph.entry(module.clone()).or_default();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for line in text.lines() {
                let code = line.split("//").next().unwrap_or("");
                for target in crate_paths(code) {
                    if &target != module && modules.contains(&target) {
                        edges.insert(target);
                    }
                }
            }
        }
    }
    graph
}

/// Every loop in `graph`, each as the path around it.
fn loops(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        found: &mut BTreeSet<Vec<String>>,
    ) {
        let here = path.last().unwrap().clone();
        for next in graph.get(&here).into_iter().flatten() {
            if let Some(at) = path.iter().position(|m| m == next) {
                // Name each loop once, from its smallest module.
                let mut cycle: Vec<String> = path[at..].to_vec();
                let min = cycle.iter().enumerate().min_by_key(|(_, m)| *m).unwrap().0;
                cycle.rotate_left(min);
                found.insert(cycle);
            } else {
                path.push(next.clone());
                walk(graph, path, found);
                path.pop();
            }
        }
    }
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        walk(graph, &mut vec![start.clone()], &mut found);
    }
    found.into_iter().collect()
}

fn describe(cycles: &[Vec<String>]) -> String {
    cycles
        .iter()
        .map(|c| format!("{} → {}", c.join(" → "), c[0]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_scanner_reads_grouped_and_nested_paths() {
    assert_eq!(
        crate_paths("use crate::{store::{a, b}, cache, wit::types::X}; x(crate::runtime::y)"),
        ["store", "cache", "wit", "runtime"]
    );
    assert!(crate_paths("use other_crate::store; // crate::cli").contains(&"cli".into()));
    assert!(!crate_paths("use other_crate::store;").contains(&"store".into()));
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(loops(&graph), [vec!["a".to_string(), "b".to_string()]]);
}

/// Fail with every loop among the modules of the crate in `src` (which
/// must hold `known`, so a moved folder cannot pass by reading nothing).
fn assert_no_loops(src: &str, known: [&str; 2]) {
    let graph = imports(&workspace().join(src));
    assert!(
        known.iter().all(|m| graph.contains_key(*m)),
        "{src}: {graph:?}"
    );
    let cycles = loops(&graph);
    assert!(
        cycles.is_empty(),
        "import loops between the modules of {src}:\n{}",
        describe(&cycles)
    );
}

#[test]
fn the_host_has_no_import_loops() {
    assert_no_loops("host/src", ["runtime", "dispatch"]);
}

#[test]
fn the_simulator_has_no_import_loops() {
    assert_no_loops("host/discord-sim/src", ["rest", "gateway"]);
}

#[test]
fn the_host_imports_only_downwards() {
    let layer_of = |module: &str| HOST_LAYERS.iter().position(|l| l.contains(&module));
    let graph = imports(&workspace().join("host/src"));
    let mut wrong = Vec::new();
    for (module, targets) in &graph {
        let Some(layer) = layer_of(module) else {
            wrong.push(format!(
                "`{module}` has no layer: add it to HOST_LAYERS and docs/architecture.md"
            ));
            continue;
        };
        for target in targets {
            match layer_of(target) {
                Some(below) if below < layer => {}
                _ => wrong.push(format!(
                    "`{module}` imports `{target}`, which is not below it"
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
