//! Compile-time checking of the macros: each file in `tests/ui/` is a misuse that must fail to
//! compile with the message in its `.stderr` snapshot; `tests/ui/pass/` must compile cleanly.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}

/// The macros' documentation quotes the message of every compile-fail case, so that it cannot
/// drift from what the compiler says.
#[test]
fn the_documentation_quotes_every_message() {
    let docs = std::fs::read_to_string("lifespan-macros/forms.md").unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir("tests/ui").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "stderr") {
            continue;
        }
        let snapshot = std::fs::read_to_string(&path).unwrap();
        // The first error is the one the case is named for.
        let line = snapshot
            .lines()
            .find(|line| line.starts_with("error"))
            .unwrap();
        let message = line.split_once(": ").map_or(line, |(_, message)| message);
        let message = message.trim_start_matches("evaluation panicked: ");
        if !docs.contains(message) {
            missing.push(format!("{}: {message}", path.display()));
        }
    }
    assert!(
        missing.is_empty(),
        "messages not quoted in lifespan-macros/forms.md:\n{}",
        missing.join("\n")
    );
}
