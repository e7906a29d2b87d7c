//! The deployment template read as data: CloudFormation YAML loaded into [`Node`]s, its short forms (`!Ref`,
//! `!GetAtt`, `!Sub`) written out as their long forms, so every check sees one spelling.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, Scalar, Yaml};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Scalar(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(name, _)| name == key).map(|(_, value)| value),
            _ => None,
        }
    }

    pub(crate) fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Node::Scalar(text) => Some(text),
            _ => None,
        }
    }

    pub(crate) fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Map(entries) => entries,
            _ => &[],
        }
    }

    /// A list's items, or the node itself where CloudFormation accepts one item in place of a list.
    pub(crate) fn items(&self) -> Vec<&Node> {
        match self {
            Node::List(items) => items.iter().collect(),
            other => vec![other],
        }
    }

    /// Every node of the tree, this one first.
    pub(crate) fn walk<'a>(&'a self, found: &mut Vec<&'a Node>) {
        found.push(self);
        match self {
            Node::Scalar(_) => {}
            Node::List(items) => items.iter().for_each(|item| item.walk(found)),
            Node::Map(entries) => entries.iter().for_each(|(_, value)| value.walk(found)),
        }
    }
}

/// Loads CloudFormation YAML, writing out its short forms.
pub(crate) fn load(text: &str) -> Node {
    let documents = Yaml::load_from_str(text).expect("the template is well-formed YAML");
    assert_eq!(documents.len(), 1, "a template is one YAML document");
    convert(&documents[0])
}

pub(crate) fn convert(yaml: &Yaml<'_>) -> Node {
    match yaml {
        Yaml::Value(scalar) => Node::Scalar(scalar_text(scalar)),
        Yaml::Representation(text, _, _) => Node::Scalar(text.to_string()),
        Yaml::Sequence(items) => Node::List(items.iter().map(convert).collect()),
        Yaml::Mapping(entries) => Node::Map(
            entries
                .iter()
                .map(|(key, value)| {
                    let key = match convert(key) {
                        Node::Scalar(key) => key,
                        other => panic!("a template's keys are scalars, not {other:?}"),
                    };
                    (key, convert(value))
                })
                .collect(),
        ),
        Yaml::Tagged(tag, inner) => long_form(&tag.suffix, convert(inner)),
        Yaml::Alias(_) => panic!("CloudFormation does not accept YAML aliases"),
        Yaml::BadValue => panic!("the template has a value YAML cannot read"),
    }
}

pub(crate) fn scalar_text(scalar: &Scalar<'_>) -> String {
    match scalar {
        Scalar::Null => String::new(),
        Scalar::Boolean(value) => value.to_string(),
        Scalar::Integer(value) => value.to_string(),
        Scalar::FloatingPoint(value) => value.to_string(),
        Scalar::String(value) => value.to_string(),
    }
}

/// `!Ref X` → `{Ref: X}`; `!GetAtt A.B` → `{Fn::GetAtt: [A, B]}`; `!Name v` → `{Fn::Name: v}`.
pub(crate) fn long_form(name: &str, value: Node) -> Node {
    match (name, value) {
        ("Ref" | "Condition", value) => Node::Map(vec![(name.to_owned(), value)]),
        ("GetAtt", Node::Scalar(dotted)) => {
            let (resource, attribute) = dotted.split_once('.').expect("!GetAtt names Resource.Attribute");
            let parts = vec![Node::Scalar(resource.to_owned()), Node::Scalar(attribute.to_owned())];
            Node::Map(vec![("Fn::GetAtt".to_owned(), Node::List(parts))])
        }
        (name, value) => Node::Map(vec![(format!("Fn::{name}"), value)]),
    }
}

pub(crate) fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/template.yaml")
}

pub(crate) fn template() -> Node {
    let path = template_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    load(&text)
}

pub(crate) fn resources(template: &Node) -> &[(String, Node)] {
    template.get("Resources").expect("the template has resources").entries()
}

pub(crate) fn resource<'a>(template: &'a Node, logical_id: &str) -> &'a Node {
    resources(template)
        .iter()
        .find(|(id, _)| id == logical_id)
        .map(|(_, node)| node)
        .unwrap_or_else(|| panic!("the template has no resource {logical_id}"))
}

pub(crate) fn property<'a>(resource: &'a Node, path: &[&str]) -> Option<&'a str> {
    resource.get("Properties")?.at(path)?.text()
}

/// Every function of the template, with its logical id.
pub(crate) fn functions(template: &Node) -> impl Iterator<Item = (&String, &Node)> {
    resources(template)
        .iter()
        .filter(|(_, resource)| resource.get("Type").and_then(Node::text) == Some("AWS::Serverless::Function"))
        .map(|(id, resource)| (id, resource))
}

/// `(name, type)` of every attribute definition, and `(name, key type)` of a key schema.
pub(crate) fn pairs(node: Option<&Node>, first: &str, second: &str) -> Vec<(String, String)> {
    node.map(Node::items)
        .unwrap_or_default()
        .into_iter()
        .map(|item| {
            let field = |key| item.get(key).and_then(Node::text).unwrap_or_default().to_owned();
            (field(first), field(second))
        })
        .collect()
}

pub(crate) fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}
