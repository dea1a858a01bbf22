//! The one validator every manifest source goes through.

use std::fmt;

use crate::catalogue::{self, Problem};
use crate::{Activation, Contributions, Dependency, Deprecation, Key, Manifest, Node, Permission, Scope, Value};

/// How a source spells multi-word keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStyle {
    /// `min-host-version`: `[package.metadata.plugin]` in Cargo.toml.
    Kebab,
    /// `minHostVersion`: `plugin.json`, in the guide's shape.
    Camel,
    /// `min_host_version`: inline `#[register_plugin(...)]` arguments.
    Snake,
}

/// Values taken from the plugin's package when the manifest leaves them out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Defaults {
    /// The package version (`CARGO_PKG_VERSION`), used when `version` is absent.
    pub version: Option<String>,
    /// The package description (`CARGO_PKG_DESCRIPTION`), used when `description` is absent.
    pub description: Option<String>,
    /// The manifest registers a plugin type (`#[register_plugin]`), so a lazy plugin
    /// must contribute something whose use wakes it: a command, a subscription or a
    /// service. (A manifest built at run time, for an explicit spec, may be woken by
    /// `Host::activate` alone.)
    pub registers_type: bool,
}

/// One problem found in a manifest: where, which field, what is wrong and the fix.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic<L> {
    /// Where the offending value or key was written.
    pub at: L,
    /// The field, as a dotted path in the source's spelling (`dependencies.kv-store`).
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl<L> fmt::Display for Diagnostic<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

const FIELDS: [&str; 12] = [
    "id",
    "name",
    "version",
    "description",
    "min-host-version",
    "required-features",
    "dependencies",
    "permissions",
    "contributes",
    "activation",
    "activation-deadline",
    "deprecated",
];

