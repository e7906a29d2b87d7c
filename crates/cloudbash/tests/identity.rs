//! `cloudbash serve --jwt-issuer` against a real identity provider: the
//! Cognito emulation of the local moto server (`scripts/services.sh`), which
//! signs RS256 access and ID tokens and publishes their keys. The server
//! accepts an organiser's and a fan's access tokens of its app client and
//! tells them apart by the `admin` group; it refuses ID tokens, tokens of
//! another app client, locally signed tokens and tampered ones with a 401
//! problem, and answers a 503 problem while it cannot fetch the keys.

mod support;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use support::{Backend, Server, token, user};

/// moto answers every AWS service on one port; `scripts/services.sh` exports
/// it per service, and Cognito's variable takes precedence when set.
fn moto_endpoint() -> String {
    let variable = ["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", "AWS_ENDPOINT_URL_DYNAMODB"]
        .into_iter()
        .find(|variable| std::env::var_os(variable).is_some())
        .unwrap_or("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER");
    ticketing_testkit::services::assert_local(variable);
    std::env::var(variable).expect("checked above").trim_end_matches('/').to_owned()
}

/// A password that meets a new user pool's default policy.
const PASSWORD: &str = "Correct-Horse-7-Battery";

/// A user pool of its own on the emulator: two app clients, and two users,
/// one of them in the `admin` group.
struct Pool {
    http: Client,
    endpoint: String,
    id: String,
    /// The app client the shop trusts.
    client: String,
    /// Another app client of the same pool.
    other_client: String,
}

/// The tokens one sign-in returns.
struct Tokens {
    access: String,
    id: String,
}

impl Pool {
    async fn create() -> Pool {
        let http = Client::new();
        let endpoint = moto_endpoint();
        let name = format!("shop-{}", uuid::Uuid::new_v4().simple());
        let created = cognito(&http, &endpoint, "CreateUserPool", json!({"PoolName": name})).await;
        let id = created["UserPool"]["Id"].as_str().expect("a pool id").to_owned();
        let mut pool = Pool { http, endpoint, id, client: String::new(), other_client: String::new() };
        pool.client = pool.app_client("shop").await;
        pool.other_client = pool.app_client("elsewhere").await;
        pool.call("CreateGroup", json!({"UserPoolId": pool.id, "GroupName": "admin"})).await;
        pool
    }

    async fn call(&self, operation: &str, body: Value) -> Value {
        cognito(&self.http, &self.endpoint, operation, body).await
    }

    async fn app_client(&self, name: &str) -> String {
        let flows = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"];
        let body = json!({"UserPoolId": self.id, "ClientName": name, "ExplicitAuthFlows": flows});
        let created = self.call("CreateUserPoolClient", body).await;
        created["UserPoolClient"]["ClientId"].as_str().expect("a client id").to_owned()
    }

    /// The issuer its tokens name: `https://cognito-idp.<region>.amazonaws.com/<pool id>`, the region being the
    /// prefix of the pool's id.
    fn issuer(&self) -> String {
        let region = self.id.split_once('_').expect("a pool id is <region>_<id>").0;
        format!("https://cognito-idp.{region}.amazonaws.com/{}", self.id)
    }

    /// Where the emulator publishes the pool's keys (Cognito does so under the issuer).
    fn jwks_url(&self) -> String {
        format!("{}/{}/.well-known/jwks.json", self.endpoint, self.id)
    }

    /// A confirmed user with a password, in the `admin` group when `organiser`.
    async fn user(&self, name: &str, organiser: bool) {
        let pool = &self.id;
        self.call("AdminCreateUser", json!({"UserPoolId": pool, "Username": name, "MessageAction": "SUPPRESS"})).await;
        let password = json!({"UserPoolId": pool, "Username": name, "Password": PASSWORD, "Permanent": true});
        self.call("AdminSetUserPassword", password).await;
        if organiser {
            self.call("AdminAddUserToGroup", json!({"UserPoolId": pool, "Username": name, "GroupName": "admin"})).await;
        }
    }

    /// Signs `name` in through app client `client`.
    async fn sign_in(&self, name: &str, client: &str) -> Tokens {
        let body = json!({
            "UserPoolId": self.id,
            "ClientId": client,
            "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": name, "PASSWORD": PASSWORD},
        });
        let signed_in = self.call("AdminInitiateAuth", body).await;
        let result = &signed_in["AuthenticationResult"];
        let text = |name: &str| result[name].as_str().unwrap_or_else(|| panic!("{name} in {signed_in}")).to_owned();
        Tokens { access: text("AccessToken"), id: text("IdToken") }
    }
}

