//! Compile-time checking of the macros: each file in `tests/ui/` is a misuse that must fail to
//! compile with the message in its `.stderr` snapshot; `tests/ui/pass/` must compile cleanly.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
