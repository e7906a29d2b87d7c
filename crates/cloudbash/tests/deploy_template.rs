//! The AWS deployment (`deploy/template.yaml`) read as data and held to what the event log promises, so that a
//! change to the template that would break a promise fails here rather than in an AWS account:
//!
//! - the log is append-only: no IAM statement anywhere lets anyone update or delete an event, and the events table
//!   itself denies it to every principal;
//! - the tables are the ones `es-dynamodb` reads and writes (attribute names taken from its source), the stream
//!   carries new images, and the log survives mistakes (point-in-time recovery, deletion protection, retained);
//! - the log's order is written by the indexer alone, fed by the events table's stream one batch per shard at a
//!   time, and the stream has no more readers than DynamoDB Streams serves; nothing reads an index of the events
//!   table, which has none;
//! - the database has no public address, encrypted storage and no password in the template;
//! - every route of the API is deployed, public exactly where its OpenAPI document says so, and read-only routes
//!   cannot write to the log;
//! - the event source mappings retry a bounded number of times and report what they give up.
//!
//! What an operator needs of the stack is checked in `deploy_operations.rs`; both read the template through
//! `template/mod.rs`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use template::{Node, functions, load, owned, pairs, property, resource, resources, template};

mod template;

/// The events table's logical id in the template.
const EVENTS_TABLE: &str = "EventsTable";
/// The log table's logical id in the template.
const LOG_TABLE: &str = "LogTable";
/// The index table's logical id in the template.
const INDEX_TABLE: &str = "IndexTable";
/// The indexer's function and its event source mapping.
const INDEXER: &str = "IndexerFunction";
const INDEXER_EVENT_SOURCE: &str = "IndexerEventSource";

/// Readers DynamoDB Streams serves per shard without throttling them.
const STREAM_READERS_MAX: usize = 2;

/// What no principal may do to the events table: change or remove an event, or the table. A granted action
/// pattern (`dynamodb:*`, `dynamodb:Update*`, `*`) that matches one of these is refused like the action itself.
const EVENT_MUTATIONS: &[&str] = &[
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:DeleteTable",
];

/// Actions that write items; a function that serves only GET routes has none of them on the log's tables.
const ITEM_WRITES: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
];

/// SAM policy templates that grant item writes or deletes on whatever table they name.
const SAM_WRITE_POLICY_TEMPLATES: &[&str] = &["DynamoDBCrudPolicy", "DynamoDBWritePolicy"];

/// Managed policies that grant item writes on every table of the account.
const BROAD_MANAGED_POLICIES: &[&str] = &["AmazonDynamoDBFullAccess", "AdministratorAccess", "PowerUserAccess"];

/// Routes of the API that the deployment leaves out, with the reason.
const NOT_DEPLOYED: &[(&str, &str, &str)] = &[
    (
        "GET",
        "/events/live",
        "server-sent events need a streaming response, which API Gateway's HTTP API does not relay from Lambda",
    ),
    ("GET", "/ready", "readiness is a long-running host's; Lambda runs a function only when there is work"),
];

// ---------------------------------------------------------------------------------------------------------------
// IAM statements.
// ---------------------------------------------------------------------------------------------------------------

/// An IAM statement found somewhere in a tree, with where it was found.
struct Statement<'a> {
    place: String,
    node: &'a Node,
}

/// Every statement of every policy document under `node`: identity policies of roles and functions, resource
/// policies, trust policies.
fn statements<'a>(place: &str, node: &'a Node) -> Vec<Statement<'a>> {
    let mut nodes = Vec::new();
    node.walk(&mut nodes);
    nodes
        .into_iter()
        .filter_map(|node| node.get("Statement"))
        .flat_map(|statements| statements.items())
        .map(|statement| {
            let sid = statement.get("Sid").and_then(Node::text).unwrap_or("(no Sid)");
            Statement { place: format!("{place}, statement {sid}"), node: statement }
        })
        .collect()
}

