//! A Cargo.toml whose `plugin` key under `[package.metadata]` is a string: its fixture
//! differs from `ui_cargo_toml`'s, and the manifest directory is set per process, so it
//! is a test binary of its own.
//! Regenerate with `TRYBUILD=overwrite cargo test -p patchpanel-tests --test ui_cargo_toml_string`.

#[test]
fn ui_cargo_toml_string() {
    // The only test in this binary, so no other thread reads the environment.
    let fixtures = concat!(
        "patchpanel-tests-tests=",
        env!("CARGO_MANIFEST_DIR"),
        "/ui/cargo-toml-string/fixtures"
    );
    unsafe { std::env::set_var("PATCHPANEL_MANIFEST_DIR", fixtures) };
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/cargo-toml-string/*.rs");
}
