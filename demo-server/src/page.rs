//! `GET /`: the admin page. It lists the plugins (version, state, health, dependencies
//! and dependents), draws the dependency graph, and offers on each row the actions its
//! state allows ([`actions_for`]): disable (with a cascade choice when other plugins
//! depend on it), enable, reload. Every action answers in the page (what was disabled
//! with it, the reload's generation, or the refusal), the table follows the host live
//! (it polls `GET /plugins` and `GET /readyz` every two seconds), and a plugin's
//! "details" show its manifest, permissions and grants, contributions, dependents and
//! recent audit records (`GET /plugins/{id}`). The first view is rendered here, so the
//! page shows the plugins without JavaScript; the actions need it.
//!
//! Until the operator logs in with the admin token (`POST /login`, see
//! [`crate::auth`]), `GET /` shows only the login form. The page carries its session's
//! CSRF token, which the buttons send with every change.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::{get, post};

use crate::AppState;

/// The page's routes: the page and its login.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/login", post(crate::auth::login))
}

/// `?login=refused` after a wrong token.
#[derive(Debug, Default, serde::Deserialize)]
struct LoginOutcome {
    login: Option<String>,
}

async fn page(State(state): State<AppState>, headers: HeaderMap, outcome: Query<LoginOutcome>) -> Html<String> {
    let session = match state.auth.session_csrf(&headers) {
        Some(csrf) => Session::LoggedIn { csrf },
        None => Session::LoggedOut {
            refused: outcome.login.as_deref() == Some("refused"),
        },
    };
    let host = state.host.clone();
    // Health checks are plugin code: off the async workers.
    let health = tokio::task::spawn_blocking(move || demo_app::health_json(&host.health()))
        .await
        .unwrap_or(serde_json::Value::Null);
    Html(render(&demo_app::list_json(&state.host), &health, &session))
}

/// Who is looking at the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Session {
    /// Logged in with the admin token: the page has action buttons, and this CSRF token
    /// to send with them.
    LoggedIn {
        /// The session's CSRF token.
        csrf: String,
    },
    /// Not logged in: the page is read-only, with the login form; `refused` after a
    /// wrong token.
    LoggedOut {
        /// Whether the last login gave a wrong token.
        refused: bool,
    },
}

/// The login form: the admin token, posted to `/login`.
fn login_form(refused: bool) -> String {
    let said = if refused { "That is not the admin token." } else { "" };
    format!(
        r#"<form method="post" action="/login" id="login-form">
<p>Log in to change plugins: paste the admin token (<code>PATCHPANEL_ADMIN_TOKEN</code>, the <code>--admin-token-file</code>, or the file demo-server printed when it started).</p>
<p id="login-message" role="status">{said}</p>
<input type="password" name="token" id="token" autocomplete="current-password" required>
<button type="submit" id="login">Log in</button>
</form>
"#
    )
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page for `plugins` (as `GET /plugins` returns them) and their `health` (as
/// `GET /readyz` returns it), as `session` sees it: read-only with a login form, or with
/// the action buttons and the session's CSRF token.
pub fn render(plugins: &serde_json::Value, health: &serde_json::Value, session: &Session) -> String {
    let (csrf_meta, login, logged_in) = match session {
        Session::LoggedIn { csrf } => (
            format!("<meta name=\"csrf-token\" content=\"{}\">\n", escape(csrf)),
            String::new(),
            true,
        ),
        Session::LoggedOut { refused } => (String::new(), login_form(*refused), false),
    };
    let empty = Vec::new();
    let plugins = plugins.as_array().unwrap_or(&empty);
    let health_of = |id: &str| {
        health["plugins"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|plugin| plugin["id"] == id)
            .map(|plugin| {
                let status = plugin["health"].as_str().unwrap_or("unknown").to_owned();
                match plugin["reason"].as_str() {
                    Some(reason) => format!("{status}: {reason}"),
                    None => status,
                }
            })
            .unwrap_or_else(|| "unknown".to_owned())
    };
    let rows: String = plugins
        .iter()
        .map(|plugin| {
            let id = plugin["id"].as_str().unwrap_or_default();
            row(plugin, &health_of(id), &dependents(plugins, id), logged_in)
        })
        .collect();
    let actions_table = actions_table();
    let overall = escape(health["status"].as_str().unwrap_or("unknown"));
    let graph = graph(plugins);
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
{csrf_meta}<title>patchpanel demo-server</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 2rem; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .4rem .8rem; text-align: left; }}
.state-active {{ color: #1a7f37; }} .state-disabled {{ color: #9a6700; }} .state-failed {{ color: #cf222e; }}
button {{ margin-right: .3rem; }} label {{ margin-right: .5rem; }}
#message, #login-message {{ min-height: 1.5rem; color: #cf222e; }}
#message.ok {{ color: #1a7f37; }}
#detail {{ border-top: 1px solid #ddd; margin-top: 1rem; }}
</style>
</head>
<body>
<h1>Plugins</h1>
{login}<p>Overall health: <strong id="overall">{overall}</strong></p>
<p id="message" role="status"></p>
<table id="plugins">
<thead><tr><th>id</th><th>version</th><th>state</th><th>health</th><th>dependencies</th><th>dependents</th><th>actions</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
<section id="detail" hidden></section>
<h2>Dependency graph</h2>
{graph}
<script>
const ACTIONS = {actions_table};
{SCRIPT}
</script>
</body>
</html>
"#
    )
}

/// The actions the page offers for a plugin in `state` (a [`patchpanel::State`] as
/// `GET /plugins` spells it): what the admin API can do from there.
pub fn actions_for(state: &str) -> &'static [&'static str] {
    match state {
        "active" => &["disable", "reload"],
        "disabled" => &["enable"],
        "failed" => &["reload"],
        // A lazy plugin not used yet: disabling it keeps it from waking.
        "resolved" => &["disable"],
        _ => &[],
    }
}

