//! The directory against moto's Cognito user pools: a customer's account,
//! found by the subject of its tokens, is disabled and enabled again; a
//! subject without an account is passed over.

use aws_sdk_cognitoidentityprovider::Client;
use ticketing::CustomerId;
use ticketing_app::directory::Directory;
use ticketing_cognito::CognitoDirectory;

const ENDPOINT: &str = "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER";

async fn client() -> Client {
    let endpoint = std::env::var(ENDPOINT).unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"),
        "{ENDPOINT} must point at a local emulator (got {endpoint:?}); run `. scripts/services.sh` first"
    );
    Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
}

/// A pool of its own with two accounts; the first account's subject.
async fn pool(client: &Client) -> (String, CustomerId) {
    let name = format!("shop-{}", uuid::Uuid::new_v4().simple());
    let pool = client.create_user_pool().pool_name(name).send().await.expect("a pool");
    let pool_id = pool.user_pool().and_then(|pool| pool.id()).expect("its id").to_owned();
    let mut subjects = Vec::new();
    for user in ["ann", "bob"] {
        let created = client.admin_create_user().user_pool_id(&pool_id).username(user).send().await.expect("a user");
        let attributes = created.user().map(|user| user.attributes()).unwrap_or_default();
        let sub = attributes.iter().find(|attribute| attribute.name() == "sub").and_then(|sub| sub.value());
        subjects.push(sub.expect("a subject").parse::<uuid::Uuid>().expect("a UUID"));
    }
    (pool_id, CustomerId(subjects[0]))
}

async fn enabled(client: &Client, pool_id: &str, user: &str) -> bool {
    let user = client.admin_get_user().user_pool_id(pool_id).username(user).send().await.expect("the user");
    user.enabled()
}

#[tokio::test]
async fn a_customers_account_is_disabled_and_enabled_by_its_subject() {
    let client = client().await;
    let (pool_id, ann) = pool(&client).await;
    let directory = CognitoDirectory::new(client.clone(), &pool_id);

    directory.disable(ann).await.expect("disabled");
    assert!(!enabled(&client, &pool_id, "ann").await);
    assert!(enabled(&client, &pool_id, "bob").await, "only the customer's own account");
    directory.disable(ann).await.expect("disabling again is not an error");

    directory.enable(ann).await.expect("enabled");
    assert!(enabled(&client, &pool_id, "ann").await);
}

#[tokio::test]
async fn a_subject_without_an_account_is_passed_over() {
    let client = client().await;
    let (pool_id, _) = pool(&client).await;
    let directory = CognitoDirectory::new(client, &pool_id);

    directory.disable(CustomerId(uuid::Uuid::new_v4())).await.expect("nothing to disable");
}

#[tokio::test]
async fn an_unreachable_directory_is_unavailable() {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let config =
        aws_sdk_cognitoidentityprovider::config::Builder::from(&config).endpoint_url("http://127.0.0.1:9").build();
    let directory = CognitoDirectory::new(Client::from_conf(config), "us-east-1_missing");

    let failed = directory.disable(CustomerId(uuid::Uuid::new_v4())).await;

    assert!(matches!(failed, Err(ticketing_app::directory::DirectoryError::Unavailable(_))), "{failed:?}");
}
