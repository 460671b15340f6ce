//! The test app: a real website on 127.0.0.1:0, a fresh database, a Redis
//! prefix of its own, and clients that behave like a browser or an API user.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use common::auth::keys::SigningKeyMaterial;
use common::auth::token::SessionLimits;
use common::config::{CommonConfig, PublicOrigin, Secret};
use reqwest::{Client, StatusCode, redirect};
use serde::Serialize;
use serde_json::{Value, json};
use test_support::TestDb;
use website::config::{Limits, WebsiteConfig};
use website::state::AppState;

pub struct TestApp {
    pub base: String,
    pub state: Arc<AppState>,
    pub db: Arc<TestDb>,
    pub redis_prefix: String,
    /// The signing key seed, so a second instance can share it.
    pub key_b64: String,
    /// Where this app's uploaded files are kept (shared by replicas).
    pub files_dir: Arc<tempfile::TempDir>,
}

/// How to build an app: the defaults, or sharing another app's world.
#[derive(Default)]
pub struct Options {
    pub db: Option<Arc<TestDb>>,
    pub redis_prefix: Option<String>,
    pub key_b64: Option<String>,
    pub https_origin: bool,
    /// Public keys still accepted besides the signing key's (a key rotation).
    pub previous_keys: Vec<common::auth::keys::PublicKey>,
    /// Changes one user may make per 10 s (the default's otherwise).
    pub send_limit: Option<u64>,
    /// The rate limits and quotas (the defaults otherwise).
    pub limits: Option<Limits>,
    /// The worker asked for semantic search (none otherwise).
    pub worker_url: Option<String>,
    /// The upload limits (the defaults otherwise).
    pub uploads: Option<website::uploads::UploadConfig>,
    /// Another app's files directory.
    pub files_dir: Option<Arc<tempfile::TempDir>>,
    /// A read replica of `db` (`DATABASE_READ_URL`; none otherwise).
    pub read_url: Option<String>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    /// A second website instance on the same database, Redis and key.
    pub async fn replica(&self) -> Self {
        Self::spawn_with(Options {
            db: Some(self.db.clone()),
            redis_prefix: Some(self.redis_prefix.clone()),
            key_b64: Some(self.key_b64.clone()),
            files_dir: Some(self.files_dir.clone()),
            ..Options::default()
        })
        .await
    }