/// [`actions_for`] of every state, as a JSON object for the page's script, so that the
/// rows it redraws offer what the first view offered.
fn actions_table() -> String {
    let states = ["active", "disabled", "failed", "resolved", "loaded", "unloaded"];
    let table: serde_json::Map<String, serde_json::Value> = states
        .iter()
        .map(|state| ((*state).to_owned(), serde_json::json!(actions_for(state))))
        .collect();
    serde_json::Value::Object(table).to_string()
}

/// The ids of the plugins that depend on `id`.
fn dependents<'p>(plugins: &'p [serde_json::Value], id: &str) -> Vec<&'p str> {
    plugins
        .iter()
        .filter(|plugin| {
            plugin["dependencies"]
                .as_array()
                .is_some_and(|list| list.iter().any(|dependency| dependency == id))
        })
        .filter_map(|plugin| plugin["id"].as_str())
        .collect()
}

/// The row's action cell: a button per action its state allows, and the cascade
/// choice beside "disable" when other plugins depend on it.
fn action_cell(id: &str, state: &str, dependents: &[&str]) -> String {
    let mut cell = String::new();
    for action in actions_for(state) {
        cell.push_str(&format!(
            r#"<button data-action="{action}" data-id="{id}" id="{action}-{id}">{action}</button>"#
        ));
        if *action == "disable" && !dependents.is_empty() {
            cell.push_str(&format!(
                r#"<label><input type="checkbox" id="cascade-{id}"> with its dependents</label>"#
            ));
        }
    }
    cell.push_str(&format!(
        r#"<button data-details="{id}" id="details-{id}">details</button>"#
    ));
    cell
}

