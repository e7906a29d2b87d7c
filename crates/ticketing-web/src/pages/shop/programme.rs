//! The programme: published concerts grouped by day, with the search by name, city and dates, and the shortcuts
//! (today, this week, this weekend).

use askama::Template;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::When;
use crate::api::{ApiError, with_query};
use crate::dates::{Shortcut, Zone, day_heading, parse_date};
use crate::limits::PROGRAMME_PAGE_CONCERTS;
use crate::messages::Message;
use crate::model::{ConcertListed, Page};
use crate::pages::{Ctx, Layout, PageError, Section, render};

/// The programme's query string: what the search form and the shortcut links send.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct ProgrammeQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    /// A shortcut (`today`, `week`, `weekend`); it replaces `from` and `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

impl ProgrammeQuery {
    fn text(value: &Option<String>) -> Option<&str> {
        value.as_deref().map(str::trim).filter(|value| !value.is_empty())
    }

    fn shortcut(&self) -> Option<Shortcut> {
        Shortcut::ALL.into_iter().find(|shortcut| Self::text(&self.when) == Some(shortcut.key()))
    }
}

/// `GET /concerts`'s query, as the API names it.
#[derive(Debug, Serialize)]
struct ConcertSearch<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    q: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
}

/// The range a query asks for, from a shortcut or the typed dates; without either, concerts from today on.
/// A date that is not one is reported, and the range is searched without it.
fn search_range(
    query: &ProgrammeQuery,
    zone: Zone,
    now: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>, Vec<String>) {
    if let Some(shortcut) = query.shortcut() {
        let (from, to) = zone.range(shortcut, now);
        return (Some(from), Some(to), Vec::new());
    }
    let mut problems = Vec::new();
    let mut date = |name: &str, value: &Option<String>| -> Option<NaiveDate> {
        let text = ProgrammeQuery::text(value)?;
        let date = parse_date(text);
        if date.is_none() {
            problems.push(format!("{name}: write the date as YYYY-MM-DD, such as 2030-02-01."));
        }
        date
    };
    let from = date("From", &query.from);
    let to = date("To", &query.to);
    let from = Some(zone.start_of(from.unwrap_or_else(|| zone.date(now))));
    (from, to.map(|to| zone.end_of(to)), problems)
}

/// A concert in the programme.
#[derive(Debug)]
struct ConcertCard {
    href: String,
    name: String,
    genre: Option<String>,
    venue: String,
    city: String,
    time: String,
    when: When,
}

/// The concerts of one day.
#[derive(Debug)]
struct DayGroup {
    heading: String,
    concerts: Vec<ConcertCard>,
}

/// A link of the date shortcuts.
#[derive(Debug)]
struct ShortcutLink {
    href: String,
    label: &'static str,
    current: bool,
}

#[derive(Template)]
#[template(path = "programme.html")]
struct ProgrammePage {
    layout: Layout,
    q: String,
    location: String,
    from: String,
    to: String,
    /// The shortcut in use, kept by the search form.
    when: Option<&'static str>,
    shortcuts: Vec<ShortcutLink>,
    days: Vec<DayGroup>,
    next_page: Option<String>,
    searching: bool,
    heading: String,
}

pub(super) async fn programme(ctx: Ctx, query: Result<Query<ProgrammeQuery>, QueryRejection>) -> Response {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let page = programme_page(&ctx, query).await;
    ctx.finish(page)
}

async fn programme_page(ctx: &Ctx, query: ProgrammeQuery) -> Result<Response, PageError> {
    let now = Utc::now();
    let (from, to, problems) = search_range(&query, ctx.zone, now);
    let search = ConcertSearch {
        q: ProgrammeQuery::text(&query.q),
        location: ProgrammeQuery::text(&query.location),
        from: from.map(|from| from.to_rfc3339_opts(SecondsFormat::Millis, true)),
        to: to.map(|to| to.to_rfc3339_opts(SecondsFormat::Millis, true)),
        limit: PROGRAMME_PAGE_CONCERTS,
        cursor: ProgrammeQuery::text(&query.cursor),
    };
    let mut layout = ctx.layout("Programme", Section::Programme);
    let token = ctx.session.as_ref().map(|session| session.token.as_str());
    let (concerts, next_cursor) =
        match ctx.state.api().get::<Page<ConcertListed>>(&with_query("/concerts", &search), token).await {
            Ok(page) => (page.items, page.next_cursor),
            // A search the API cannot run (a forged cursor, a range it refuses) is shown as a message on the
            // programme, with the form to correct it.
            Err(ApiError::Problem(problem)) if problem.status == 400 => {
                layout.error = Some(Message::from_problem(&problem));
                (Vec::new(), None)
            }
            Err(error) => return Err(error.into()),
        };
    if !problems.is_empty() {
        layout.error = Some(Message { headline: "Please check the dates.".to_owned(), details: problems });
    }
    let shortcut = query.shortcut();
    let keep = ProgrammeQuery { q: query.q.clone(), location: query.location.clone(), ..ProgrammeQuery::default() };
    let mut shortcuts: Vec<ShortcutLink> = Shortcut::ALL
        .into_iter()
        .map(|link| ShortcutLink {
            href: with_query("/", &ProgrammeQuery { when: Some(link.key().to_owned()), ..keep.clone() }),
            label: link.label(),
            current: shortcut == Some(link),
        })
        .collect();
    let any_day = ProgrammeQuery::text(&query.from).is_none() && ProgrammeQuery::text(&query.to).is_none();
    shortcuts.push(ShortcutLink {
        href: with_query("/", &keep),
        label: "Any day",
        current: shortcut.is_none() && any_day,
    });
    let next_page =
        next_cursor.map(|cursor| with_query("/", &ProgrammeQuery { cursor: Some(cursor), ..query.clone() }));
    let searching = [&query.q, &query.location, &query.from, &query.to, &query.when]
        .iter()
        .any(|value| ProgrammeQuery::text(value).is_some());
    let heading = match shortcut {
        Some(shortcut) => format!("Concerts {}", shortcut.label().to_lowercase()),
        None if searching => "Search results".to_owned(),
        None => "Coming up".to_owned(),
    };
    let page = ProgrammePage {
        layout,
        q: query.q.clone().unwrap_or_default(),
        location: query.location.clone().unwrap_or_default(),
        from: query.from.clone().unwrap_or_default(),
        to: query.to.clone().unwrap_or_default(),
        when: shortcut.map(Shortcut::key),
        shortcuts,
        days: group_by_day(concerts, ctx.zone),
        next_page,
        searching,
        heading,
    };
    render(&page, StatusCode::OK)
}

