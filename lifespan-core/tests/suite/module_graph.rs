//! The architecture of `lifespan-core`, read from its sources: `src/` holds `lib.rs` and one
//! folder per concern; the order of the folders is written once, in `src/lib.rs` (the numbered
//! list of its architecture comment), and each folder's `mod.rs` says which folders it may use.
//!
//! Every `crate::` path (in a `use` or in code, not in comments or doc links) is an edge from the
//! module whose file it is in to the module it names (`crate::status::board::Board` names
//! `status::board`), a name the crate root re-exports (`crate::App`) counts as the module that
//! defines it, and `super::x` in a folder's file names its sibling `x`. A module is a file of a
//! folder, a folder's `mod.rs` (named as the folder), or a folder within a folder (its files
//! count as one module). The checks: a folder uses only folders listed before it in `lib.rs`,
//! and only those its `mod.rs` says it may use, which are listed before it; no module uses
//! another in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module (`folder::file`) -> the modules its code refers to.
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
fn the_top_level_of_src_is_lib_rs_and_the_folders_it_lists() {
    let src = src();
    let order = folder_order();
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if path.is_dir() {
            assert!(
                path.join("mod.rs").is_file(),
                "the folder `src/{name}` has no `mod.rs` saying its job"
            );
            found.insert(name);
        } else {
            assert_eq!(
                name, "lib.rs",
                "`src/{name}`: every module belongs in a folder of its concern"
            );
        }
    }
    let listed: BTreeSet<String> = order.iter().cloned().collect();
    assert_eq!(
        found, listed,
        "the folders of src/ and those listed in src/lib.rs differ"
    );
    assert!(
        order.len() <= 10,
        "more than ten concerns at the top level: {order:?}"
    );
}