fn row(plugin: &serde_json::Value, health: &str, dependents: &[&str], logged_in: bool) -> String {
    let health = escape(health);
    let id = escape(plugin["id"].as_str().unwrap_or_default());
    let version = escape(plugin["version"].as_str().unwrap_or_default());
    let state = escape(plugin["state"].as_str().unwrap_or_default());
    let dependencies = plugin["dependencies"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(serde_json::Value::as_str)
                .map(escape)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let dependents: Vec<String> = dependents.iter().map(|id| escape(id)).collect();
    let dependents_text = dependents.join(", ");
    let dependents: Vec<&str> = dependents.iter().map(String::as_str).collect();
    let buttons = if logged_in {
        action_cell(&id, &state, &dependents)
    } else {
        String::new()
    };
    format!(
        "<tr data-id=\"{id}\"><td>{id}</td><td>{version}</td><td class=\"state state-{state}\">{state}</td><td class=\"health\">{health}</td><td>{dependencies}</td><td class=\"dependents\">{dependents_text}</td><td class=\"actions\">{buttons}</td></tr>\n"
    )
}

/// The page's script: the actions (with the cascade choice and the answer of each),
/// the live refresh, and the detail view. `ACTIONS` is [`actions_table`].
const SCRIPT: &str = r#"
const loggedIn = () => document.querySelector('meta[name="csrf-token"]') !== null;
const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
const text = (value) => document.createTextNode(value == null ? '' : String(value));
function say(words, ok) {
  const message = document.getElementById('message');
  message.textContent = words;
  message.className = ok ? 'ok' : '';
}
async function act(id, action) {
  say('', true);
  const cascade = document.getElementById('cascade-' + id);
  const query = action === 'disable' && cascade && cascade.checked ? '?cascade=true' : '';
  const response = await fetch('/plugins/' + encodeURIComponent(id) + '/' + action + query, {
    method: 'POST', headers: { 'x-csrf-token': csrf() }, credentials: 'same-origin'
  });
  const body = await response.json().catch(() => ({ error: { message: response.statusText } }));
  if (!response.ok) {
    say(action + ' ' + id + ': ' + body.error.message, false);
  } else if (action === 'disable') {
    const others = (body.disabled || []).filter((other) => other !== id);
    say('disabled ' + id + (others.length ? ', and with it ' + others.join(', ') : ''), true);
  } else if (action === 'reload') {
    say('reloaded ' + id + ': generation ' + body.generation
      + (body.oldDeactivate ? '; the old instance failed to deactivate: ' + body.oldDeactivate : ''), true);
  } else {
    say(action + 'd ' + id + ': ' + body.plugin.state, true);
  }
  await refresh();
}
function actionCell(plugin, dependents) {
  const cell = document.createElement('td');
  cell.className = 'actions';
  if (!loggedIn()) return cell;
  for (const action of (ACTIONS[plugin.state] || [])) {
    const button = document.createElement('button');
    button.dataset.action = action; button.dataset.id = plugin.id; button.id = action + '-' + plugin.id;
    button.textContent = action;
    cell.appendChild(button);
    if (action === 'disable' && dependents.length) {
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox'; box.id = 'cascade-' + plugin.id;
      label.appendChild(box); label.appendChild(text(' with its dependents'));
      cell.appendChild(label);
    }
  }
  const details = document.createElement('button');
  details.dataset.details = plugin.id; details.id = 'details-' + plugin.id; details.textContent = 'details';
  cell.appendChild(details);
  return cell;
}
async function refresh() {
  const plugins = await (await fetch('/plugins')).json();
  const health = await (await fetch('/readyz')).json().catch(() => ({}));
  document.getElementById('overall').textContent = health.status || 'unknown';
  for (const plugin of plugins) {
    const row = document.querySelector('tr[data-id="' + CSS.escape(plugin.id) + '"]');
    if (!row) continue;
    const state = row.querySelector('.state');
    if (state.textContent !== plugin.state) {
      state.textContent = plugin.state; state.className = 'state state-' + plugin.state;
    }
    const checked = (health.plugins || []).find((entry) => entry.id === plugin.id);
    if (checked) row.querySelector('.health').textContent = checked.health + (checked.reason ? ': ' + checked.reason : '');
    const dependents = plugins.filter((other) => (other.dependencies || []).includes(plugin.id)).map((other) => other.id);
    const wanted = (ACTIONS[plugin.state] || []).join(' ') + '|' + dependents.length;
    const cell = row.querySelector('.actions');
    if (cell.dataset.shown !== wanted) {
      const cascade = document.getElementById('cascade-' + plugin.id);
      const fresh = actionCell(plugin, dependents);
      fresh.dataset.shown = wanted;
      cell.replaceWith(fresh);
      const again = document.getElementById('cascade-' + plugin.id);
      if (cascade && again) again.checked = cascade.checked;
    }
  }
}
function list(title, items) {
  const section = document.createElement('div');
  const heading = document.createElement('h3');
  heading.textContent = title;
  section.appendChild(heading);
  const ul = document.createElement('ul');
  for (const item of items) { const li = document.createElement('li'); li.appendChild(text(item)); ul.appendChild(li); }
  if (!items.length) { const li = document.createElement('li'); li.appendChild(text('none')); ul.appendChild(li); }
  section.appendChild(ul);
  return section;
}
async function details(id) {
  const response = await fetch('/plugins/' + encodeURIComponent(id), {
    headers: { 'x-csrf-token': csrf() }, credentials: 'same-origin'
  });
  const body = await response.json().catch(() => ({ error: { message: response.statusText } }));
  const detail = document.getElementById('detail');
  detail.replaceChildren();
  detail.hidden = false;
  const heading = document.createElement('h2');
  heading.textContent = id + ' ' + ((body.plugin || {}).version || '');
  detail.appendChild(heading);
  if (!response.ok) { detail.appendChild(text(body.error.message)); return; }
  detail.appendChild(text((body.description || '') + ' (' + body.type + ', ' + body.plugin.state + ')'));
  detail.appendChild(list('Permissions', body.permissions.map((p) => p.permission + ' (scope ' + p.scope + ')')));
  detail.appendChild(list('Granted by the application', body.granted == null ? ['no grants stated'] : body.granted));
  detail.appendChild(list('Contributes', body.capabilities.map((c) => c.kind + ' ' + c.name)));
  detail.appendChild(list('Dependents', body.dependents));
  detail.appendChild(list('Recent audit records', body.audit.map((r) => r.action + ' ' + r.decision + ': ' + r.details)));
}
document.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  if (button) { act(button.dataset.id, button.dataset.action); return; }
  const detail = event.target.closest('button[data-details]');
  if (detail) details(detail.dataset.details);
});
for (const cell of document.querySelectorAll('td.actions')) {
  const row = cell.closest('tr');
  const state = row.querySelector('.state').textContent;
  const dependents = row.querySelector('.dependents').textContent;
  cell.dataset.shown = (ACTIONS[state] || []).join(' ') + '|' + (dependents ? dependents.split(', ').length : 0);
}
setInterval(refresh, 2000);
"#;

