//! `GET /`: the admin page. It lists the plugins (version, state, dependencies), draws
//! the dependency graph, and has disable, enable and reload buttons that call the
//! admin API and redraw from `GET /plugins`. The first view is rendered here, so the
//! page shows the plugins without JavaScript; the buttons need it.
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
        .map(|plugin| row(plugin, &health_of(plugin["id"].as_str().unwrap_or_default()), logged_in))
        .collect();
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
button {{ margin-right: .3rem; }}
#message, #login-message {{ min-height: 1.5rem; color: #cf222e; }}
</style>
</head>
<body>
<h1>Plugins</h1>
{login}<p>Overall health: <strong id="overall">{overall}</strong></p>
<p id="message" role="status"></p>
<table id="plugins">
<thead><tr><th>id</th><th>version</th><th>state</th><th>health</th><th>dependencies</th><th>actions</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
<h2>Dependency graph</h2>
{graph}
<script>
async function act(id, action) {{
  const message = document.getElementById('message');
  message.textContent = '';
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch('/plugins/' + encodeURIComponent(id) + '/' + action, {{
    method: 'POST', headers: {{ 'x-csrf-token': csrf }}, credentials: 'same-origin'
  }});
  if (!response.ok) {{
    const body = await response.json().catch(() => ({{ error: {{ message: response.statusText }} }}));
    message.textContent = action + ' ' + id + ': ' + body.error.message;
  }}
  await refresh();
}}
async function refresh() {{
  const plugins = await (await fetch('/plugins')).json();
  for (const plugin of plugins) {{
    const state = document.querySelector('tr[data-id="' + CSS.escape(plugin.id) + '"] .state');
    if (state) {{ state.textContent = plugin.state; state.className = 'state state-' + plugin.state; }}
  }}
}}
document.addEventListener('click', (event) => {{
  const button = event.target.closest('button[data-action]');
  if (button) act(button.dataset.id, button.dataset.action);
}});
</script>
</body>
</html>
"#
    )
}

fn row(plugin: &serde_json::Value, health: &str, logged_in: bool) -> String {
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
    let actions: &[&str] = if logged_in {
        &["disable", "enable", "reload"]
    } else {
        &[]
    };
    let buttons: String = actions
        .iter()
        .map(|action| format!(r#"<button data-action="{action}" data-id="{id}" id="{action}-{id}">{action}</button>"#))
        .collect();
    format!(
        "<tr data-id=\"{id}\"><td>{id}</td><td>{version}</td><td class=\"state state-{state}\">{state}</td><td class=\"health\">{health}</td><td>{dependencies}</td><td>{buttons}</td></tr>\n"
    )
}

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
