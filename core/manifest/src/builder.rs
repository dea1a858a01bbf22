//! Manifests built in code, for registries assembled from explicit lists (tests,
//! benches, embedders). They go through the same [`validate`](crate::validate) as every
//! other source.

use std::fmt;

use crate::{Defaults, Diagnostic, Key, KeyStyle, Manifest, Node, Scope, Value, validate};

/// Builds a [`Manifest`] in code.
///
/// ```
/// use patchpanel_manifest::{Manifest, Scope};
///
/// let manifest = Manifest::builder("greeter", "1.0.0")
///     .depends_on("kv-store", "^1.0")
///     .permission("storage", "read", Scope::PluginOnly)
///     .build()
///     .unwrap();
/// assert_eq!(manifest.dependencies[0].req.to_string(), "^1.0");
///
/// let error = Manifest::builder("greeter", "1.0").build().unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "invalid manifest for plugin `greeter`: `version`: `1.0` is not a semver version for `version`: \
///      unexpected end of input while parsing minor version number (help: write a full semver version, e.g. `1.0.0`)"
/// );
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ManifestBuilder {
    id: String,
    entries: Vec<(&'static str, Value<()>)>,
    dependencies: Vec<(Key<()>, Node<()>)>,
    features: Vec<Node<()>>,
    permissions: Vec<(String, String, Scope)>,
    /// `(kind, names)` in first-seen order of kind.
    contributes: Option<Vec<(String, Vec<Node<()>>)>>,
}

/// A manifest built in code failed validation.
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestError {
    /// The id the manifest was built for.
    pub plugin: String,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic<()>>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid manifest for plugin `{}`: ", self.plugin)?;
        for (index, diagnostic) in self.diagnostics.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "`{}`: {}", diagnostic.field, diagnostic.message)?;
            if let Some(help) = &diagnostic.help {
                write!(f, " (help: {help})")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ManifestError {}

fn node(value: Value<()>) -> Node<()> {
    Node { value, at: () }
}

fn key(name: &str) -> Key<()> {
    Key {
        name: name.to_owned(),
        at: (),
    }
}

impl Manifest {
    /// Starts a manifest with its two required fields.
    pub fn builder(id: impl Into<String>, version: impl Into<String>) -> ManifestBuilder {
        let id = id.into();
        ManifestBuilder {
            entries: vec![("id", Value::Str(id.clone())), ("version", Value::Str(version.into()))],
            id,
            dependencies: Vec::new(),
            features: Vec::new(),
            permissions: Vec::new(),
            contributes: None,
        }
    }
}

impl ManifestBuilder {
    /// Sets the human-readable name (default: the id).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.entries.push(("name", Value::Str(name.into())));
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.entries.push(("description", Value::Str(description.into())));
        self
    }

    /// Sets the oldest host version the plugin runs on.
    pub fn min_host_version(mut self, version: impl Into<String>) -> Self {
        self.entries.push(("min-host-version", Value::Str(version.into())));
        self
    }

    /// Requires a host feature.
    pub fn require_feature(mut self, feature: impl Into<String>) -> Self {
        self.features.push(node(Value::Str(feature.into())));
        self
    }

    /// Adds a dependency on `id` with a version range.
    pub fn depends_on(mut self, id: &str, range: impl Into<String>) -> Self {
        self.dependencies.push((key(id), node(Value::Str(range.into()))));
        self
    }

    /// Adds an optional dependency: `id` may be absent, but when present must match.
    pub fn optional_dependency(mut self, id: &str, range: impl Into<String>) -> Self {
        let table = vec![
            (key("version"), node(Value::Str(range.into()))),
            (key("optional"), node(Value::Bool(true))),
        ];
        self.dependencies.push((key(id), node(Value::Table(table))));
        self
    }

    /// Declares a contribution: `kind` is one of
    /// [`Contributions::KINDS`](crate::Contributions::KINDS) (`commands`, `publishes`,
    /// `subscribes`, `hooks`, `services`). The first call makes the manifest declare
    /// `contributes`, so what the plugin registers is then checked against it.
    pub fn contributes(mut self, kind: &str, name: &str) -> Self {
        let kinds = self.contributes.get_or_insert_with(Vec::new);
        match kinds.iter_mut().find(|(known, _)| known == kind) {
            Some((_, names)) => names.push(node(Value::Str(name.to_owned()))),
            None => kinds.push((kind.to_owned(), vec![node(Value::Str(name.to_owned()))])),
        }
        self
    }

    /// Declares that the plugin contributes nothing (an empty `contributes`), so that
    /// any registration is a mismatch.
    pub fn contributes_nothing(mut self) -> Self {
        self.contributes.get_or_insert_with(Vec::new);
        self
    }

    /// Sets the activation deadline, as a manifest writes it (`"5s"`, `"250ms"`).
    pub fn activation_deadline(mut self, deadline: impl Into<String>) -> Self {
        self.entries.push(("activation-deadline", Value::Str(deadline.into())));
        self
    }

    /// Deprecates the plugin, saying why, and naming the plugin that replaces it if one
    /// does.
    pub fn deprecated(mut self, message: impl Into<String>, replacement: Option<&str>) -> Self {
        let mut table = vec![(key("message"), node(Value::Str(message.into())))];
        if let Some(replacement) = replacement {
            table.push((key("replacement"), node(Value::Str(replacement.to_owned()))));
        }
        self.entries.push(("deprecated", Value::Table(table)));
        self
    }

    /// Makes the plugin lazy: activated on first use (see
    /// [`Activation::Lazy`](crate::Activation::Lazy)).
    pub fn lazy(mut self) -> Self {
        self.entries.push(("activation", Value::Str("lazy".to_owned())));
        self
    }

    /// Declares a permission.
    pub fn permission(mut self, resource: &str, action: &str, scope: Scope) -> Self {
        self.permissions.push((resource.to_owned(), action.to_owned(), scope));
        self
    }

    /// Validates and returns the manifest.
    pub fn build(self) -> Result<Manifest, ManifestError> {
        let mut table: Vec<(Key<()>, Node<()>)> = self
            .entries
            .into_iter()
            .map(|(name, value)| (key(name), node(value)))
            .collect();
        if !self.features.is_empty() {
            table.push((key("required-features"), node(Value::Array(self.features))));
        }
        if !self.dependencies.is_empty() {
            table.push((key("dependencies"), node(Value::Table(self.dependencies))));
        }
        if !self.permissions.is_empty() {
            let permissions = group_by_resource(self.permissions);
            table.push((key("permissions"), node(Value::Table(permissions))));
        }
        if let Some(kinds) = self.contributes {
            let kinds = kinds
                .into_iter()
                .map(|(kind, names)| (key(&kind), node(Value::Array(names))))
                .collect();
            table.push((key("contributes"), node(Value::Table(kinds))));
        }
        validate(&node(Value::Table(table)), KeyStyle::Kebab, &Defaults::default()).map_err(|diagnostics| {
            ManifestError {
                plugin: self.id,
                diagnostics,
            }
        })
    }
}

/// Groups grants by resource into `resource = { action = true, ..., scope = "..." }`
/// tables, in first-seen order. Grants on one resource with different scopes keep the
/// widest, since a manifest gives one scope per resource.
fn group_by_resource(grants: Vec<(String, String, Scope)>) -> Vec<(Key<()>, Node<()>)> {
    let mut grouped: Vec<(String, Vec<String>, Scope)> = Vec::new();
    for (resource, action, scope) in grants {
        match grouped.iter_mut().find(|(existing, _, _)| *existing == resource) {
            Some((_, actions, widest)) => {
                actions.push(action);
                *widest = (*widest).max(scope);
            }
            None => grouped.push((resource, vec![action], scope)),
        }
    }
    grouped
        .into_iter()
        .map(|(resource, actions, scope)| {
            let mut table: Vec<(Key<()>, Node<()>)> = actions
                .iter()
                .map(|action| (key(action), node(Value::Bool(true))))
                .collect();
            table.push((key("scope"), node(Value::Str(scope.as_str().to_owned()))));
            (key(&resource), node(Value::Table(table)))
        })
        .collect()
}
