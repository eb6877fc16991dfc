//! The modules of `lifespan-core` depend on each other without a circle: read from the sources,
//! every `crate::module` path (in a `use` or in code, not in comments or doc links) is an edge,
//! a name the crate root re-exports (`crate::App`) counts as the module that defines it. The
//! graph must have no cycle, and follow the layering written in `src/lib.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name -> the modules its code refers to.
type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn the_modules_depend_on_each_other_without_a_circle() {
    let graph = graph();
    assert!(graph.len() > 10, "the sources were not found: {graph:?}");
    if let Some(cycle) = cycle(&graph) {
        panic!(
            "the modules of lifespan-core depend on each other in a circle: {}\n{}",
            cycle.join(" -> "),
            describe(&graph)
        );
    }
}

#[test]
fn every_module_uses_only_those_below_it_in_the_layering_of_lib_rs() {
    let graph = graph();
    let order = layering();
    let position = |module: &str| order.iter().position(|m| m == module);
    let mut wrong = Vec::new();
    for (module, uses) in &graph {
        let Some(at) = position(module) else {
            wrong.push(format!("`{module}` is not in the layering"));
            continue;
        };
        for used in uses {
            if position(used).is_none_or(|used_at| used_at > at) {
                wrong.push(format!("`{module}` uses `{used}`, listed after it"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the modules do not follow the layering written in src/lib.rs:\n{}",
        wrong.join("\n")
    );
}

/// The modules in the order of the layering comment of `src/lib.rs` (above its `mod` items):
/// the names in backquotes, lowest first.
fn layering() -> Vec<String> {
    let root =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let comment: String = root
        .lines()
        .skip_while(|line| !line.starts_with("// The layering of the modules"))
        .take_while(|line| line.starts_with("//") && !line.starts_with("//!"))
        .map(|line| format!("{line}\n"))
        .collect();
    comment
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| word.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_owned)
        .collect()
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources: Vec<(String, String)> = Vec::new();
    collect(&src, None, &mut sources);
    let root = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules: BTreeSet<String> = sources.iter().map(|(m, _)| m.clone()).collect();
    let exported = reexports(&code(&root), &modules);
    let mut graph = Graph::new();
    for (module, text) in &sources {
        let edges = graph.entry(module.clone()).or_default();
        for target in crate_paths(&code(text)) {
            let target = if modules.contains(&target) {
                target
            } else if let Some(defining) = exported.get(&target) {
                defining.clone()
            } else {
                panic!("`{module}` refers to `crate::{target}`, which is no module of the crate: refer to the module that defines it");
            };
            if &target != module {
                edges.insert(target);
            }
        }
    }
    graph
}

/// Every module's sources, `lib.rs` left out; a directory module's files count as that module.
fn collect(dir: &Path, module: Option<&str>, sources: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if path.is_dir() {
            collect(&path, Some(module.unwrap_or(&stem)), sources);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            if module.is_none() && stem == "lib" {
                continue;
            }
            let name = module.map_or(stem, str::to_owned);
            sources.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The text without comments (doc comments and doc links included) and string literals.
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
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

/// The first segment of every `crate::` path, `crate::{a, b::c}` giving `a` and `b`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = closing(group);
            found.extend(
                split_top(&group[..end])
                    .into_iter()
                    .map(|item| first_segment(&item)),
            );
        } else {
            found.push(first_segment(rest));
        }
    }
    found.retain(|segment| !segment.is_empty() && segment != "self");
    found
}

/// The index of the `}` that closes a group whose `{` was just read.
fn closing(group: &str) -> usize {
    let mut depth = 0;
    for (index, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return index,
            '}' => depth -= 1,
            _ => {}
        }
    }
    group.len()
}

/// The items of a `use` group, split at the commas outside nested groups.
fn split_top(group: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut depth = 0;
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(String::new());
                continue;
            }
            _ => {}
        }
        items.last_mut().unwrap().push(c);
    }
    items
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The names the crate root re-exports with `pub use module::...`, and the module of each.
fn reexports(root: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut exported = BTreeMap::new();
    for statement in root.split(';') {
        let Some(path) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let module = first_segment(path);
        if !modules.contains(&module) {
            continue;
        }
        let names = path[module.len()..].trim_start_matches("::");
        let names = names.trim_start_matches('{').trim_end_matches('}');
        for name in split_top(names) {
            let name: String = name.rsplit("::").next().unwrap_or("").trim().to_owned();
            if !name.is_empty() {
                exported.insert(name, module.clone());
            }
        }
    }
    exported
}

/// A cycle of the graph, if it has one, as the modules along it (the first one repeated last).
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        module: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(module.to_owned(), Mark::OnPath);
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::OnPath => {
                    let from = path.iter().position(|m| m == next).unwrap();
                    let mut cycle = path[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, graph, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(module.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for module in graph.keys() {
        if marks.get(module).copied().unwrap_or(Mark::New) == Mark::New {
            if let Some(cycle) = visit(module, graph, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

fn describe(graph: &Graph) -> String {
    graph
        .iter()
        .map(|(module, uses)| {
            let uses: Vec<&str> = uses.iter().map(String::as_str).collect();
            format!("{module} -> {}", uses.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints the graph: `cargo test -p lifespan-core --test suite module_graph -- --nocapture`.
#[test]
fn the_graph_can_be_printed() {
    println!("{}", describe(&graph()));
}
