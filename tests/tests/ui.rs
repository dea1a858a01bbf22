//! Build-time errors of `#[register_plugin]`, pinned by `.stderr` snapshots.
//! Regenerate with `TRYBUILD=overwrite cargo test -p patchpanel-tests --test ui`, then
//! read the diff.

#[test]
fn ui() {
    // trybuild compiles each case away from this crate, so the macro is told where the
    // fixture manifests are. This is the only test in this binary, so no other thread
    // reads the environment while it is written.
    // trybuild names its generated package `<this package>-tests`.
    let fixtures = concat!("patchpanel-tests-tests=", env!("CARGO_MANIFEST_DIR"), "/ui/fixtures");
    unsafe { std::env::set_var("PATCHPANEL_MANIFEST_DIR", fixtures) };
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