impl KeyStyle {
    /// The spelling of a kebab-case field name in this style.
    pub fn spell(self, kebab: &str) -> String {
        match self {
            KeyStyle::Kebab => kebab.to_owned(),
            KeyStyle::Snake => kebab.replace('-', "_"),
            KeyStyle::Camel => {
                let mut out = String::with_capacity(kebab.len());
                let mut upper = false;
                for c in kebab.chars() {
                    if c == '-' {
                        upper = true;
                    } else if upper {
                        out.push(c.to_ascii_uppercase());
                        upper = false;
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }

    /// Where keys in this style are written, for messages.
    fn source(self) -> &'static str {
        match self {
            KeyStyle::Kebab => "[package.metadata.plugin]",
            KeyStyle::Camel => "plugin.json",
            KeyStyle::Snake => "#[register_plugin(...)]",
        }
    }
}

/// Validates a manifest tree written in `style`, filling absent fields from `defaults`.
///
/// Every problem is reported, not only the first, so that one build shows them all.
pub fn validate<L: Clone>(
    root: &Node<L>,
    style: KeyStyle,
    defaults: &Defaults,
) -> Result<Manifest, Vec<Diagnostic<L>>> {
    let mut checker = Checker {
        style,
        diagnostics: Vec::new(),
    };
    let manifest = checker.manifest(root, defaults);
    match manifest {
        Some(manifest) if checker.diagnostics.is_empty() => Ok(manifest),
        _ => Err(checker.diagnostics),
    }
}

/// The permission that lets a plugin register each kind of contribution, in the order
/// of [`Contributions::KINDS`].
const CONTRIBUTION_PERMISSIONS: [(&str, &str); 5] = [
    ("commands", "register"),
    ("events", "publish"),
    ("events", "subscribe"),
    ("hooks", "declare"),
    ("services", "provide"),
];

/// An example entry of each kind, for help texts.
const CONTRIBUTION_EXAMPLES: [&str; 5] = [
    "hello",
    "my_crate::Greeted",
    "my_crate::Greeted",
    "decorate",
    "dyn my_crate::KeyValue",
];

fn kind_index(kind: &str) -> usize {
    Contributions::KINDS
        .iter()
        .position(|known| *known == kind)
        .unwrap_or(0)
}

struct Checker<L> {
    style: KeyStyle,
    diagnostics: Vec<Diagnostic<L>>,
}

impl<L: Clone> Checker<L> {
    fn report(&mut self, at: &L, field: impl Into<String>, problem: Problem) {
        self.diagnostics.push(Diagnostic {
            at: at.clone(),
            field: field.into(),
            message: problem.message,
            help: problem.help,
        });
    }

    fn error(&mut self, at: &L, field: impl Into<String>, message: String, help: impl Into<Option<String>>) {
        self.report(
            at,
            field,
            Problem {
                message,
                help: help.into(),
            },
        );
    }

    fn expect_str<'n>(&mut self, node: &'n Node<L>, field: &str, example: &str) -> Option<&'n str> {
        match &node.value {
            Value::Str(text) => Some(text),
            other => {
                self.error(
                    &node.at,
                    field,
                    format!("`{field}` must be a string, found {}", other.kind()),
                    format!("write it as a string, e.g. `{example}`"),
                );
                None
            }
        }
    }

    fn expect_table<'n>(&mut self, node: &'n Node<L>, field: &str, example: &str) -> Option<&'n [(Key<L>, Node<L>)]> {
        match &node.value {
            Value::Table(entries) => Some(entries),
            other => {
                self.error(
                    &node.at,
                    field,
                    format!("`{field}` must be a table, found {}", other.kind()),
                    format!("write it as a table, e.g. `{example}`"),
                );
                None
            }
        }
    }

    fn manifest(&mut self, root: &Node<L>, defaults: &Defaults) -> Option<Manifest> {
        let style = self.style;
        let entries = match &root.value {
            Value::Table(entries) => entries,
            other => {
                // The whole manifest is not a table: say so in the source's own terms.
                let (message, help) = match style {
                    KeyStyle::Camel => (
                        format!("a JSON manifest is one object, found {}", other.kind()),
                        "write the manifest as one object, e.g. `{ \"id\": \"my-plugin\", \"version\": \"0.1.0\" }`",
                    ),
                    KeyStyle::Kebab => (
                        format!(
                            "`package.metadata.plugin` in Cargo.toml must be a table, found {}",
                            other.kind()
                        ),
                        "write a `[package.metadata.plugin]` table with the fields under it, e.g. `id = \"my-plugin\"` on the next line",
                    ),
                    KeyStyle::Snake => (
                        format!("the manifest must be a table, found {}", other.kind()),
                        "write it as a table, e.g. `{ id = \"my-plugin\" }`",
                    ),
                };
                self.error(&root.at, "manifest", message, help.to_owned());
                return None;
            }
        };
        let mut fields: [Option<&Node<L>>; FIELDS.len()] = [None; FIELDS.len()];
        for (key, value) in entries {
            let known = FIELDS.iter().position(|field| style.spell(field) == key.name);
            match known {
                Some(index) if fields[index].is_some() => self.error(
                    &key.at,
                    key.name.clone(),
                    format!("`{}` is given twice", key.name),
                    "remove one of them".to_owned(),
                ),
                Some(index) => fields[index] = Some(value),
                None => {
                    let spelled: Vec<String> = FIELDS.iter().map(|field| style.spell(field)).collect();
                    let spelled: Vec<&str> = spelled.iter().map(String::as_str).collect();
                    let help = if key.name == "main" {
                        "remove it: a patchpanel plugin has no entry file, the type that carries `#[register_plugin]` is its entry".to_owned()
                    } else {
                        catalogue::did_you_mean(&key.name, &spelled, &format!("fields of {}", style.source()))
                    };
                    self.error(
                        &key.at,
                        key.name.clone(),
                        format!("unknown manifest field `{}`", key.name),
                        help,
                    );
                }
            }
        }
        let [
            id,
            name,
            version,
            description,
            min_host,
            features,
            dependencies,
            permissions,
            contributes,
            activation,
            activation_deadline,
            deprecated,
        ] = fields;

        let id = match id {
            Some(node) => self
                .expect_str(node, "id", "kv-store")
                .and_then(|id| match catalogue::check_id(id) {
                    Ok(()) => Some(id.to_owned()),
                    Err(problem) => {
                        self.report(&node.at, "id", problem);
                        None
                    }
                }),
            None => {
                self.error(
                    &root.at,
                    "id",
                    format!("the manifest has no `id` in {}", style.source()),
                    "add `id`, e.g. `id = \"my-plugin\"`: lowercase letters, digits, and single `-` or `.` between words".to_owned(),
                );
                None
            }
        };
        let plugin = id.as_deref().unwrap_or("?");

        let version_field = style.spell("version");
        let version = match version {
            Some(node) => self.expect_str(node, &version_field, "1.0.0").and_then(|text| {
                catalogue::parse_version(&version_field, text)
                    .map_err(|problem| self.report(&node.at, version_field.clone(), problem))
                    .ok()
            }),
            None => match &defaults.version {
                Some(text) => catalogue::parse_version("package.version", text)
                    .map_err(|problem| self.report(&root.at, "version", problem))
                    .ok(),
                None => {
                    self.error(
                        &root.at,
                        "version",
                        format!("the manifest of `{plugin}` has no `version` in {}", style.source()),
                        "add `\"version\": \"1.0.0\"` (a semver version)".to_owned(),
                    );
                    None
                }
            },
        };

        let name = name
            .and_then(|node| self.expect_str(node, "name", "Greeter"))
            .map(str::to_owned);
        let description = match description {
            Some(node) => self.expect_str(node, "description", "What it does").map(str::to_owned),
            None => Some(defaults.description.clone().unwrap_or_default()),
        };

        let min_host_field = style.spell("min-host-version");
        let min_host_version = min_host.and_then(|node| {
            let text = self.expect_str(node, &min_host_field, "0.1.0")?;
            let parsed = catalogue::parse_version(&min_host_field, text)
                .map_err(|problem| self.report(&node.at, min_host_field.clone(), problem))
                .ok()?;
            if let Err(problem) = catalogue::check_min_host_version(plugin, &parsed) {
                self.report(&node.at, min_host_field.clone(), problem);
            }
            Some(parsed)
        });

        let required_features = self.features(features);
        let dependencies = self.dependencies(dependencies, id.as_deref());
        let permissions = self.permissions(permissions);
        let contributes = contributes.and_then(|node| self.contributions(node, &permissions));
        let activation = match activation {
            None => Activation::Eager,
            Some(node) => match self.expect_str(node, "activation", "lazy") {
                Some("eager") => Activation::Eager,
                Some("lazy") => {
                    match &contributes {
                        None => self.error(
                            &node.at,
                            "activation",
                            format!("plugin `{plugin}` is lazy but declares no `contributes`, so nothing would ever activate it"),
                            "declare what it contributes (`contributes = { commands = [\"...\"] }`), or remove `activation`".to_owned(),
                        ),
                        // A lazy plugin wakes at the first use of a command, an event it
                        // subscribes to, or a service it provides.
                        Some(contributed)
                            if defaults.registers_type
                                && contributed.commands.is_empty()
                                && contributed.subscribes.is_empty()
                                && contributed.services.is_empty() =>
                        {
                            self.error(
                                &node.at,
                                "activation",
                                format!(
                                    "plugin `{plugin}` is lazy but contributes no command, subscription or service, so nothing could ever wake it"
                                ),
                                "list in `contributes` what wakes it (`commands`, `subscribes` or `services`), or remove `activation`".to_owned(),
                            );
                        }
                        Some(_) => {}
                    }
                    Activation::Lazy
                }
                Some(other) => {
                    self.error(
                        &node.at,
                        "activation",
                        format!("`activation` must be `eager` or `lazy`, found `{other}`"),
                        catalogue::did_you_mean(other, &["eager", "lazy"], "activations"),
                    );
                    Activation::Eager
                }
                None => Activation::Eager,
            },
        };

        let deadline_field = style.spell("activation-deadline");
        let activation_deadline = activation_deadline.and_then(|node| {
            let text = self.expect_str(node, &deadline_field, "5s")?;
            catalogue::parse_deadline(&deadline_field, text)
                .map_err(|problem| self.report(&node.at, deadline_field.clone(), problem))
                .ok()
        });

        let deprecated = deprecated.and_then(|node| self.deprecation(node, plugin));

        Some(Manifest {
            name: name.unwrap_or_else(|| plugin.to_owned()),
            id: id?,
            version: version?,
            description: description?,
            min_host_version,
            required_features,
            dependencies,
            permissions,
            contributes,
            activation,
            activation_deadline,
            deprecated,
        })
    }

    /// `deprecated = "why"` or `deprecated = { message = "why", replacement = "other-id" }`:
    /// a message that says something, and a replacement that is a valid id other than
    /// the plugin's own.
    fn deprecation(&mut self, node: &Node<L>, plugin: &str) -> Option<Deprecation> {
        let example = "{ message = \"use `new-store`\", replacement = \"new-store\" }";
        let (message_node, replacement_node) = match &node.value {
            Value::Str(_) => (Some(node), None),
            Value::Table(entries) => {
                let mut message = None;
                let mut replacement = None;
                for (key, value) in entries {
                    match key.name.as_str() {
                        "message" => message = Some(value),
                        "replacement" => replacement = Some(value),
                        other => self.error(
                            &key.at,
                            "deprecated",
                            format!("`deprecated` has no field `{other}`"),
                            catalogue::did_you_mean(other, &["message", "replacement"], "fields of `deprecated`"),
                        ),
                    }
                }
                if message.is_none() {
                    self.error(
                        &node.at,
                        "deprecated",
                        format!("the deprecation of `{plugin}` has no `message`"),
                        format!("say why and what to use instead, e.g. `deprecated = {example}`"),
                    );
                }
                (message, replacement)
            }
            other => {
                self.error(
                    &node.at,
                    "deprecated",
                    format!("`deprecated` must be a message or a table, found {}", other.kind()),
                    format!("write `deprecated = \"why\"` or `deprecated = {example}`"),
                );
                return None;
            }
        };
        let message = message_node.and_then(|node| self.expect_str(node, "deprecated.message", "use `new-store`"))?;
        if message.trim().is_empty() {
            self.error(
                &message_node.expect("a message was found").at,
                "deprecated.message",
                format!("the deprecation message of `{plugin}` is empty"),
                "say why it is deprecated and what to use instead".to_owned(),
            );
            return None;
        }
        let replacement = match replacement_node {
            None => None,
            Some(node) => {
                let replacement = self.expect_str(node, "deprecated.replacement", "new-store")?;
                if let Err(problem) = catalogue::check_id(replacement) {
                    self.report(&node.at, "deprecated.replacement", problem);
                    return None;
                }
                if replacement == plugin {
                    self.error(
                        &node.at,
                        "deprecated.replacement",
                        format!("`{plugin}` names itself as its replacement"),
                        "name the plugin that replaces it, or leave `replacement` out".to_owned(),
                    );
                    return None;
                }
                Some(replacement.to_owned())
            }
        };
        Some(Deprecation {
            message: message.to_owned(),
            replacement,
        })
    }

    /// `contributes = { commands = [...], publishes = [...], subscribes = [...],
    /// hooks = [...], services = [...] }`: names checked as registrations check them,
    /// type names as Rust paths, no duplicates, and each list backed by the permission
    /// that lets the plugin register it.
    fn contributions(&mut self, node: &Node<L>, permissions: &[Permission]) -> Option<Contributions> {
        let entries = self.expect_table(node, "contributes", "{ commands = [\"hello\"] }")?;
        let mut contributions = Contributions::default();
        for (key, value) in entries {
            let kind = key.name.as_str();
            let field = format!("contributes.{kind}");
            let Some(&(resource, action)) = Contributions::KINDS
                .iter()
                .zip(CONTRIBUTION_PERMISSIONS.iter())
                .find(|(known, _)| **known == kind)
                .map(|(_, permission)| permission)
            else {
                self.error(
                    &key.at,
                    field,
                    format!("unknown contribution `{kind}`"),
                    catalogue::did_you_mean(kind, &Contributions::KINDS, "contributions"),
                );
                continue;
            };
            let Value::Array(items) = &value.value else {
                self.error(
                    &value.at,
                    field.clone(),
                    format!("`{field}` must be an array of strings, found {}", value.value.kind()),
                    format!(
                        "write it as an array, e.g. `{kind} = [\"{}\"]`",
                        CONTRIBUTION_EXAMPLES[kind_index(kind)]
                    ),
                );
                continue;
            };
            if !items.is_empty() && !permissions.iter().any(|p| p.resource == resource && p.action == action) {
                self.error(
                    &key.at,
                    field.clone(),
                    format!("`{field}` lists {kind}, but the manifest does not declare `{resource}.{action}`"),
                    format!("add `{resource} = [\"{action}\"]` to `permissions`, or remove `{kind}`"),
                );
            }
            for item in items {
                let Some(name) = self.expect_str(item, &field, CONTRIBUTION_EXAMPLES[kind_index(kind)]) else {
                    continue;
                };
                let problem = match kind {
                    "commands" | "hooks" => catalogue::check_local_name(name).err(),
                    _ => catalogue::check_type_name(name).err(),
                };
                if let Some(problem) = problem {
                    self.report(&item.at, field.clone(), problem);
                } else if kind == "services" && !name.starts_with("dyn ") {
                    self.error(
                        &item.at,
                        field.clone(),
                        format!("`{name}` in `{field}` is not a `dyn` trait: a service is provided and found as a trait object"),
                        format!(
                            "write it as `std::any::type_name` prints the trait object, e.g. `dyn {name}` (`dyn kv_store::KeyValue`)"
                        ),
                    );
                } else if contributions.list(kind).iter().any(|existing| existing == name) {
                    self.error(
                        &item.at,
                        field.clone(),
                        format!("`{name}` is listed twice in `{field}`"),
                        "remove one of them".to_owned(),
                    );
                } else {
                    contributions.add(kind, name);
                }
            }
        }
        Some(contributions)
    }

    fn features(&mut self, node: Option<&Node<L>>) -> Vec<String> {
        let field = self.style.spell("required-features");
        let Some(node) = node else { return Vec::new() };
        let Value::Array(items) = &node.value else {
            self.error(
                &node.at,
                field.clone(),
                format!("`{field}` must be an array of strings, found {}", node.value.kind()),
                "write it as an array, e.g. `[\"events\", \"storage\"]`".to_owned(),
            );
            return Vec::new();
        };
        let mut features: Vec<String> = Vec::new();
        for item in items {
            if let Some(name) = self.expect_str(item, &field, "storage") {
                match catalogue::feature(name) {
                    Ok(feature) if features.iter().any(|known| known == feature) => self.error(
                        &item.at,
                        field.clone(),
                        format!("feature `{feature}` is listed twice in `{field}`"),
                        "remove one of them".to_owned(),
                    ),
                    Ok(feature) => features.push(feature.to_owned()),
                    Err(problem) => self.report(&item.at, field.clone(), problem),
                }
            }
        }
        features.sort();
        features.dedup();
        features
    }

    fn dependencies(&mut self, node: Option<&Node<L>>, own_id: Option<&str>) -> Vec<Dependency> {
        let Some(node) = node else { return Vec::new() };
        let Some(entries) = self.expect_table(node, "dependencies", "{ kv-store = \"^1.0\" }") else {
            return Vec::new();
        };
        let mut dependencies: Vec<Dependency> = Vec::new();
        for (key, value) in entries {
            let field = format!("dependencies.{}", key.name);
            if let Err(mut problem) = catalogue::check_id(&key.name) {
                problem.message = format!("dependency {}", problem.message.trim_start_matches("the "));
                self.report(&key.at, field, problem);
                continue;
            }
            if Some(key.name.as_str()) == own_id {
                self.error(
                    &key.at,
                    field,
                    format!("plugin `{}` depends on itself", key.name),
                    format!("remove `{}` from `dependencies`", key.name),
                );
                continue;
            }
            if dependencies.iter().any(|dependency| dependency.id == key.name) {
                self.error(
                    &key.at,
                    field,
                    format!("dependency `{}` is given twice", key.name),
                    "remove one of them".to_owned(),
                );
                continue;
            }
            let (range, optional) = match &value.value {
                Value::Str(range) => (Some((range.as_str(), &value.at)), false),
                Value::Table(entries) => self.dependency_table(entries, &value.at, &field),
                other => {
                    self.error(
                        &value.at,
                        field,
                        format!(
                            "dependency `{}` must be a version range or a table, found {}",
                            key.name,
                            other.kind()
                        ),
                        format!(
                            "write `\"^1.0\"` or `{{ version = \"^1.0\", optional = true }}` for `{}`",
                            key.name
                        ),
                    );
                    continue;
                }
            };
            let Some((range, at)) = range else { continue };
            match catalogue::parse_version_req(&key.name, range) {
                Ok(req) => dependencies.push(Dependency {
                    id: key.name.clone(),
                    req,
                    optional,
                }),
                Err(problem) => self.report(at, field, problem),
            }
        }
        dependencies.sort_by(|a, b| a.id.cmp(&b.id));
        dependencies
    }

    /// `{ version = "^1.0", optional = true }`
    fn dependency_table<'n>(
        &mut self,
        entries: &'n [(Key<L>, Node<L>)],
        at: &'n L,
        field: &str,
    ) -> (Option<(&'n str, &'n L)>, bool) {
        let mut range = None;
        let mut optional = false;
        for (key, value) in entries {
            match key.name.as_str() {
                "version" => {
                    range = self
                        .expect_str(value, &format!("{field}.version"), "^1.0")
                        .map(|r| (r, &value.at))
                }
                "optional" => match value.value {
                    Value::Bool(flag) => optional = flag,
                    ref other => self.error(
                        &value.at,
                        format!("{field}.optional"),
                        format!("`{field}.optional` must be a boolean, found {}", other.kind()),
                        "write `optional = true`".to_owned(),
                    ),
                },
                other => self.error(
                    &key.at,
                    format!("{field}.{other}"),
                    format!("unknown key `{other}` in dependency table `{field}`"),
                    catalogue::did_you_mean(other, &["version", "optional"], "keys"),
                ),
            }
        }
        if range.is_none() && !entries.iter().any(|(key, _)| key.name == "version") {
            self.error(
                at,
                format!("{field}.version"),
                format!("dependency table `{field}` has no `version`"),
                "add a version range, e.g. `version = \"^1.0\"`".to_owned(),
            );
        }
        (range, optional)
    }

    fn permissions(&mut self, node: Option<&Node<L>>) -> Vec<Permission> {
        let Some(node) = node else { return Vec::new() };
        let Some(entries) = self.expect_table(node, "permissions", "{ storage = [\"read\", \"write\"] }") else {
            return Vec::new();
        };
        let mut permissions = Vec::new();
        for (key, value) in entries {
            let field = format!("permissions.{}", key.name);
            let (resource, actions) = match catalogue::resource(&key.name) {
                Ok(found) => found,
                Err(problem) => {
                    self.report(&key.at, field, problem);
                    continue;
                }
            };
            let mut scope = Scope::PluginOnly;
            let mut granted: Vec<&'static str> = Vec::new();
            let check_action = |checker: &mut Self, name: &str, at: &L| match catalogue::action(resource, actions, name)
            {
                Ok(action) => Some(action),
                Err(problem) => {
                    checker.report(at, format!("{field}.{name}"), problem);
                    None
                }
            };
            match &value.value {
                Value::Array(items) => {
                    for item in items {
                        if let Some(name) = self.expect_str(item, &field, "read") {
                            let Some(action) = check_action(self, name, &item.at) else {
                                continue;
                            };
                            if granted.contains(&action) {
                                self.error(
                                    &item.at,
                                    field.clone(),
                                    format!("action `{action}` is listed twice in permission `{resource}`"),
                                    "remove one of them".to_owned(),
                                );
                            } else {
                                granted.push(action);
                            }
                        }
                    }
                    if items.is_empty() {
                        self.error(
                            &value.at,
                            field.clone(),
                            format!("permission `{resource}` lists no action, so it declares nothing"),
                            format!(
                                "name the actions, e.g. `{resource} = [\"{}\"]`, or remove `{resource}`",
                                actions[0]
                            ),
                        );
                    }
                }
                Value::Table(pairs) => {
                    if !pairs.is_empty() && pairs.iter().all(|(action_key, _)| action_key.name == "scope") {
                        self.error(
                            &value.at,
                            field.clone(),
                            format!("permission `{resource}` gives a scope but no action, so it declares nothing"),
                            format!(
                                "name the actions it is for, e.g. `{resource} = {{ {} = true, scope = \"all\" }}`",
                                actions[0]
                            ),
                        );
                    }
                    let declares_nothing = !pairs.is_empty()
                        && pairs.iter().any(|(action_key, _)| action_key.name != "scope")
                        && pairs.iter().all(|(action_key, flag)| {
                            action_key.name == "scope" || matches!(flag.value, Value::Bool(false))
                        });
                    if declares_nothing {
                        self.error(
                            &value.at,
                            field.clone(),
                            format!("permission `{resource}` sets every action it names to false, so it declares nothing"),
                            format!(
                                "set the actions the plugin uses to true, e.g. `{resource} = {{ {} = true }}`, or remove `{resource}`",
                                actions[0]
                            ),
                        );
                    }
                    for (action_key, flag) in pairs {
                        if action_key.name == "scope" {
                            if let Some(name) = self.expect_str(flag, &format!("{field}.scope"), "all") {
                                match catalogue::scope(name) {
                                    Ok(parsed) => scope = parsed,
                                    Err(problem) => self.report(&flag.at, format!("{field}.scope"), problem),
                                }
                            }
                            continue;
                        }
                        let Some(action) = check_action(self, &action_key.name, &action_key.at) else {
                            continue;
                        };
                        match flag.value {
                            Value::Bool(true) => granted.push(action),
                            Value::Bool(false) => {}
                            ref other => self.error(
                                &flag.at,
                                format!("{field}.{}", action_key.name),
                                format!(
                                    "permission `{resource}.{action}` must be true or false, found {}",
                                    other.kind()
                                ),
                                format!("write `{action} = true`"),
                            ),
                        }
                    }
                }
                other => self.error(
                    &value.at,
                    field,
                    format!(
                        "permission `{resource}` must be an array of actions or a table, found {}",
                        other.kind()
                    ),
                    format!(
                        "write `{resource} = [\"{}\"]` or `{resource} = {{ {} = true, scope = \"all\" }}`",
                        actions[0], actions[0]
                    ),
                ),
            }
            permissions.extend(granted.into_iter().map(|action| Permission {
                resource,
                action,
                scope,
            }));
        }
        permissions.sort();
        permissions.dedup();
        permissions
    }
}
