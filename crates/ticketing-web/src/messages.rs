//! Problems (RFC 7807 documents) as messages for people. The API writes `detail` for a client's developer ("The
//! command conflicts with the current state: not enough tickets: 2 available, 5 requested."); a fan should read
//! "Not enough tickets: 2 available, 5 requested." and never the JSON. The status decides the kind of message,
//! the domain's own words are kept where they are already plain, and each invalid field is named by the label
//! its form shows.

use crate::api::ApiError;
use crate::model::Problem;

/// What a page shows when something did not work: one sentence, and a line per detail (invalid fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) headline: String,
    pub(crate) details: Vec<String>,
}

impl Message {
    /// A message of one sentence.
    pub(crate) fn new(headline: impl Into<String>) -> Self {
        Self { headline: headline.into(), details: Vec::new() }
    }

    /// The message for any failed call to the API. Failures that are not the user's to fix are logged here, once.
    pub(crate) fn from_api(error: &ApiError) -> Self {
        match error {
            ApiError::Problem(problem) => Self::from_problem(problem),
            other => {
                tracing::error!(error = %other, "a page could not use the API's answer");
                Self::new(SERVER_FAILED)
            }
        }
    }

    /// The message for a problem.
    pub(crate) fn from_problem(problem: &Problem) -> Self {
        let refusal = || sentence(strip_api_wording(&problem.detail));
        match problem.status {
            400 | 422 if !problem.errors.is_empty() => Self {
                headline: "Please check what you entered.".to_owned(),
                details: problem.errors.iter().map(|error| field_message(&error.field, &error.message)).collect(),
            },
            400 => Self::new("Some of what you entered could not be read. Please check it and try again."),
            401 => Self::new("Please sign in (again): your session has ended or you are not signed in."),
            403 => Self::new("This is for organisers only."),
            404 => Self::new(not_found(&problem.detail)),
            409 | 422 => Self::new(refusal()),
            413 => Self::new("That is more than the shop accepts at once."),
            503 => Self::new("The shop is very busy right now. Please try again in a moment."),
            500..=599 => Self::new(SERVER_FAILED),
            _ => Self::new("That did not work. Please try again."),
        }
    }
}

/// What the user reads when the failure is ours.
const SERVER_FAILED: &str = "Something went wrong on our side. Please try again in a moment.";

/// The phrases with which the API introduces the domain's reason; the reason itself is plain language.
const API_PREFIXES: [&str; 3] = [
    "The command conflicts with the current state: ",
    "The command was refused: ",
    "The command names something that does not exist: ",
];

fn strip_api_wording(detail: &str) -> &str {
    API_PREFIXES.iter().find_map(|prefix| detail.strip_prefix(prefix)).unwrap_or(detail)
}

/// A 404 in the user's words: which kind of thing was not found, when the API says.
fn not_found(detail: &str) -> String {
    let detail = strip_api_wording(detail);
    for thing in ["concert", "venue", "order", "ticket type", "ticket", "cart item", "item"] {
        let api_words = [format!("No {thing} has this id"), format!("the {thing} does not exist")];
        if api_words.iter().any(|words| detail.to_lowercase().starts_with(&words.to_lowercase())) {
            return format!("We could not find this {thing}. It may have been removed.");
        }
    }
    if detail.starts_with("No order of yours") {
        return "We could not find this order among yours.".to_owned();
    }
    "We could not find what you asked for.".to_owned()
}

/// The label a form shows for an API field.
fn field_label(field: &str) -> String {
    match field {
        "name" => "Name",
        "address" => "Address",
        "city" => "City",
        "capacity" => "Capacity",
        "description" => "Description",
        "webUrl" => "Website",
        "imageUrl" => "Image URL",
        "genre" => "Genre",
        "venueId" => "Venue",
        "startsAt" => "Starts",
        "endsAt" => "Ends",
        "price.amount" => "Price",
        "price.currency" => "Currency",
        "quantity" => "Quantity",
        "q" => "Search",
        "location" => "City",
        "from" => "From",
        "to" => "To",
        "cursor" | "limit" => "Page",
        other => return spoken(other),
    }
    .to_owned()
}