#[test]
fn every_folder_uses_only_folders_listed_before_it_and_those_its_mod_rs_allows() {
    let graph = graph();
    let order = folder_order();
    let position = |folder: &str| order.iter().position(|f| f == folder);
    let mut wrong = Vec::new();
    for folder in &order {
        let allowed = allowed_by_mod_rs(folder);
        for claimed in &allowed {
            if position(claimed).is_none_or(|at| at >= position(folder).unwrap()) {
                wrong.push(format!(
                    "`{folder}/mod.rs` says it may use `{claimed}`, which src/lib.rs does not list before it"
                ));
            }
        }
        for (module, uses) in graph.iter().filter(|(m, _)| folder_of(m) == folder) {
            for used in uses.iter().filter(|u| folder_of(u) != folder) {
                let used_folder = folder_of(used);
                if !allowed.contains(used_folder) {
                    wrong.push(format!(
                        "`{module}` uses `{used}`, but `{folder}/mod.rs` does not say it may use `{used_folder}`"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the folders do not follow the architecture written in src/lib.rs and their mod.rs:\n{}",
        wrong.join("\n")
    );
}

/// The folders in the order of the architecture comment of `src/lib.rs` (its numbered lines,
/// `// 1. \`base\`: ...`): the first name in backquotes of each, lowest first.
fn folder_order() -> Vec<String> {
    let root = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    root.lines()
        .skip_while(|line| !line.starts_with("// The architecture:"))
        .take_while(|line| line.starts_with("//") && !line.starts_with("//!"))
        .filter_map(|line| {
            let item = line.trim_start_matches("//").trim_start();
            let (number, rest) = item.split_once(". ")?;
            number.parse::<u32>().ok()?;
            Some(rest.split('`').nth(1)?.to_owned())
        })
        .collect()
}

/// The folders that `src/<folder>/mod.rs` says it may use: the names in backquotes of its
/// paragraph that begins `It may use:`.
fn allowed_by_mod_rs(folder: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(src().join(folder).join("mod.rs")).unwrap();
    let paragraph: String = text
        .lines()
        .skip_while(|line| !line.starts_with("//! It may use:"))
        .take_while(|line| line.starts_with("//!") && line.len() > 3)
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        !paragraph.is_empty(),
        "`src/{folder}/mod.rs` does not say which folders it may use (a paragraph `//! It may use: ...`)"
    );
    paragraph
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn folder_of(module: &str) -> &str {
    module.split("::").next().unwrap()
}

fn src() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn graph() -> Graph {
    let src = src();
    let mut sources: Vec<Source> = Vec::new();
    collect(&src, &[], &mut sources);
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    let root = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let exported = reexports(&code(&root), &modules);
    let mut graph = Graph::new();
    for source in &sources {
        let code = code(&source.text);
        let mut targets: Vec<String> = crate_paths(&code)
            .into_iter()
            .map(|path| resolve(&source.module, &path, &modules, &exported))
            .collect();
        targets.extend(sibling_paths(source, &code, &modules));
        let edges = graph.entry(source.module.clone()).or_default();
        for target in targets {
            if target != source.module {
                edges.insert(target);
            }
        }
    }
    graph
}

/// One file of the crate: the module it belongs to, whether it is its folder's `mod.rs` or a
/// file directly in a top-level folder (whose `super::` names a sibling), and its text.
struct Source {
    module: String,
    kind: SourceKind,
    text: String,
}

#[derive(PartialEq)]
enum SourceKind {
    /// `src/<folder>/mod.rs`.
    FolderRoot,
    /// `src/<folder>/<file>.rs`.
    FolderFile,
    /// A file of a folder within a folder, or `lib.rs`'s siblings (none).
    Nested,
}

/// Every file's source, `lib.rs` left out; the files of a folder within a folder count as one
/// module.
fn collect(dir: &Path, within: &[String], sources: &mut Vec<Source>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if path.is_dir() {
            let mut within = within.to_vec();
            if within.len() < 2 {
                within.push(stem);
            }
            collect(&path, &within, sources);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            if within.is_empty() {
                continue;
            }
            let (module, kind) = match (within.len(), stem.as_str()) {
                (1, "mod") => (within[0].clone(), SourceKind::FolderRoot),
                (1, _) => (format!("{}::{stem}", within[0]), SourceKind::FolderFile),
                _ => (within.join("::"), SourceKind::Nested),
            };
            let text = std::fs::read_to_string(&path).unwrap();
            sources.push(Source { module, kind, text });
        }
    }
}

/// The module a `crate::` path names: the longest of its prefixes that is a module, or the
/// module that defines a name the crate root re-exports.
fn resolve(
    from: &str,
    path: &[String],
    modules: &BTreeSet<String>,
    exported: &BTreeMap<String, String>,
) -> String {
    for length in (1..=path.len().min(2)).rev() {
        let prefix = path[..length].join("::");
        if modules.contains(&prefix) {
            return prefix;
        }
    }
    if let Some(defining) = exported.get(&path[0]) {
        return defining.clone();
    }
    panic!(
        "`{from}` refers to `crate::{}`, which names no module of the crate: refer to the module that defines it",
        path.join("::")
    );
}

/// The siblings that a folder's file names by `super::x`, and that a folder's `mod.rs` names by
/// `x::` (its own modules).
fn sibling_paths(source: &Source, code: &str, modules: &BTreeSet<String>) -> Vec<String> {
    let folder = folder_of(&source.module);
    let prefix = match source.kind {
        SourceKind::FolderFile => "super::",
        SourceKind::FolderRoot => "",
        SourceKind::Nested => return Vec::new(),
    };
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = find_path_start(rest, prefix) {
        rest = &rest[at + prefix.len()..];
        let name = first_segment(rest);
        let sibling = format!("{folder}::{name}");
        if rest[name.len()..].starts_with("::") && modules.contains(&sibling) {
            found.push(sibling);
        }
        if prefix.is_empty() {
            rest = &rest[name.len().max(1)..];
        }
    }
    found
}

/// Where the next path that begins with `prefix` (or, if it is empty, any path's first
/// segment) starts: not within a longer path or identifier.
fn find_path_start(text: &str, prefix: &str) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = if prefix.is_empty() {
            from + text[from..].find(|c: char| c.is_alphabetic() || c == '_')?
        } else {
            from + text[from..].find(prefix)?
        };
        let before = text[..at].chars().next_back();
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            return Some(at);
        }
        let skip = if prefix.is_empty() {
            first_segment(&text[at..]).len().max(1)
        } else {
            prefix.len()
        };
        from = at + skip;
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

/// The segments of every `crate::` path, a group expanded: `crate::a::{b::C, d}` gives
/// `[a, b, C]` and `[a, d]`.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        expand(rest, &mut Vec::new(), &mut found);
    }
    found.retain(|path| !path.is_empty() && path[0] != "self");
    found
}

/// The paths that `text` begins with, each after `prefix`: one path, or each item of a group.
fn expand(text: &str, prefix: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
    let text = text.trim_start();
    if let Some(group) = text.strip_prefix('{') {
        let end = closing(group);
        for item in split_top(&group[..end]) {
            expand(&item, &mut prefix.clone(), found);
        }
        return;
    }
    let segment = first_segment(text);
    if segment.is_empty() {
        found.push(prefix.clone());
        return;
    }
    prefix.push(segment.clone());
    match text[segment.len()..].strip_prefix("::") {
        Some(rest) => expand(rest, prefix, found),
        None => found.push(prefix.clone()),
    }
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

/// The names the crate root re-exports with `pub use folder::file::...`, and the module of each.
fn reexports(root: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut exported = BTreeMap::new();
    for statement in root.split(';') {
        let Some(path) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let mut paths = Vec::new();
        expand(path, &mut Vec::new(), &mut paths);
        for path in paths {
            let Some(name) = path.last() else { continue };
            for length in (1..path.len()).rev() {
                let module = path[..length].join("::");
                if modules.contains(&module) {
                    exported.insert(name.clone(), module);
                    break;
                }
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
