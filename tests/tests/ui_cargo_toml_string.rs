//! A Cargo.toml whose `plugin` key under `[package.metadata]` is a string: its fixture
//! differs from `ui_cargo_toml`'s, and the manifest directory is set per process, so it
//! is a test binary of its own.
//! Regenerate with `TRYBUILD=overwrite cargo test -p patchpanel-tests --test ui_cargo_toml_string`.

#[path = "common/manifest_dir.rs"]
mod manifest_dir;

#[test]
fn ui_cargo_toml_string() {
    manifest_dir::compile_fail_with_manifest_in("ui/cargo-toml-string/fixtures", "ui/cargo-toml-string/*.rs");
}
