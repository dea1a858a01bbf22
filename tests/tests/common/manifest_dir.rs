//! The Cargo.toml UI cases: each binary points the macro at its own fixture manifest.

/// Runs the compile-fail cases `cases` (a glob under the tests crate) with the macro
/// reading its Cargo.toml manifest from `fixtures` (a directory under the tests crate)
/// instead of the generated test project's. The manifest directory is read from the
/// environment, set for this whole process: call it from a binary's only test.
pub(crate) fn compile_fail_with_manifest_in(fixtures: &str, cases: &str) {
    let mapping = format!("patchpanel-tests-tests={}/{fixtures}", env!("CARGO_MANIFEST_DIR"));
    // SAFETY: the caller is its binary's only test, so no other thread reads the
    // environment.
    unsafe { std::env::set_var("PATCHPANEL_MANIFEST_DIR", mapping) };
    trybuild::TestCases::new().compile_fail(cases);
}