/// A field name the list above does not know, as words: `ageLimit` → "Age limit".
fn spoken(field: &str) -> String {
    let mut words = String::with_capacity(field.len() + 4);
    for (index, c) in field.chars().enumerate() {
        if index == 0 {
            words.extend(c.to_uppercase());
        } else if c.is_ascii_uppercase() {
            words.push(' ');
            words.push(c.to_ascii_lowercase());
        } else {
            words.push(c);
        }
    }
    words
}

/// "Label: message.", or the message alone when it already starts with the field's name ("Name must have …").
fn field_message(field: &str, message: &str) -> String {
    let label = field_label(field);
    let starts_with_label = message.to_lowercase().starts_with(&label.to_lowercase());
    if starts_with_label {
        sentence(message)
    } else {
        let message = message.trim().trim_end_matches('.');
        format!("{label}: {message}.")
    }
}

/// Capitalised, ending with a full stop.
fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let mut sentence: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return "That did not work.".to_owned(),
    };
    if !sentence.ends_with(['.', '!', '?']) {
        sentence.push('.');
    }
    sentence
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldError;

    fn problem(status: u16, detail: &str) -> Problem {
        Problem { status, title: String::new(), detail: detail.to_owned(), errors: Vec::new() }
    }

    #[test]
    fn a_conflict_shows_the_domains_reason_without_the_apis_wording() {
        let message = Message::from_problem(&problem(
            409,
            "The command conflicts with the current state: not enough tickets: 2 available, 5 requested.",
        ));

        assert_eq!(message.headline, "Not enough tickets: 2 available, 5 requested.");
    }

    #[test]
    fn an_invalid_form_names_each_field_by_its_label() {
        let mut invalid = problem(422, "The venue has invalid fields.");
        invalid.errors = vec![
            FieldError { field: "name".to_owned(), message: "name must have 1 to 200 characters, not 0".to_owned() },
            FieldError { field: "webUrl".to_owned(), message: "not an http(s) URL".to_owned() },
        ];

        let message = Message::from_problem(&invalid);

        assert_eq!(message.headline, "Please check what you entered.");
        assert_eq!(message.details, ["Name must have 1 to 200 characters, not 0.", "Website: not an http(s) URL."]);
    }

    #[test]
    fn a_missing_concert_is_named() {
        assert_eq!(
            Message::from_problem(&problem(404, "No concert has this id.")).headline,
            "We could not find this concert. It may have been removed."
        );
        assert_eq!(
            Message::from_problem(&problem(404, "No resource exists at /x.")).headline,
            "We could not find what you asked for."
        );
    }

    #[test]
    fn authorisation_problems_say_what_to_do() {
        assert!(Message::from_problem(&problem(401, "The bearer token has expired.")).headline.contains("sign in"));
        assert_eq!(
            Message::from_problem(&problem(403, "administrators only")).headline,
            "This is for organisers only."
        );
    }

    #[test]
    fn a_field_without_a_label_of_its_own_is_spoken_as_words() {
        assert_eq!(field_label("imageUrl"), "Image URL");
        assert_eq!(field_label("ageLimit"), "Age limit");
        assert_eq!(field_label("x"), "X");
    }

    #[test]
    fn server_failures_never_show_their_detail() {
        let message = Message::from_problem(&problem(500, "disk I/O error at /var/data/log.db"));

        assert_eq!(message.headline, SERVER_FAILED);
    }

    #[test]
    fn a_refusal_without_a_reason_still_reads_as_a_sentence() {
        assert_eq!(Message::from_problem(&problem(409, "")).headline, "That did not work.");
        assert_eq!(
            Message::from_problem(&problem(422, "The command was refused: the concert has no schedule")).headline,
            "The concert has no schedule."
        );
    }
}
