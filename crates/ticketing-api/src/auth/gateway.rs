//! The caller behind API Gateway, read from the claims its JWT authorizer verified. The gateway checks a token's
//! signature, issuer, audience and expiry, and then hands the function the claims as text; this process verifies no
//! token and holds no key. What the gateway does not check is `token_use`: its audience check accepts `aud` as
//! well as `client_id`, so an ID token of the same app client (whose `aud` is the client id) passes it. The claims
//! are therefore refused here unless they are an access token's, as on the hosts that verify tokens themselves.

use std::collections::HashMap;

use uuid::Uuid;

use super::{ACCESS_TOKEN_USE, ADMIN_GROUP, AuthError, Caller};

/// The claim that lists a Cognito user's groups.
pub(super) const GROUPS_CLAIM: &str = "cognito:groups";

/// The claims of an access token that API Gateway's JWT authorizer has verified, as the gateway hands them to a
/// function (`requestContext.authorizer.jwt.claims`). The Lambda host puts them into the request's extensions;
/// [`super::AuthState::gateway`] reads the caller from them.
///
/// The gateway passes every claim as text: a list such as `cognito:groups` arrives as `"[admin]"` or
/// `"[admin staff]"` (or, from some emulators, as a JSON array), so [`GatewayClaims::caller`] accepts each form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayClaims {
    claims: HashMap<String, serde_json::Value>,
}

impl GatewayClaims {
    /// Claims as the gateway passes them: name and text value.
    pub fn from_text<N, V>(claims: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: Into<String>,
        V: Into<String>,
    {
        let claims = claims.into_iter().map(|(name, value)| (name.into(), serde_json::Value::String(value.into())));
        Self { claims: claims.collect() }
    }

    /// Claims as JSON values, for callers that have them unflattened (a list as an array).
    pub fn from_json(claims: serde_json::Map<String, serde_json::Value>) -> Self {
        Self { claims: claims.into_iter().collect() }
    }

    /// The caller the claims stand for: `sub` must be a UUID and `token_use` must be `access` (an ID token, or
    /// claims without a `token_use`, are [`AuthError::NotAccessToken`]); `cognito:groups` (absent: no group)
    /// decides [`Caller::admin`].
    pub fn caller(&self) -> Result<Caller, AuthError> {
        let sub = match self.claims.get("sub") {
            Some(serde_json::Value::String(sub)) => sub,
            Some(_) => return Err(AuthError::Malformed("the `sub` claim is not a string".to_owned())),
            None => return Err(AuthError::Malformed("the `sub` claim is missing".to_owned())),
        };
        let user_id =
            Uuid::parse_str(sub).map_err(|_| AuthError::Malformed("the `sub` claim is not a UUID".to_owned()))?;
        if !self.is_access_token() {
            return Err(AuthError::NotAccessToken);
        }
        let admin = self.groups().iter().any(|group| group == ADMIN_GROUP);
        Ok(Caller { user_id, admin })
    }

    /// Whether `token_use` says these are an access token's claims.
    fn is_access_token(&self) -> bool {
        matches!(self.claims.get("token_use"), Some(serde_json::Value::String(token_use)) if token_use == ACCESS_TOKEN_USE)
    }

    /// The `cognito:groups` claim as a list, whichever form it arrived in.
    pub fn groups(&self) -> Vec<String> {
        match self.claims.get(GROUPS_CLAIM) {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(groups)) => {
                groups.iter().filter_map(|group| group.as_str().map(str::to_owned)).collect()
            }
            Some(serde_json::Value::String(text)) => groups_from_text(text),
            Some(other) => groups_from_text(&other.to_string()),
        }
    }
}

