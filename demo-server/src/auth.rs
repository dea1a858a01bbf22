//! Who may run the admin API: a bearer token, or a session of the admin page, and only
//! from this server's own origin.
//!
//! - **The token.** `Authorization: Bearer <token>` on every mutating admin route
//!   (`POST /plugins/{id}/disable|enable|reload`). The server takes the token from
//!   `PATCHPANEL_ADMIN_TOKEN` or `--admin-token-file`; with neither, it generates one at
//!   start, writes it to a file only its user can read and prints where (as Jupyter
//!   does). It never runs the admin API unauthenticated. Tokens are compared in
//!   constant time.
//! - **The page.** `GET /` shows a login form until the operator pastes the token into
//!   it; `POST /login` then sets a session cookie (`HttpOnly`, `SameSite=Strict`, so no
//!   script and no other site's request carries it) and the page embeds that session's
//!   CSRF token, which its buttons send as `x-csrf-token`. A session cookie without its
//!   CSRF token is refused.
//! - **Origins.** A mutating request whose `Origin` is not this server's own (the
//!   scheme, and the `Host` it was sent to), or that a browser marks `Sec-Fetch-Site:
//!   cross-site`, is refused with 403 whatever credential it carries.
//!
//! Plugin routes (greeter's `GET /greeter/hello/{name}`) and the command boundary keep
//! their own rules: the command boundary is guarded by auth-guard's token.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::AppState;
use crate::errors::ApiError;

/// The cookie that carries an admin page session.
pub const SESSION_COOKIE: &str = "patchpanel_session";

/// The header the admin page sends its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The admin credential and the admin page's sessions.
#[derive(Debug)]
pub struct AdminAuth {
    token: String,
    /// Session id -> that session's CSRF token.
    sessions: Mutex<HashMap<String, String>>,
}

/// Where the admin token came from, for the start-up message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// `PATCHPANEL_ADMIN_TOKEN`.
    Environment,
    /// `--admin-token-file`.
    File(PathBuf),
    /// Generated at start and written to this file.
    Generated(PathBuf),
}

impl AdminAuth {
    /// Admin access with `token`. A blank token is refused: it would admit anyone.
    pub fn new(token: impl Into<String>) -> Result<AdminAuth, String> {
        let token = token.into();
        if token.trim().is_empty() {
            return Err("the admin token is empty; set PATCHPANEL_ADMIN_TOKEN or --admin-token-file to a non-blank secret, or set neither and the server generates one".to_owned());
        }
        Ok(AdminAuth {
            token,
            sessions: Mutex::new(HashMap::new()),
        })
    }

    /// The token from `PATCHPANEL_ADMIN_TOKEN` (`environment`), else from `file`, else a
    /// new random one written to `<data_dir>/admin-token` (readable by this user only).
    pub fn configure(
        environment: Option<String>,
        file: Option<&Path>,
        data_dir: &Path,
    ) -> Result<(AdminAuth, TokenSource), String> {
        if let Some(token) = environment {
            return Ok((AdminAuth::new(token)?, TokenSource::Environment));
        }
        if let Some(file) = file {
            let token = std::fs::read_to_string(file)
                .map_err(|error| format!("cannot read the admin token file `{}`: {error}", file.display()))?;
            return Ok((AdminAuth::new(token.trim())?, TokenSource::File(file.to_owned())));
        }
        let token = random_hex(32).map_err(|error| format!("cannot generate an admin token: {error}"))?;
        let path = data_dir.join("admin-token");
        write_private(&path, &token)
            .map_err(|error| format!("cannot write the admin token to `{}`: {error}", path.display()))?;
        Ok((AdminAuth::new(token)?, TokenSource::Generated(path)))
    }

    /// Whether `presented` is the token, compared in constant time (for tokens of the
    /// token's length).
    pub fn is_token(&self, presented: &str) -> bool {
        constant_time_eq(presented.as_bytes(), self.token.as_bytes())
    }

    /// A new admin page session: its id (for the cookie) and its CSRF token.
    pub fn open_session(&self) -> std::io::Result<(String, String)> {
        let (id, csrf) = (random_hex(32)?, random_hex(32)?);
        crate::lock(&self.sessions).insert(id.clone(), csrf.clone());
        Ok((id, csrf))
    }

    /// The CSRF token of the session the request's cookie names, if it names one.
    pub fn session_csrf(&self, headers: &HeaderMap) -> Option<String> {
        let id = cookie(headers, SESSION_COOKIE)?;
        crate::lock(&self.sessions).get(id).cloned()
    }

