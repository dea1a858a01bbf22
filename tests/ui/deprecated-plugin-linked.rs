// An application that links a deprecated plugin is told so by the compiler, at the line
// that links it (denied here, so that the warning is pinned as an error).
#![deny(deprecated)]

mod old_store {
    #[patchpanel::register_plugin(
        id = "old-store",
        version = "1.0.0",
        deprecated = { message = "it keeps everything in one file", replacement = "new-store" },
    )]
    #[derive(Default)]
    pub struct OldStore;

    impl patchpanel::Plugin for OldStore {
        fn activate(&mut self, _: &mut patchpanel::Context<'_, Self>) -> Result<(), patchpanel::PluginError> {
            Ok(())
        }
    }
}

patchpanel::link_plugins! {
    self::old_store::OldStore,
}

fn main() {}