/// The concerts under a heading per local day, in the API's order (by start).
fn group_by_day(concerts: Vec<ConcertListed>, zone: Zone) -> Vec<DayGroup> {
    let mut days: Vec<DayGroup> = Vec::new();
    let mut current: Option<NaiveDate> = None;
    for concert in concerts {
        let day = zone.date(concert.starts_at);
        let card = ConcertCard {
            href: format!("/shop/concerts/{}", concert.id),
            name: concert.name,
            genre: concert.genre,
            venue: concert.venue.name,
            city: concert.venue.city,
            time: zone.time(concert.starts_at),
            when: When::new(zone, concert.starts_at),
        };
        match days.last_mut() {
            Some(group) if current == Some(day) => group.concerts.push(card),
            _ => {
                days.push(DayGroup { heading: day_heading(day), concerts: vec![card] });
                current = Some(day);
            }
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;

    fn at(hour: u32, day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 2, day, hour, 0, 0).single().expect("a valid time")
    }

    fn query(pairs: &str) -> ProgrammeQuery {
        serde_urlencoded::from_str(pairs).expect("a query string")
    }

    #[test]
    fn a_shortcut_decides_the_range_over_typed_dates() {
        let (from, to, problems) = search_range(&query("when=today&from=2031-01-01"), Zone::UTC, at(12, 6));

        assert_eq!(from, Some(at(0, 6)));
        assert_eq!(to.map(|to| to.to_rfc3339()), Some("2030-02-06T23:59:59.999+00:00".to_owned()));
        assert!(problems.is_empty());
    }

    #[test]
    fn without_dates_the_programme_starts_today() {
        let (from, to, _) = search_range(&query(""), Zone::UTC, at(12, 6));

        assert_eq!(from, Some(at(0, 6)));
        assert_eq!(to, None);
    }

    #[test]
    fn typed_dates_cover_whole_days() {
        let (from, to, _) = search_range(&query("from=2030-02-10&to=2030-02-11"), Zone::UTC, at(12, 6));

        assert_eq!(from, Some(at(0, 10)));
        assert_eq!(to.map(|to| to.to_rfc3339()), Some("2030-02-11T23:59:59.999+00:00".to_owned()));
    }

    #[test]
    fn a_date_that_is_not_one_is_reported() {
        let (from, _, problems) = search_range(&query("from=next+friday"), Zone::UTC, at(12, 6));

        assert_eq!(from, Some(at(0, 6)));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("From:"), "{problems:?}");
    }

    #[test]
    fn an_unknown_shortcut_is_no_shortcut() {
        assert_eq!(query("when=someday").shortcut(), None);
        assert_eq!(query("when=weekend").shortcut(), Some(Shortcut::ThisWeekend));
    }

    #[test]
    fn concerts_are_grouped_under_their_local_day() {
        let concert = |id: u128, starts_at: DateTime<Utc>| ConcertListed {
            id: Uuid::from_u128(id),
            name: format!("Concert {id}"),
            genre: None,
            starts_at,
            venue: crate::model::VenueSummary { name: "Paradiso".to_owned(), city: "Amsterdam".to_owned() },
        };
        let concerts = vec![concert(1, at(18, 1)), concert(2, at(23, 1)), concert(3, at(20, 2))];

        let utc = group_by_day(concerts.clone(), Zone::UTC);
        let amsterdam = group_by_day(concerts, Zone::from_minutes(60).expect("an offset"));

        assert_eq!(utc.iter().map(|day| day.concerts.len()).collect::<Vec<_>>(), [2, 1]);
        // 23:00 UTC is midnight in Amsterdam: the second concert belongs to the next day there.
        assert_eq!(amsterdam.iter().map(|day| day.concerts.len()).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(amsterdam[0].heading, "Friday 1 February 2030");
    }
}