/// IAM's wildcard match (`*` any run, `?` one character), case-insensitive as action names are.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let text: Vec<char> = text.to_ascii_lowercase().chars().collect();
    // Classic two-pointer matching with backtracking to the last `*`.
    let (mut p, mut t, mut star, mut resume) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            resume = t;
            p += 1;
        } else if let Some(star) = star {
            p = star + 1;
            resume += 1;
            t = resume;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Whether a `Resource` value may name the table `logical_id`, whose physical name ends with `name_suffix`
/// (`-events`): by `Ref`/`GetAtt`, by `${EventsTable…}` in a `Sub`, by an ARN whose table part ends with the suffix,
/// or by a wildcard. What cannot be resolved here counts as naming it.
fn names_table(resource: &Node, logical_id: &str, name_suffix: &str) -> bool {
    match resource {
        Node::Scalar(text) => text_names_table(text, logical_id, name_suffix),
        Node::List(items) => items.iter().any(|item| names_table(item, logical_id, name_suffix)),
        Node::Map(entries) => match entries.as_slice() {
            [(function, argument)] if function == "Ref" || function.starts_with("Fn::") => match function.as_str() {
                "Ref" => argument.text() == Some(logical_id),
                "Fn::GetAtt" => argument.items().first().and_then(|target| target.text()) == Some(logical_id),
                "Fn::Sub" => match argument {
                    Node::Scalar(text) => text_names_table(text, logical_id, name_suffix),
                    Node::List(parts) => parts.iter().any(|part| names_table(part, logical_id, name_suffix)),
                    Node::Map(_) => true,
                },
                "Fn::Join" => match argument.items().get(1) {
                    Some(Node::List(parts)) => {
                        let literal: String = parts.iter().filter_map(Node::text).collect();
                        parts.iter().any(|part| names_table(part, logical_id, name_suffix))
                            || text_names_table(&literal, logical_id, name_suffix)
                    }
                    _ => true,
                },
                "Fn::If" => argument.items().iter().skip(1).any(|branch| names_table(branch, logical_id, name_suffix)),
                // A value resolved only at deploy time (Fn::ImportValue, Fn::Select, …) might be the table.
                _ => true,
            },
            // The variables of a `Sub`: look at every value.
            _ => entries.iter().any(|(_, value)| names_table(value, logical_id, name_suffix)),
        },
    }
}

fn text_names_table(text: &str, logical_id: &str, name_suffix: &str) -> bool {
    if text == "*" || text.contains(&format!("${{{logical_id}}}")) || text.contains(&format!("${{{logical_id}.")) {
        return true;
    }
    text.split(":table/").skip(1).any(|rest| {
        let table = rest.split('/').next().unwrap_or_default();
        table.contains(['*', '?']) || table.ends_with(name_suffix)
    })
}

/// The statements under `node` that allow one of `actions` on the table `logical_id`, described.
fn grants(node: &Node, place: &str, actions: &[&str], logical_id: &str, name_suffix: &str) -> Vec<String> {
    let mut found = Vec::new();
    for statement in statements(place, node) {
        if statement.node.get("Effect").and_then(Node::text) != Some("Allow") {
            continue;
        }
        if statement.node.get("NotAction").is_some() || statement.node.get("NotResource").is_some() {
            found.push(format!("{}: NotAction/NotResource in an Allow is too broad to check", statement.place));
            continue;
        }
        let Some(resource) = statement.node.get("Resource") else {
            continue; // A trust policy: it grants assuming a role, not access to a resource.
        };
        if !names_table(resource, logical_id, name_suffix) {
            continue;
        }
        for granted in statement.node.get("Action").map(Node::items).unwrap_or_default() {
            let Some(granted) = granted.text() else {
                found.push(format!("{}: an action computed at deploy time cannot be checked", statement.place));
                continue;
            };
            for action in actions.iter().filter(|action| wildcard_match(granted, action)) {
                found.push(format!("{}: `{granted}` allows {action} on {logical_id}", statement.place));
            }
        }
    }
    found
}

/// Policies attached by name (SAM policy templates, managed policies) that grant writes on tables they name or on
/// every table.
fn broad_policies(template: &Node) -> Vec<String> {
    let mut found = Vec::new();
    for (id, resource) in resources(template) {
        let mut nodes = Vec::new();
        resource.walk(&mut nodes);
        let attached = nodes.into_iter().flat_map(|node| {
            ["Policies", "ManagedPolicyArns"].into_iter().filter_map(|key| node.get(key)).flat_map(Node::items)
        });
        for policy in attached {
            let named = match policy {
                Node::Scalar(name) => BROAD_MANAGED_POLICIES.iter().find(|broad| name.ends_with(*broad)),
                Node::Map(entries) => {
                    SAM_WRITE_POLICY_TEMPLATES.iter().find(|template| entries.iter().any(|(key, _)| key == *template))
                }
                Node::List(_) => None,
            };
            if let Some(named) = named {
                found.push(format!("{id} attaches {named}"));
            }
        }
    }
    found
}

fn all_grants(template: &Node, actions: &[&str], logical_id: &str, name_suffix: &str) -> Vec<String> {
    resources(template)
        .iter()
        .flat_map(|(id, resource)| grants(resource, id, actions, logical_id, name_suffix))
        .collect()
}

#[test]
fn no_policy_in_the_template_lets_anyone_change_or_remove_an_event() {
    let template = template();
    let mut found = all_grants(&template, EVENT_MUTATIONS, EVENTS_TABLE, "-events");
    found.extend(broad_policies(&template));
    assert!(found.is_empty(), "the event log must be append-only, but:\n{}", found.join("\n"));
}

#[test]
fn the_append_only_check_finds_every_spelling_of_a_grant_on_the_events_table() {
    let granted = |resource: &str, action: &str| {
        let snippet = [
            "Resources:",
            "  Fn:",
            "    Type: AWS::Serverless::Function",
            "    Properties:",
            "      Policies:",
            "        - Statement:",
            "            - Effect: Allow",
            &format!("              Action: {action}"),
            &format!("              Resource: {resource}"),
        ]
        .join("\n");
        !all_grants(&load(&snippet), EVENT_MUTATIONS, EVENTS_TABLE, "-events").is_empty()
    };
    for resource in [
        "!GetAtt EventsTable.Arn",
        "!Ref EventsTable",
        "!Sub ${EventsTable.Arn}/index/ByPosition",
        "!Sub arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${AWS::StackName}-events",
        "arn:aws:dynamodb:eu-west-1:123456789012:table/*",
        "'*'",
        "[!GetAtt LogTable.Arn, !GetAtt EventsTable.Arn]",
        "{'Fn::GetAtt': [EventsTable, Arn]}",
        "!ImportValue shared-table-arn",
    ] {
        assert!(granted(resource, "dynamodb:UpdateItem"), "UpdateItem on {resource} must be found");
    }
    for action in
        ["dynamodb:DeleteItem", "dynamodb:*", "'*'", "dynamodb:update*", "[dynamodb:GetItem, dynamodb:PartiQLDelete]"]
    {
        assert!(granted("!GetAtt EventsTable.Arn", action), "{action} on the events table must be found");
    }
    assert!(!granted("!GetAtt EventsTable.Arn", "[dynamodb:PutItem, dynamodb:ConditionCheckItem]"), "appends are fine");
    assert!(!granted("!GetAtt CartsTable.Arn", "dynamodb:UpdateItem"), "a read model may be updated");
    let log_table =
        "!Sub arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${AWS::StackName}-events-log";
    assert!(!granted(log_table, "dynamodb:UpdateItem"), "the log table is another table");
    let sam_template = ["Resources:", "  Fn:", "    Properties:", "      Policies:", "        - DynamoDBCrudPolicy:"]
        .join("\n")
        + "\n            TableName: !Ref EventsTable";
    assert_eq!(broad_policies(&load(&sam_template)), ["Fn attaches DynamoDBCrudPolicy"]);
}

// ---------------------------------------------------------------------------------------------------------------
// The tables.
// ---------------------------------------------------------------------------------------------------------------

/// The value of `pub const NAME: &str = "…";` in one of es-dynamodb's source files: the names the code uses, read
/// where they are defined, without building the AWS SDK for this test.
fn es_dynamodb_constant(file: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../es-dynamodb/src").join(file);
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let declaration = format!("pub const {name}: &str = \"");
    let start =
        source.find(&declaration).unwrap_or_else(|| panic!("{file} no longer declares {name}")) + declaration.len();
    let length = source[start..].find('"').expect("the string literal ends");
    source[start..start + length].to_owned()
}

#[test]
fn the_events_table_is_the_one_es_dynamodb_reads_and_writes() {
    let template = template();
    let table = resource(&template, EVENTS_TABLE).get("Properties").expect("the table has properties");
    let aggregate_id = es_dynamodb_constant("items.rs", "AGGREGATE_ID");
    let aggregate_version = es_dynamodb_constant("items.rs", "AGGREGATE_VERSION");

    assert_eq!(
        pairs(table.get("KeySchema"), "AttributeName", "KeyType"),
        owned(&[(&aggregate_id, "HASH"), (&aggregate_version, "RANGE")])
    );
    assert_eq!(
        pairs(table.get("AttributeDefinitions"), "AttributeName", "AttributeType"),
        owned(&[(&aggregate_id, "S"), (&aggregate_version, "N")])
    );
    // The log's order is in the index table: the events table has no index to keep in step with every append.
    assert!(table.get("GlobalSecondaryIndexes").is_none(), "the events table has no global secondary index");
    assert!(table.get("LocalSecondaryIndexes").is_none(), "the events table has no local secondary index");

    assert_eq!(table.at(&["StreamSpecification", "StreamViewType"]).and_then(Node::text), Some("NEW_IMAGE"));
    assert_eq!(table.get("BillingMode").and_then(Node::text), Some("PAY_PER_REQUEST"));
}

#[test]
fn the_log_table_is_keyed_and_named_as_es_dynamodb_derives_it() {
    let template = template();
    let key = es_dynamodb_constant("items.rs", "KEY");
    let log = resource(&template, LOG_TABLE).get("Properties").expect("the table has properties");
    assert_eq!(pairs(log.get("KeySchema"), "AttributeName", "KeyType"), owned(&[(&key, "HASH")]));
    assert_eq!(pairs(log.get("AttributeDefinitions"), "AttributeName", "AttributeType"), owned(&[(&key, "S")]));
    // `Tables::named(events)` reads the log table at `<events>-log`.
    let name = |id: &str| resource(&template, id).at(&["Properties", "TableName", "Fn::Sub"]).and_then(Node::text);
    let events = name(EVENTS_TABLE).expect("the events table is named");
    assert_eq!(name(LOG_TABLE), Some(format!("{events}-log").as_str()));
}

#[test]
fn the_index_table_is_keyed_and_named_as_es_dynamodb_derives_it() {
    let template = template();
    let epoch = es_dynamodb_constant("items.rs", "EPOCH");
    let first = es_dynamodb_constant("items.rs", "FIRST");
    let index = resource(&template, INDEX_TABLE).get("Properties").expect("the table has properties");
    assert_eq!(
        pairs(index.get("KeySchema"), "AttributeName", "KeyType"),
        owned(&[(&epoch, "HASH"), (&first, "RANGE")])
    );
    assert_eq!(
        pairs(index.get("AttributeDefinitions"), "AttributeName", "AttributeType"),
        owned(&[(&epoch, "N"), (&first, "N")])
    );
    assert_eq!(index.get("BillingMode").and_then(Node::text), Some("PAY_PER_REQUEST"));
    assert!(index.get("StreamSpecification").is_none(), "nothing reads the index's changes");
    // `Tables::named(events)` reads the index table at `<events>-index`, and so do the functions without
    // CLOUDBASH_INDEX_TABLE.
    let name = |id: &str| resource(&template, id).at(&["Properties", "TableName", "Fn::Sub"]).and_then(Node::text);
    let events = name(EVENTS_TABLE).expect("the events table is named");
    assert_eq!(name(INDEX_TABLE), Some(format!("{events}-index").as_str()));
    let variable = template.at(&["Globals", "Function", "Environment", "Variables", "CLOUDBASH_INDEX_TABLE", "Ref"]);
    assert_eq!(variable.and_then(Node::text), Some(INDEX_TABLE), "every function is told the index table");
}

#[test]
fn the_log_survives_mistakes_and_the_stack() {
    let template = template();
    for id in [EVENTS_TABLE, LOG_TABLE, INDEX_TABLE] {
        let table = resource(&template, id);
        assert_eq!(
            property(table, &["PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"]),
            Some("true"),
            "{id}: point-in-time recovery"
        );
        assert_eq!(property(table, &["DeletionProtectionEnabled"]), Some("true"), "{id}: deletion protection");
        assert_eq!(table.get("DeletionPolicy").and_then(Node::text), Some("Retain"), "{id}: kept on stack deletion");
        assert_eq!(table.get("UpdateReplacePolicy").and_then(Node::text), Some("Retain"), "{id}: kept on replacement");
    }
}

#[test]
fn the_events_table_itself_denies_changing_or_removing_an_event_to_everyone() {
    let template = template();
    let table = resource(&template, EVENTS_TABLE);
    let policy = table.at(&["Properties", "ResourcePolicy"]).expect("the events table has a resource policy");
    let denied: Vec<String> = statements(EVENTS_TABLE, policy)
        .into_iter()
        .filter(|statement| {
            statement.node.get("Effect").and_then(Node::text) == Some("Deny")
                && statement.node.get("Principal").and_then(Node::text) == Some("*")
                && statement.node.get("Resource").is_some_and(|resource| names_table(resource, EVENTS_TABLE, "-events"))
        })
        .flat_map(|statement| statement.node.get("Action").map(Node::items).unwrap_or_default())
        .filter_map(|action| action.text().map(str::to_owned))
        .collect();
    for mutation in ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate"]
    {
        assert!(denied.iter().any(|action| wildcard_match(action, mutation)), "{mutation} is not denied: {denied:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The database.
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn the_database_is_private_encrypted_and_its_password_is_not_in_the_template() {
    let template = template();
    let instances: Vec<_> = resources(&template)
        .iter()
        .filter(|(_, resource)| {
            matches!(resource.get("Type").and_then(Node::text), Some("AWS::RDS::DBInstance" | "AWS::RDS::DBCluster"))
        })
        .collect();
    assert!(!instances.is_empty(), "the template has a database");
    for (id, database) in instances {
        assert_eq!(property(database, &["PubliclyAccessible"]), Some("false"), "{id} must not have a public address");
        assert_eq!(property(database, &["StorageEncrypted"]), Some("true"), "{id} must encrypt its storage");
        assert_eq!(property(database, &["ManageMasterUserPassword"]), Some("true"), "{id}: RDS keeps the password");
        assert!(
            database.at(&["Properties", "MasterUserPassword"]).is_none(),
            "{id}: no password in the template or its parameters"
        );
    }
    for (name, parameter) in template.get("Parameters").map(Node::entries).unwrap_or_default() {
        assert!(
            !name.to_ascii_lowercase().contains("password") || parameter.get("Default").is_none(),
            "parameter {name} has a default password"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The API's routes and functions.
// ---------------------------------------------------------------------------------------------------------------

/// A deployed route: which function serves it, and whether it skips the JWT authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Deployed {
    function: String,
    public: bool,
}

/// `(method, path)` → the function and authorization of every `HttpApi` event in the template.
fn deployed_routes(template: &Node) -> BTreeMap<(String, String), Deployed> {
    let mut routes = BTreeMap::new();
    for (id, function) in functions(template) {
        let events = function.at(&["Properties", "Events"]).map(Node::entries).unwrap_or_default();
        for (name, event) in
            events.iter().filter(|(_, event)| event.get("Type").and_then(Node::text) == Some("HttpApi"))
        {
            let field = |key: &str| event.at(&["Properties", key]).and_then(Node::text).map(str::to_owned);
            assert_eq!(
                event.at(&["Properties", "ApiId", "Ref"]).and_then(Node::text),
                Some("HttpApi"),
                "{id}.{name} belongs to the API"
            );
            let method = field("Method").expect("a route has a method").to_ascii_uppercase();
            let path = field("Path").expect("a route has a path");
            let public = event.at(&["Properties", "Auth", "Authorizer"]).and_then(Node::text) == Some("NONE");
            let deployed = Deployed { function: id.clone(), public };
            if let Some(earlier) = routes.insert((method.clone(), path.clone()), deployed) {
                panic!("{method} {path} is deployed twice ({} and {id})", earlier.function);
            }
        }
    }
    routes
}

/// A running `cloudbash serve`, to read the OpenAPI document of the router it serves.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cloudbash"))
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cloudbash starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut first = String::new();
        lines.read_line(&mut first).expect("the banner is readable");
        std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
        let base = first.trim().strip_prefix("listening on ").expect("the first line names the address").to_owned();
        Server { child, base }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(method, path)` → whether the operation may be called without a token (no `security`, or an empty
/// requirement among its alternatives).
fn documented_routes(document: &serde_json::Value) -> BTreeMap<(String, String), bool> {
    let mut routes = BTreeMap::new();
    let paths = document["paths"].as_object().expect("the document has paths");
    for (path, operations) in paths {
        for method in ["get", "put", "post", "delete", "patch"] {
            let Some(operation) = operations.get(method) else { continue };
            let public = match operation.get("security").and_then(serde_json::Value::as_array) {
                None => true,
                Some(requirements) => {
                    requirements.iter().any(|requirement| requirement.as_object().is_some_and(|r| r.is_empty()))
                }
            };
            routes.insert((method.to_ascii_uppercase(), path.clone()), public);
        }
    }
    routes
}

#[tokio::test]
async fn every_route_of_the_api_is_deployed_and_public_exactly_where_its_document_says() {
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    let server = Server::start(data_dir.path());
    let document: serde_json::Value = reqwest::get(format!("{}/openapi.json", server.base))
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("the document is JSON");
    drop(server);

    let mut documented = documented_routes(&document);
    for (method, path, reason) in NOT_DEPLOYED {
        assert!(
            documented.remove(&((*method).to_owned(), (*path).to_owned())).is_some(),
            "{method} {path} is listed as not deployed ({reason}) but the API has no such route any more"
        );
    }
    let deployed = deployed_routes(&template());
    let mut differences = Vec::new();
    for ((method, path), public) in &documented {
        match deployed.get(&(method.clone(), path.clone())) {
            None => differences.push(format!("{method} {path} is not deployed")),
            Some(route) if route.public != *public => differences.push(format!(
                "{method} {path} ({}) is {} in the template but {} in the document",
                route.function,
                if route.public { "public" } else { "behind the authorizer" },
                if *public { "callable without a token" } else { "protected" },
            )),
            Some(_) => {}
        }
    }
    for ((method, path), route) in &deployed {
        if !documented.contains_key(&(method.clone(), path.clone())) {
            differences.push(format!("{method} {path} ({}) is deployed but the API has no such route", route.function));
        }
    }
    assert!(differences.is_empty(), "the template's routes against the API's document:\n{}", differences.join("\n"));
}

#[test]
fn functions_that_serve_only_reads_cannot_write_to_the_log() {
    let template = template();
    let routes = deployed_routes(&template);
    let mut checked = 0;
    for (id, function) in functions(&template) {
        let methods: Vec<&str> = routes
            .iter()
            .filter(|(_, deployed)| &deployed.function == id)
            .map(|((method, _), _)| method.as_str())
            .collect();
        if methods.is_empty() || methods.iter().any(|method| *method != "GET") {
            continue;
        }
        checked += 1;
        let mut found = grants(function, id, ITEM_WRITES, EVENTS_TABLE, "-events");
        found.extend(grants(function, id, ITEM_WRITES, LOG_TABLE, "-events-log"));
        found.extend(grants(function, id, ITEM_WRITES, INDEX_TABLE, "-events-index"));
        assert!(found.is_empty(), "{id} serves only GET routes but may write to the log:\n{}", found.join("\n"));
    }
    assert!(checked >= 5, "only {checked} read-only functions found; did the route lookup break?");
}

#[test]
fn the_routes_without_public_access_go_through_the_cognito_authorizer() {
    let template = template();
    let auth = resource(&template, "HttpApi").at(&["Properties", "Auth"]).expect("the API has an Auth section");
    let default = auth.get("DefaultAuthorizer").and_then(Node::text).expect("the API has a default authorizer");
    let jwt = auth.at(&["Authorizers", default, "JwtConfiguration"]).expect("the default authorizer checks JWTs");
    let issuer = jwt.at(&["issuer", "Fn::Sub"]).and_then(Node::text).unwrap_or_default();
    assert!(issuer.contains("${UserPool."), "the issuer is the stack's user pool, not {issuer:?}");
    let audience = jwt.get("audience").map(Node::items).unwrap_or_default();
    assert_eq!(audience.len(), 1);
    assert_eq!(audience[0].get("Ref").and_then(Node::text), Some("UserPoolClient"), "the audience is the app client");
}

// ---------------------------------------------------------------------------------------------------------------
// The log's order: the index table and its indexer.
// ---------------------------------------------------------------------------------------------------------------

/// Actions on a table's stream, granted on its stream ARN (or `*`), not on its items.
const STREAM_ACTIONS: &[&str] =
    &["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"];

/// The item actions the statements under `node` allow on the table `logical_id`, as written.
fn granted_actions(node: &Node, place: &str, logical_id: &str, name_suffix: &str) -> Vec<String> {
    let mut actions: Vec<String> = statements(place, node)
        .into_iter()
        .filter(|statement| statement.node.get("Effect").and_then(Node::text) == Some("Allow"))
        .filter(|statement| {
            statement.node.get("Resource").is_some_and(|resource| names_table(resource, logical_id, name_suffix))
        })
        .flat_map(|statement| statement.node.get("Action").map(Node::items).unwrap_or_default())
        .filter_map(|action| action.text().map(str::to_owned))
        .filter(|action| !STREAM_ACTIONS.contains(&action.as_str()))
        .collect();
    actions.sort();
    actions.dedup();
    actions
}

/// Whether any text under `node` names an index of the events table (`${EventsTable.Arn}/index/…`, or an ARN
/// `…:table/<stack>-events/index/…`).
fn names_an_events_table_index(node: &Node) -> bool {
    let mut nodes = Vec::new();
    node.walk(&mut nodes);
    nodes.into_iter().filter_map(Node::text).any(|text| {
        text.contains("/index/")
            && (text.contains(&format!("${{{EVENTS_TABLE}"))
                || text
                    .split(":table/")
                    .skip(1)
                    .any(|rest| rest.split('/').next().unwrap_or_default().ends_with("-events")))
    })
}

#[test]
fn no_grant_names_an_index_of_the_events_table_which_has_none() {
    let template = template();
    let found: Vec<String> = resources(&template)
        .iter()
        .flat_map(|(id, resource)| statements(id, resource))
        .filter(|statement| statement.node.get("Resource").is_some_and(names_an_events_table_index))
        .map(|statement| statement.place)
        .collect();
    assert!(
        found.is_empty(),
        "the events table has no index; the log's order is the index table:\n{}",
        found.join("\n")
    );
    // The check sees the spellings a grant on an index would use.
    for spelling in [
        "!Sub ${EventsTable.Arn}/index/ByPosition",
        "!Sub arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${AWS::StackName}-events/index/*",
    ] {
        assert!(names_an_events_table_index(&load(spelling)), "{spelling}");
    }
    assert!(!names_an_events_table_index(&load("!GetAtt IndexTable.Arn")));
}

#[test]
fn the_indexer_alone_writes_the_log_s_order() {
    let template = template();
    let writers = all_grants(&template, ITEM_WRITES, INDEX_TABLE, "-events-index");
    assert!(writers.iter().any(|grant| grant.starts_with(INDEXER)), "the indexer writes the index table");
    let others: Vec<&String> = writers.iter().filter(|grant| !grant.starts_with(INDEXER)).collect();
    assert!(others.is_empty(), "only the indexer writes positions: {others:?}");
}

#[test]
fn the_indexer_holds_exactly_the_calls_it_makes() {
    let template = template();
    let indexer = resource(&template, INDEXER);
    let on = |logical_id: &str, suffix: &str| granted_actions(indexer, INDEXER, logical_id, suffix);
    // Gaps are read from the events table; the table itself is never written.
    assert_eq!(on(EVENTS_TABLE, "-events"), ["dynamodb:BatchGetItem", "dynamodb:Query"]);
    // The tail read consistently, a batch put under a condition, its `Pending` flag removed.
    assert_eq!(on(INDEX_TABLE, "-events-index"), ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]);
    // Its cursors (read in batches, moved under a condition) and its stream checkpoints.
    assert_eq!(
        on(LOG_TABLE, "-events-log"),
        ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    );
    // … and in the log table only its own items: key prefixes es-dynamodb writes.
    let item_actions = |statement: &Statement<'_>| {
        let actions = statement.node.get("Action").map(Node::items).unwrap_or_default();
        actions.iter().any(|action| action.text().is_none_or(|action| !STREAM_ACTIONS.contains(&action)))
    };
    let log_statements: Vec<Statement<'_>> = statements(INDEXER, indexer)
        .into_iter()
        .filter(|statement| statement.node.get("Resource").is_some_and(|r| names_table(r, LOG_TABLE, "-events-log")))
        .filter(item_actions)
        .collect();
    let items_source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../es-dynamodb/src/items.rs"))
            .expect("es-dynamodb's items.rs");
    for statement in log_statements {
        let patterns = statement
            .node
            .at(&["Condition", "ForAllValues:StringLike", "dynamodb:LeadingKeys"])
            .map(Node::items)
            .unwrap_or_default();
        assert!(!patterns.is_empty(), "{}: limited to the indexer's items of the log table", statement.place);
        for pattern in patterns.into_iter().map(|pattern| pattern.text().expect("a key pattern")) {
            let prefix = pattern.strip_suffix('*').expect("a key prefix");
            assert!(!prefix.is_empty() && !prefix.contains(['*', '?']), "{}: {pattern} is a prefix", statement.place);
            assert!(items_source.contains(&format!("format!(\"{prefix}")), "es-dynamodb writes no key {pattern}");
        }
    }
}

/// The logical id in `Fn::GetAtt: [<id>, StreamArn]`, if `node` is that.
fn stream_of(node: Option<&Node>) -> Option<&str> {
    let parts = node?.get("Fn::GetAtt")?.items();
    (parts.get(1)?.text()? == "StreamArn").then_some(parts.first()?.text()?)
}

#[test]
fn the_indexer_reads_the_events_table_s_stream_one_batch_per_shard_like_the_forwarder() {
    let template = template();
    let mapping = resource(&template, INDEXER_EVENT_SOURCE).get("Properties").expect("the mapping has properties");
    assert_eq!(mapping.at(&["FunctionName", "Ref"]).and_then(Node::text), Some(INDEXER));
    assert_eq!(stream_of(mapping.get("EventSourceArn")), Some(EVENTS_TABLE));
    assert_eq!(mapping.get("StartingPosition").and_then(Node::text), Some("TRIM_HORIZON"));
    // One writer of positions per shard, in the shard's order.
    assert_eq!(mapping.get("ParallelizationFactor").and_then(Node::text), Some("1"));
    let forwarder = resource(&template, "ForwarderEventSource").get("Properties").expect("the forwarder's mapping");
    for setting in ["MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError", "FilterCriteria"]
    {
        assert_eq!(mapping.get(setting), forwarder.get(setting), "{setting}: as the forwarder's");
    }
    let kind = resource(&template, INDEXER).at(&["Properties", "Environment", "Variables", "CLOUDBASH_FUNCTION"]);
    assert_eq!(kind.and_then(Node::text), Some("indexer"));
}

#[test]
fn the_events_table_s_stream_has_no_more_readers_than_dynamodb_streams_serves() {
    let template = template();
    let mut readers: Vec<&str> = resources(&template)
        .iter()
        .filter(|(_, resource)| resource.get("Type").and_then(Node::text) == Some("AWS::Lambda::EventSourceMapping"))
        .filter(|(_, mapping)| stream_of(mapping.at(&["Properties", "EventSourceArn"])) == Some(EVENTS_TABLE))
        .map(|(id, _)| id.as_str())
        .collect();
    // SAM's own spelling of a mapping: a function's event of type DynamoDB.
    for (id, function) in functions(&template) {
        let events = function.at(&["Properties", "Events"]).map(Node::entries).unwrap_or_default();
        for (_, event) in events.iter().filter(|(_, event)| event.get("Type").and_then(Node::text) == Some("DynamoDB"))
        {
            if stream_of(event.at(&["Properties", "Stream"])) == Some(EVENTS_TABLE) {
                readers.push(id);
            }
        }
    }
    readers.sort_unstable();
    assert!(
        readers.len() <= STREAM_READERS_MAX,
        "more than {STREAM_READERS_MAX} readers would be throttled: {readers:?}"
    );
    assert_eq!(readers, ["ForwarderEventSource", INDEXER_EVENT_SOURCE], "the forwarder and the indexer");
}

// ---------------------------------------------------------------------------------------------------------------
// The bus.
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn the_event_source_mappings_retry_a_bounded_number_of_times_and_report_what_they_give_up() {
    let template = template();
    let mappings: Vec<_> = resources(&template)
        .iter()
        .filter(|(_, resource)| resource.get("Type").and_then(Node::text) == Some("AWS::Lambda::EventSourceMapping"))
        .collect();
    assert!(mappings.len() >= 3, "the forwarder's, the indexer's and the projector's, at least");
    for (id, mapping) in mappings {
        let properties = mapping.get("Properties").expect("a mapping has properties");
        assert_eq!(properties.get("StartingPosition").and_then(Node::text), Some("TRIM_HORIZON"), "{id}");
        assert_eq!(properties.get("BisectBatchOnFunctionError").and_then(Node::text), Some("true"), "{id}");
        let retries = properties.get("MaximumRetryAttempts").expect("retries are bounded");
        assert_ne!(retries.text(), Some("-1"), "{id}: -1 retries for ever");
        let responses = properties.get("FunctionResponseTypes").map(Node::items).unwrap_or_default();
        assert!(responses.iter().any(|kind| kind.text() == Some("ReportBatchItemFailures")), "{id}");
        assert!(properties.at(&["DestinationConfig", "OnFailure", "Destination"]).is_some(), "{id}: on-failure queue");
    }
    // Events of one aggregate are distinct items of the table; Lambda keeps stream order per item only when it
    // processes one batch per shard at a time.
    let forwarder = resource(&template, "ForwarderEventSource");
    assert_eq!(property(forwarder, &["ParallelizationFactor"]), Some("1"));
}

#[test]
fn the_bus_is_encrypted_and_never_a_single_shard() {
    let template = template();
    let stream = resource(&template, "EventStream");
    assert_eq!(property(stream, &["StreamEncryption", "EncryptionType"]), Some("KMS"));
    let shards = template.at(&["Parameters", "StreamShardCount", "MinValue"]).and_then(Node::text);
    assert!(shards.and_then(|count| count.parse::<u32>().ok()).is_some_and(|count| count >= 2), "at least two shards");
}