/// The dependency graph as SVG: one column per dependency depth, an arrow from each
/// plugin to each of its dependencies.
fn graph(plugins: &[serde_json::Value]) -> String {
    let ids: Vec<&str> = plugins.iter().filter_map(|plugin| plugin["id"].as_str()).collect();
    let dependencies = |index: usize| -> Vec<usize> {
        plugins[index]["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|dependency| ids.iter().position(|id| Some(*id) == dependency.as_str()))
            .collect()
    };
    // Plugins come in activation order, so a dependency's depth is known first.
    let mut depth = vec![0usize; ids.len()];
    for index in 0..ids.len() {
        depth[index] = dependencies(index).iter().map(|&d| depth[d] + 1).max().unwrap_or(0);
    }
    let mut rows_used = vec![0usize; ids.len() + 1];
    let mut place = vec![(0usize, 0usize); ids.len()];
    for index in 0..ids.len() {
        place[index] = (depth[index], rows_used[depth[index]]);
        rows_used[depth[index]] += 1;
    }
    let (box_w, box_h, gap_x, gap_y) = (130, 30, 60, 20);
    let at = |(column, row): (usize, usize)| (20 + column * (box_w + gap_x), 20 + row * (box_h + gap_y));
    let width = 40 + (depth.iter().max().copied().unwrap_or(0) + 1) * (box_w + gap_x);
    let height = 40 + rows_used.iter().max().copied().unwrap_or(1) * (box_h + gap_y);
    let mut svg = format!(
        r#"<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="dependency graph">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>
"#
    );
    for index in 0..ids.len() {
        let (x, y) = at(place[index]);
        for dependency in dependencies(index) {
            let (dx, dy) = at(place[dependency]);
            svg.push_str(&format!(
                r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#555" marker-end="url(#arrow)"/>
"##,
                x,
                y + box_h / 2,
                dx + box_w,
                dy + box_h / 2
            ));
        }
    }
    for (index, id) in ids.iter().enumerate() {
        let (x, y) = at(place[index]);
        svg.push_str(&format!(
            r##"<g><rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="4" fill="#f6f8fa" stroke="#555"/><text x="{}" y="{}" text-anchor="middle" font-size="13">{}</text></g>
"##,
            x + box_w / 2,
            y + box_h / 2 + 4,
            escape(id)
        ));
    }
    svg.push_str("</svg>");
    svg
}