    pub async fn spawn_with(options: Options) -> Self {
        let db = match options.db {
            Some(db) => db,
            None => Arc::new(TestDb::migrated().await),
        };
        let redis_prefix = options
            .redis_prefix
            .unwrap_or_else(test_support::unique_redis_prefix);
        let key_b64 = options
            .key_b64
            .unwrap_or_else(|| SigningKeyMaterial::generate().to_base64());
        let files_dir = options
            .files_dir
            .unwrap_or_else(|| Arc::new(tempfile::tempdir().unwrap()));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let origin = if options.https_origin {
            format!("https://127.0.0.1:{port}")
        } else {
            base.clone()
        };
        let config = WebsiteConfig {
            common: CommonConfig {
                database_url: Secret::new(db.url().to_owned()),
                database_pool_size: 4,
                database_read: options.read_url.map(|url| common::config::ReadReplica {
                    url: Secret::new(url),
                    pool_size: 2,
                }),
                redis: test_support::redis_target(),
                redis_prefix: redis_prefix.clone(),
                public_origin: PublicOrigin::parse(&origin).unwrap(),
                listen_addr: listener.local_addr().unwrap(),
                trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
                shutdown_timeout: Duration::from_secs(1),
                edit_window: Duration::from_secs(24 * 3600),
                send_limit: common::ratelimit::Limit {
                    max: options
                        .send_limit
                        .unwrap_or(common::ratelimit::SEND_PER_USER.max),
                    ..common::ratelimit::SEND_PER_USER
                },
                http_workers: 1,
                writer: Default::default(),
            },
            signing_key: SigningKeyMaterial::parse("TOKEN_SIGNING_KEY", &key_b64).unwrap(),
            previous_verifying_keys: options.previous_keys,
            session_limits: SessionLimits {
                idle: Duration::from_secs(3600),
                absolute: Duration::from_secs(7 * 24 * 3600),
            },
            hash_concurrency: 2,
            hash_queue: 16,
            hash_nice: 10,
            static_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/static").into(),
            body_limit: website::web::extract::BODY_LIMIT,
            password_policy: Default::default(),
            limits: options.limits.unwrap_or_default(),
            semantic: website::semantic::SemanticConfig {
                worker_url: options.worker_url,
                ..Default::default()
            },
            uploads: options.uploads.unwrap_or_default(),
            files: files::FilesConfig {
                backend: files::Backend::Local {
                    dir: files_dir.path().join("store"),
                },
            },
        };
        let state = AppState::build(config).await.unwrap();
        let server = website::server(state.clone(), listener).unwrap();
        tokio::spawn(server);
        Self {
            base,
            state,
            db,
            redis_prefix,
            key_b64,
            files_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The site's origin, as a browser would send it in `Origin`.
    pub fn origin(&self) -> String {
        self.state.config.common.public_origin.as_str().to_owned()
    }

    /// A browser: keeps cookies, does not follow redirects (tests check them).
    pub fn browser(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// The Prometheus text the website serves at `/metrics`.
    pub async fn metrics_text(&self) -> String {
        self.html(&self.api(), "/metrics").await
    }

    /// An API client without cookies.
    pub fn api(&self) -> Client {
        Client::builder()
            .redirect(redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// The CSRF token of the form on `path`, fetched with `browser`.
    pub async fn csrf(&self, browser: &Client, path: &str) -> String {
        let html = self.html(browser, path).await;
        csrf_in(&html).unwrap_or_else(|| panic!("no csrf_token on {path}"))
    }

    /// The page at `path` as `browser` sees it, whatever its status.
    pub async fn html(&self, browser: &Client, path: &str) -> String {
        browser
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `POST path` with a form, as `browser` (with its cookies).
    pub async fn post_form_as(
        &self,
        browser: &Client,
        path: &str,
        form: &impl Serialize,
    ) -> reqwest::Response {
        browser
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with a JSON body and a bearer token.
    pub async fn post_json_as(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.api()
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Registers through the API and returns a bearer token for the user.
    pub async fn user_token(&self, username: &str) -> String {
        let api = self.api();
        let res = api
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({"username": username, "email": format!("{username}@example.com"), "password": "correct horse"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap()
        );
        self.login_token(username, "correct horse", &[]).await
    }

    /// Signs in through the API (a new session) with these extra headers
    /// (`user-agent`, `x-real-ip`...) and returns its bearer token.
    pub async fn login_token(
        &self,
        login: &str,
        password: &str,
        headers: &[(&str, &str)],
    ) -> String {
        let mut req = self
            .api()
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"login": login, "password": password}));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A browser signed in as a newly registered user, through the pages.
    pub async fn signed_in_browser(&self, username: &str) -> Client {
        let browser = self.browser();
        let csrf = self.csrf(&browser, "/register").await;
        let email = format!("{username}@example.com");
        let form = [
            ("username", username),
            ("email", email.as_str()),
            ("password", "correct horse"),
            ("csrf_token", &csrf),
        ];
        let res = self.post_form_as(&browser, "/register", &form).await;
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "{}",
            res.text().await.unwrap()
        );
        browser
    }

    /// `GET path` with a bearer token.
    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.api()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The JSON body of `GET path` with a bearer token.
    pub async fn get_json_as(&self, token: &str, path: &str) -> Value {
        self.get_as(token, path).await.json().await.unwrap()
    }

    /// Any request with a bearer token, with a JSON body or none.
    pub async fn request_as(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut req = self
            .api()
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.unwrap()
    }

    /// A request with a bearer token and no body.
    pub async fn call_as(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
    ) -> reqwest::Response {
        self.request_as(method, token, path, None).await
    }

    /// The id of the token's user.
    pub async fn user_id(&self, token: &str) -> i64 {
        self.get_json_as(token, "/api/v1/users/me").await["user"]["id"]
            .as_i64()
            .unwrap()
    }

    /// Sends `body` to `room` through the API with a fresh nonce.
    pub async fn send_message(&self, token: &str, room: i64, body: &str) -> reqwest::Response {
        let nonce = format!("n-{}", uuid::Uuid::new_v4().simple());
        self.post_json_as(
            token,
            &format!("/api/v1/rooms/{room}/messages"),
            &json!({"body": body, "nonce": nonce}),
        )
        .await
    }

    /// A newly registered person: a browser signed in as them, and an API
    /// token of theirs.
    pub async fn person(&self, username: &str) -> (Client, String) {
        let browser = self.signed_in_browser(username).await;
        let token = self.login_token(username, "correct horse", &[]).await;
        (browser, token)
    }

    /// Lets the worker's search follower catch up with every room's log
    /// (the real follower, run here rather than beside the app).
    pub async fn index(&self) {
        let pool = common::db::build_pool(self.db.url(), 1, "test-worker").unwrap();
        let metrics = worker::metrics::Metrics::new().unwrap();
        let follow = worker::config::FollowConfig::default();
        let search = worker::follow::Consumer::Search;
        let (_stop, running) = tokio::sync::watch::channel(false);
        while worker::follow::pass(&pool, &metrics, &follow, &search, &running)
            .await
            .unwrap()
            .applied
            > 0
        {}
    }

    /// Lets the worker's follower of questions queue a job for every new
    /// message that mentions the assistant (the real follower; no worker
    /// answers them here).
    pub async fn queue_questions(&self) {
        let pool = common::db::build_pool(self.db.url(), 1, "test-worker").unwrap();
        let metrics = worker::metrics::Metrics::new().unwrap();
        let follow = worker::config::FollowConfig::default();
        let bot = {
            let mut conn = self.db.connect().await;
            common::store::users::bot(&mut conn).await.unwrap().id
        };
        let questions = worker::follow::Consumer::Questions {
            bot,
            max_age: Duration::from_secs(600),
        };
        let (_stop, running) = tokio::sync::watch::channel(false);
        while worker::follow::pass(&pool, &metrics, &follow, &questions, &running)
            .await
            .unwrap()
            .applied
            > 0
        {}
    }

    /// Creates a room through the API, returning its id.
    pub async fn room(&self, token: &str, name: &str) -> i64 {
        let body = json!({"name": name, "topic": format!("all about {name}")});
        let res = self.post_json_as(token, "/api/v1/rooms", &body).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()["room"]["id"]
            .as_i64()
            .unwrap()
    }
}

/// The token a response sets in the `parley_session` cookie, if any.
pub fn session_cookie_of(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("parley_session="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
}

/// The value of the first `csrf_token` field in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Status, `error.code` and `error.field` of an API error answer.
pub async fn field_error(res: reqwest::Response) -> (StatusCode, String, String) {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    let text = |k: &str| body["error"][k].as_str().unwrap_or_default().to_owned();
    (status, text("code"), text("field"))
}

/// The `error.code` of an API error body.
pub async fn error_code(res: reqwest::Response) -> String {
    let body: Value = res.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
        .to_owned()
}