    /// Whether the request carries a credential for a mutating admin route: the bearer
    /// token, or a session cookie with its CSRF token.
    fn admits(&self, headers: &HeaderMap) -> bool {
        if let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
        {
            return self.is_token(token.trim());
        }
        match (
            self.session_csrf(headers),
            headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()),
        ) {
            (Some(expected), Some(sent)) => constant_time_eq(sent.as_bytes(), expected.as_bytes()),
            _ => false,
        }
    }
}

/// Refuses a request from another origin (403), then one without a credential (401):
/// the layer around every mutating admin route.
pub async fn require_admin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Err(refused) = same_origin(request.headers()) {
        return refused.into_response();
    }
    if !state.auth.admits(request.headers()) {
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the admin API needs `Authorization: Bearer <token>` (the token is PATCHPANEL_ADMIN_TOKEN, the --admin-token-file, or the file demo-server printed at start), or the admin page's session",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}

/// `Ok` when the request comes from this server's own origin, or names none (a client
/// that is not a browser); a 403 otherwise.
pub fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|value| value.to_str().ok());
    let refuse = |from: &str| {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "admin requests from another origin are refused (this one came from {from}); use the admin page served by this server, or a client that sends no Origin"
            ),
        ))
    };
    if text(header::HeaderName::from_static("sec-fetch-site")) == Some("cross-site") {
        return refuse("another site");
    }
    match (text(header::ORIGIN), text(header::HOST)) {
        (None, _) => Ok(()),
        (Some(origin), Some(host)) if origin == format!("http://{host}") => Ok(()),
        (Some(origin), _) => refuse(&format!("`{origin}`")),
    }
}

/// `POST /login`'s body: the token pasted into the form.
#[derive(Debug, serde::Deserialize)]
pub struct Login {
    /// The admin token.
    pub token: String,
}

/// `POST /login`: with the right token from this server's own page, a session cookie
/// and back to the page; otherwise the page again, saying why.
pub async fn login(State(state): State<AppState>, headers: HeaderMap, form: axum::Form<Login>) -> Response {
    if let Err(refused) = same_origin(&headers) {
        return refused.into_response();
    }
    if !state.auth.is_token(form.token.trim()) {
        return Redirect::to("/?login=refused").into_response();
    }
    match state.auth.open_session() {
        Ok((id, _)) => {
            let cookie = format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/");
            let mut response = Redirect::to("/").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("cannot open a session: {error}"),
        )
        .into_response(),
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Equality that takes as long whatever the first differing byte (a length difference
/// is still told at once: the length of a token is not its secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// `bytes` random bytes from the operating system, as hex.
fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buffer = vec![0_u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buffer)?;
    Ok(buffer.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Writes `text` to `path`, readable and writable by this user only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole_and_blank_ones_are_refused() {
        let auth = AdminAuth::new("s3cret").unwrap();
        assert!(auth.is_token("s3cret"));
        assert!(!auth.is_token("s3creT") && !auth.is_token("s3cre") && !auth.is_token(""));
        assert_eq!(
            AdminAuth::new("  ").unwrap_err(),
            "the admin token is empty; set PATCHPANEL_ADMIN_TOKEN or --admin-token-file to a non-blank secret, or set neither and the server generates one"
        );
    }

    #[test]
    fn the_origin_must_be_this_server_or_absent() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_static(value));
            }
            map
        };
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8080")])).is_ok());
        assert!(
            same_origin(&headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080")
            ]))
            .is_ok()
        );
        let refused = same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:18099"),
        ]))
        .unwrap_err();
        assert_eq!((refused.status, refused.kind), (StatusCode::FORBIDDEN, "forbidden"));
        assert!(
            same_origin(&headers(&[
                ("host", "127.0.0.1:8080"),
                ("sec-fetch-site", "cross-site")
            ]))
            .is_err()
        );
    }

    #[test]
    fn a_generated_token_is_written_for_this_user_only() {
        let dir = std::env::temp_dir().join(format!("demo-server-token-{}", std::process::id()));
        let (auth, source) = AdminAuth::configure(None, None, &dir).unwrap();
        let TokenSource::Generated(path) = source else {
            panic!("{source:?}")
        };
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(auth.is_token(written.trim()) && written.trim().len() == 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (from_env, source) = AdminAuth::configure(Some("given".into()), Some(&path), &dir).unwrap();
        assert!(from_env.is_token("given") && source == TokenSource::Environment);
        let (from_file, _) = AdminAuth::configure(None, Some(&path), &dir).unwrap();
        assert!(from_file.is_token(written.trim()));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