/// A list claim flattened to text: `["a","b"]` (JSON), `[a b]` (as API Gateway writes a list) or `a` (one item).
/// Cognito group names hold no white space, so splitting on it cannot cut a name in two.
fn groups_from_text(text: &str) -> Vec<String> {
    let text = text.trim();
    if let Ok(groups) = serde_json::from_str::<Vec<String>>(text) {
        return groups;
    }
    let inner = text.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(text);
    inner.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use axum::body::Body;
    use axum::http::header::AUTHORIZATION;
    use axum::http::{Request, StatusCode};

    use super::*;
    use crate::auth::{Admin, AuthState, LOCAL_CLIENT_ID};
    use crate::limits::TOKEN_LIFETIME_DEFAULT;
    use crate::test_support::{send, send_problem, test_signer};

    fn gateway_claims(sub: &str, groups: Option<&str>) -> GatewayClaims {
        let mut claims = vec![
            ("sub", sub.to_owned()),
            ("client_id", LOCAL_CLIENT_ID.to_owned()),
            ("token_use", "access".to_owned()),
        ];
        if let Some(groups) = groups {
            claims.push((GROUPS_CLAIM, groups.to_owned()));
        }
        GatewayClaims::from_text(claims)
    }

    /// The claims of a Cognito ID token as the gateway passes them: `aud` instead of `client_id`.
    fn id_token_claims(sub: &str) -> GatewayClaims {
        GatewayClaims::from_text([
            ("sub", sub),
            ("aud", LOCAL_CLIENT_ID),
            ("token_use", "id"),
            (GROUPS_CLAIM, "[admin]"),
        ])
    }

    #[test]
    fn gateway_groups_are_read_from_every_form_the_claim_arrives_in() {
        let sub = Uuid::new_v4().to_string();
        for (groups, expected) in [
            ("[admin]", vec!["admin"]),
            ("admin", vec!["admin"]),
            ("[staff admin]", vec!["staff", "admin"]),
            (r#"["staff","admin"]"#, vec!["staff", "admin"]),
            ("[]", vec![]),
            ("", vec![]),
        ] {
            let claims = gateway_claims(&sub, Some(groups));
            assert_eq!(claims.groups(), expected, "groups claim {groups:?}");
            let caller = claims.caller().expect("a valid sub");
            assert_eq!(caller.admin, expected.contains(&"admin"), "groups claim {groups:?}");
        }
    }

    #[test]
    fn gateway_groups_as_a_json_array_make_an_admin() {
        let user_id = Uuid::new_v4();
        let claims = serde_json::json!({
            "sub": user_id.to_string(),
            "token_use": "access",
            "cognito:groups": ["customers", "admin"],
        });
        let claims = serde_json::from_value(claims).expect("a literal object is a map");

        let caller = GatewayClaims::from_json(claims).caller().expect("valid claims");

        assert_eq!(caller, Caller { user_id, admin: true });
    }

    #[test]
    fn gateway_claims_without_groups_are_a_customer() {
        let user_id = Uuid::new_v4();

        let caller = gateway_claims(&user_id.to_string(), None).caller().expect("valid claims");

        assert_eq!(caller, Caller { user_id, admin: false });
    }

    #[test]
    fn a_group_that_only_contains_admin_is_not_admin() {
        let caller = gateway_claims(&Uuid::new_v4().to_string(), Some("[administrators]")).caller();

        assert!(matches!(caller, Ok(Caller { admin: false, .. })));
    }

    #[test]
    fn gateway_claims_without_a_sub_are_refused() {
        let claims = GatewayClaims::from_text([(GROUPS_CLAIM, "[admin]"), ("token_use", "access")]);

        assert!(matches!(claims.caller(), Err(AuthError::Malformed(message)) if message.contains("missing")));
    }

    #[test]
    fn gateway_claims_whose_sub_is_not_a_uuid_are_refused() {
        assert!(matches!(gateway_claims("alice", None).caller(), Err(AuthError::Malformed(_))));
    }

    #[test]
    fn the_claims_of_an_id_token_are_refused_even_though_the_gateway_let_them_through() {
        let claims = id_token_claims(&Uuid::new_v4().to_string());

        assert!(!claims.is_access_token());
        assert!(matches!(claims.caller(), Err(AuthError::NotAccessToken)));
    }

    #[test]
    fn claims_without_a_token_use_are_refused() {
        let claims =
            GatewayClaims::from_text([("sub", Uuid::new_v4().to_string()), (GROUPS_CLAIM, "[admin]".to_owned())]);

        assert!(matches!(claims.caller(), Err(AuthError::NotAccessToken)));
    }

    /// Routes that report their caller, authenticated by the gateway's claims.
    fn gateway_app() -> axum::Router {
        async fn me(caller: Option<Caller>) -> String {
            caller.map_or_else(|| "anonymous".to_owned(), |caller| format!("{} {}", caller.user_id, caller.admin))
        }
        async fn admin(admin: Admin) -> String {
            admin.user_id.to_string()
        }
        axum::Router::new()
            .route("/me", axum::routing::get(me))
            .route("/admin", axum::routing::get(admin))
            .with_state(AuthState::gateway())
    }

    fn with_claims(uri: &str, claims: Option<GatewayClaims>, authorization: Option<&str>) -> Request<Body> {
        let mut builder = Request::builder().uri(uri);
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value);
        }
        let mut request = builder.body(Body::empty()).expect("a literal request is valid");
        if let Some(claims) = claims {
            request.extensions_mut().insert(claims);
        }
        request
    }

    #[tokio::test]
    async fn behind_the_gateway_an_admin_route_serves_the_claims_of_an_admin() {
        let user_id = Uuid::new_v4();
        let claims = gateway_claims(&user_id.to_string(), Some("[admin]"));

        let (status, _, body) = send(gateway_app(), with_claims("/admin", Some(claims), None)).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, user_id.to_string().as_bytes());
    }

    #[tokio::test]
    async fn behind_the_gateway_a_request_without_claims_is_a_401_problem() {
        let problem = send_problem(gateway_app(), with_claims("/admin", None, None), StatusCode::UNAUTHORIZED).await;

        assert!(problem["detail"].as_str().unwrap_or_default().contains("no verified token"));
    }

    #[tokio::test]
    async fn behind_the_gateway_a_bearer_token_alone_is_never_trusted() {
        // On a route without the authorizer nobody checked the header: even a well-signed token means nothing here.
        let token = test_signer().issue(Uuid::new_v4(), true, TOKEN_LIFETIME_DEFAULT, SystemTime::now());
        let bearer = format!("Bearer {token}");

        send_problem(gateway_app(), with_claims("/admin", None, Some(&bearer)), StatusCode::UNAUTHORIZED).await;
        let (status, _, body) = send(gateway_app(), with_claims("/me", None, Some(&bearer))).await;
        assert_eq!((status, body.as_ref()), (StatusCode::OK, b"anonymous".as_ref()));
    }

    #[tokio::test]
    async fn behind_the_gateway_a_customer_on_an_admin_route_is_a_403_problem() {
        let claims = gateway_claims(&Uuid::new_v4().to_string(), Some("[customers]"));

        send_problem(gateway_app(), with_claims("/admin", Some(claims), None), StatusCode::FORBIDDEN).await;
    }

    #[tokio::test]
    async fn behind_the_gateway_claims_without_a_sub_are_a_401_problem() {
        let claims = GatewayClaims::from_text([(GROUPS_CLAIM, "[admin]"), ("token_use", "access")]);

        send_problem(gateway_app(), with_claims("/me", Some(claims), None), StatusCode::UNAUTHORIZED).await;
    }

    #[tokio::test]
    async fn behind_the_gateway_an_id_token_is_a_401_problem_on_every_route() {
        let claims = id_token_claims(&Uuid::new_v4().to_string());

        let problem =
            send_problem(gateway_app(), with_claims("/admin", Some(claims.clone()), None), StatusCode::UNAUTHORIZED)
                .await;
        send_problem(gateway_app(), with_claims("/me", Some(claims), None), StatusCode::UNAUTHORIZED).await;

        assert!(problem["detail"].as_str().unwrap_or_default().contains("not an access token"));
    }

    #[test]
    fn a_gateway_auth_state_has_no_verifier() {
        assert!(AuthState::gateway().verifier().is_none());
    }
}
