//! Build-time errors that depend on the package's Cargo.toml: a manifest there with
//! mistakes, and a manifest there given a second time inline. Their fixture Cargo.toml
//! has a plugin table, so they run apart from `tests/ui.rs`, whose fixture has none.
//! Regenerate with `TRYBUILD=overwrite cargo test -p patchpanel-tests --test ui_cargo_toml`.

#[path = "common/manifest_dir.rs"]
mod manifest_dir;

#[test]
fn ui_cargo_toml() {
    manifest_dir::compile_fail_with_manifest_in("ui/cargo-toml/fixtures", "ui/cargo-toml/*.rs");
}
