// A type that is not a plugin in `link_plugins!`.
mod plugins {
    pub struct NotAPlugin;
}
patchpanel::link_plugins! { plugins::NotAPlugin }
fn main() {}
