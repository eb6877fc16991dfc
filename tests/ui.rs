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

/// The runtime's `TaskOptions::validate` refuses the overlap and misfire options that the macro
/// refuses, in the same words: each of its messages is an error of the case named for the rule.
#[test]
fn the_runtime_refuses_the_misfire_options_in_the_same_words() {
    use lifespan_core::{Misfire, Overlap, TaskOptions};
    use std::time::Duration;

    let minute = Duration::from_secs(60);
    let periodic = TaskOptions::new().every(minute);
    let once_per_point = periodic.clone().once_per_point(true);
    let needs_once_per_point = "option-misfire-needs-once-per-point";
    let cases = [
        (
            needs_once_per_point,
            periodic.clone().overlap(Overlap::Allow),
        ),
        (
            needs_once_per_point,
            periodic.clone().misfire(Misfire::Latest),
        ),
        (
            needs_once_per_point,
            periodic.clone().misfire(Misfire::All).misfire_grace(minute),
        ),
        (
            needs_once_per_point,
            periodic.misfire(Misfire::All).misfire_limit(5),
        ),
        (
            "option-misfire-grace-needs-latest-or-all",
            once_per_point.clone().misfire_grace(minute),
        ),
        (
            "option-misfire-limit-needs-all",
            once_per_point
                .clone()
                .misfire(Misfire::Latest)
                .misfire_limit(5),
        ),
        (
            "option-misfire-limit-zero",
            once_per_point
                .clone()
                .misfire(Misfire::All)
                .misfire_limit(0),
        ),
        (
            "option-misfire-grace-zero",
            once_per_point
                .misfire(Misfire::Latest)
                .misfire_grace(Duration::ZERO),
        ),
    ];
    for (case, options) in cases {
        let message = options.validate().unwrap_err();
        let snapshot = std::fs::read_to_string(format!("tests/ui/{case}.stderr")).unwrap();
        assert!(
            snapshot.contains(&format!("error: {message}\n")),
            "{case}.stderr does not say: {message}"
        );
    }
}