/// One call of the Cognito user pools API (JSON 1.1 over HTTP, as the SDKs send it).
async fn cognito(http: &Client, endpoint: &str, operation: &str, body: Value) -> Value {
    let response = http
        .post(format!("{endpoint}/"))
        .header("X-Amz-Target", format!("AWSCognitoIdentityProviderService.{operation}"))
        .header(CONTENT_TYPE, "application/x-amz-json-1.1")
        .body(body.to_string())
        .send()
        .await
        .expect("the emulator answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    assert!(status.is_success(), "{operation}: {status} {text}");
    serde_json::from_str(&text).expect("the emulator answers JSON")
}

/// A shop that trusts `pool`'s tokens for its app client, with its keys at `jwks_url`.
struct Shop {
    dir: tempfile::TempDir,
    server: Server,
    http: Client,
}

impl Shop {
    fn trusting(pool: &Pool, jwks_url: &str) -> Shop {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (issuer, client) = (pool.issuer(), pool.client.clone());
        let flags = ["--jwt-issuer", &issuer, "--jwt-jwks-url", jwks_url, "--jwt-client-id", &client];
        let server = Server::start_with(dir.path(), &Backend::Embedded, &flags);
        Shop { dir, server, http: Client::new() }
    }

    /// Sends `method path` with `token`; the status, content type and body.
    async fn send(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, String, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.server.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the shop answers");
        let status = response.status();
        let content_type =
            response.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
        let text = response.text().await.expect("a body");
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") };
        (status, content_type, body)
    }

    async fn create_venue(&self, token: &str) -> (StatusCode, String, Value) {
        let venue = json!({"name": "Paradiso", "address": "Weteringschans 6", "city": "Amsterdam", "capacity": 1500});
        self.send(Method::POST, "/venues", token, Some(venue)).await
    }

    /// Asserts that `token` is refused with a 401 problem whose detail mentions `reason`.
    async fn assert_refused(&self, token: &str, reason: &str) {
        for (method, path) in [(Method::GET, "/cart"), (Method::POST, "/venues")] {
            let body =
                (method == Method::POST).then(|| json!({"name": "x", "address": "y", "city": "z", "capacity": 1}));
            let (status, content_type, problem) = self.send(method.clone(), path, token, body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {problem}");
            assert_eq!(content_type, "application/problem+json", "{method} {path}");
            let detail = problem["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(reason), "{method} {path}: {detail:?} should mention {reason:?}");
        }
    }
}

/// A pool with an organiser and a fan, and a shop trusting it.
async fn shop_and_pool() -> (Shop, Pool) {
    let pool = Pool::create().await;
    pool.user("olga", true).await;
    pool.user("fred", false).await;
    let shop = Shop::trusting(&pool, &pool.jwks_url());
    (shop, pool)
}

#[tokio::test]
async fn an_organisers_access_token_creates_a_venue_and_a_fans_is_forbidden() {
    let (shop, pool) = shop_and_pool().await;
    let organiser = pool.sign_in("olga", &pool.client).await;
    let fan = pool.sign_in("fred", &pool.client).await;

    let (created, _, venue) = shop.create_venue(&organiser.access).await;
    let (forbidden, content_type, problem) = shop.create_venue(&fan.access).await;
    let (cart, _, _) = shop.send(Method::GET, "/cart", &fan.access, None).await;

    assert_eq!(created, StatusCode::CREATED, "{venue}");
    assert!(venue["id"].is_string(), "{venue}");
    assert_eq!(forbidden, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(cart, StatusCode::OK, "a fan is a signed-in customer");
}

#[tokio::test]
async fn an_id_token_is_refused() {
    let (shop, pool) = shop_and_pool().await;
    let organiser = pool.sign_in("olga", &pool.client).await;

    shop.assert_refused(&organiser.id, "not an access token").await;
}

#[tokio::test]
async fn an_access_token_for_another_app_client_is_refused() {
    let (shop, pool) = shop_and_pool().await;
    let elsewhere = pool.sign_in("olga", &pool.other_client).await;

    shop.assert_refused(&elsewhere.access, "not issued for this API").await;
}

#[tokio::test]
async fn a_locally_signed_token_is_refused() {
    let (shop, _pool) = shop_and_pool().await;
    // Minted for the shop's own data directory, as for a server without an issuer.
    let local = token(shop.dir.path(), &user(), true);

    shop.assert_refused(&local, "RS256").await;
}

#[tokio::test]
async fn a_tampered_token_is_refused() {
    let (shop, pool) = shop_and_pool().await;
    let organiser = pool.sign_in("olga", &pool.client).await;
    let fan = pool.sign_in("fred", &pool.client).await;
    // The fan's header and signature around the organiser's claims: a fan who would be an organiser.
    let [header, _, signature]: [&str; 3] =
        fan.access.split('.').collect::<Vec<_>>().try_into().expect("a JWT has three parts");
    let claims = organiser.access.split('.').nth(1).expect("a JWT has three parts");
    let tampered = format!("{header}.{claims}.{signature}");

    shop.assert_refused(&tampered, "signature").await;
}

#[tokio::test]
async fn keys_that_cannot_be_fetched_are_a_503_problem() {
    let pool = Pool::create().await;
    pool.user("olga", true).await;
    let organiser = pool.sign_in("olga", &pool.client).await;
    let nowhere = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        format!("http://{}/.well-known/jwks.json", listener.local_addr().expect("an address"))
    };
    let shop = Shop::trusting(&pool, &nowhere);

    let (status, content_type, problem) = shop.create_venue(&organiser.access).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("signing keys"), "{problem}");
}
