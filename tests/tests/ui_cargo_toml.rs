//! Build-time errors that depend on the package's Cargo.toml: a manifest there with
//! mistakes, and a manifest there given a second time inline. Their fixture Cargo.toml
//! has a plugin table, so they run apart from `tests/ui.rs`, whose fixture has none.
//! Regenerate with `TRYBUILD=overwrite cargo test -p patchpanel-tests --test ui_cargo_toml`.

#[test]
fn ui_cargo_toml() {
    // The only test in this binary, so no other thread reads the environment.
    let fixtures = concat!(
        "patchpanel-tests-tests=",
        env!("CARGO_MANIFEST_DIR"),
        "/ui/cargo-toml/fixtures"
    );
    unsafe { std::env::set_var("PATCHPANEL_MANIFEST_DIR", fixtures) };
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/cargo-toml/*.rs");
}
