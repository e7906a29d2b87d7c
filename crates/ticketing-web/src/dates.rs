//! Dates and times as a fan means them. The API speaks UTC instants; people speak of "today", "this weekend" and
//! "20:00" in their own time zone. This module turns one into the other, purely (the current time and the time
//! zone are arguments), so that every rule is tested here.
//!
//! The time zone is a fixed offset from UTC. The browser's script stores its offset in a cookie
//! (`cloudbash_tz`, minutes east of UTC) that the pages read; without script the pages use UTC and say so. A fixed
//! offset is right for "today" and for the times around it; a concert months away across a daylight-saving change
//! is shown an hour off until the browser's offset changes too, which the script notices on the next visit.
//!
//! The shortcuts of the programme:
//! - **today**: from the start of today to its end;
//! - **this week**: from the start of today to the end of Sunday (weeks end on Sunday, as ISO 8601 has them);
//! - **this weekend**: from Friday 18:00 (or the start of today, once the weekend has begun) to the end of Sunday.

use std::time::Duration;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc, Weekday};

use crate::limits::TIME_ZONE_OFFSET_MINUTES_MAX;

/// The hour at which Friday counts as the weekend: concerts on Friday evening are weekend concerts.
const WEEKEND_STARTS_FRIDAY_HOUR: u32 = 18;

/// The time zone the pages show times in: a fixed offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Zone {
    offset: FixedOffset,
}

impl Default for Zone {
    fn default() -> Self {
        Self::UTC
    }
}

impl Zone {
    /// Coordinated Universal Time, for pages rendered without a browser's time zone.
    pub(crate) const UTC: Zone = Zone { offset: FixedOffset::east_opt(0).expect("zero is a valid offset") };

    /// The zone `minutes` east of UTC, if that is an offset in use.
    pub(crate) fn from_minutes(minutes: i32) -> Option<Self> {
        if minutes.abs() > TIME_ZONE_OFFSET_MINUTES_MAX {
            return None;
        }
        FixedOffset::east_opt(minutes * 60).map(|offset| Self { offset })
    }

    /// The zone of a `cloudbash_tz` cookie's value; UTC when it is absent or not an offset.
    pub(crate) fn from_cookie(value: Option<&str>) -> Self {
        value.and_then(|value| value.trim().parse::<i32>().ok()).and_then(Self::from_minutes).unwrap_or_default()
    }

    /// Minutes east of UTC.
    pub(crate) fn minutes(self) -> i32 {
        self.offset.local_minus_utc() / 60
    }

    /// Whether this is UTC (the pages then say that times are in UTC).
    pub(crate) fn is_utc(self) -> bool {
        self.offset.local_minus_utc() == 0
    }

    /// The local date of an instant.
    pub(crate) fn date(self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.offset).date_naive()
    }

    /// The instant a local date begins.
    pub(crate) fn start_of(self, date: NaiveDate) -> DateTime<Utc> {
        self.instant(date.and_time(NaiveTime::MIN))
    }

    /// The last millisecond of a local date (the API's `to` is inclusive).
    pub(crate) fn end_of(self, date: NaiveDate) -> DateTime<Utc> {
        let next = date.checked_add_days(Days::new(1)).unwrap_or(NaiveDate::MAX);
        self.start_of(next) - TimeDelta::milliseconds(1)
    }

    /// The instant of a local date and time. A fixed offset has no gaps or repeats, so this is exact.
    fn instant(self, local: NaiveDateTime) -> DateTime<Utc> {
        (local - TimeDelta::seconds(i64::from(self.offset.local_minus_utc()))).and_utc()
    }

    /// "Sat 1 Feb 2030, 20:00".
    pub(crate) fn when(self, instant: DateTime<Utc>) -> String {
        instant.with_timezone(&self.offset).format("%a %-d %b %Y, %H:%M").to_string()
    }

    /// "20:00".
    pub(crate) fn time(self, instant: DateTime<Utc>) -> String {
        instant.with_timezone(&self.offset).format("%H:%M").to_string()
    }

    /// The value of an `<input type="datetime-local">`: "2030-02-01T20:00".
    pub(crate) fn input_value(self, instant: DateTime<Utc>) -> String {
        instant.with_timezone(&self.offset).format("%Y-%m-%dT%H:%M").to_string()
    }

    /// The instant an `<input type="datetime-local">` names ("2030-02-01T20:00", seconds optional).
    pub(crate) fn parse_input(self, text: &str) -> Option<DateTime<Utc>> {
        let text = text.trim();
        ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .map(|local| self.instant(local))
    }

    /// The programme's range for a shortcut, seen at `now`.
    pub(crate) fn range(self, shortcut: Shortcut, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let today = self.date(now);
        let sunday = today + Days::new(u64::from(6 - today.weekday().num_days_from_monday()));
        match shortcut {
            Shortcut::Today => (self.start_of(today), self.end_of(today)),
            Shortcut::ThisWeek => (self.start_of(today), self.end_of(sunday)),
            Shortcut::ThisWeekend => {
                let friday = sunday - Days::new(2);
                let friday_evening = friday.and_time(
                    NaiveTime::from_hms_opt(WEEKEND_STARTS_FRIDAY_HOUR, 0, 0).expect("a valid hour of the day"),
                );
                let from = match today.weekday() {
                    Weekday::Sat | Weekday::Sun => self.start_of(today),
                    _ => self.instant(friday_evening),
                };
                (from, self.end_of(sunday))
            }
        }
    }
}

/// A shortcut of the programme's search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub(crate) enum Shortcut {
    /// Concerts today.
    #[serde(rename = "today")]
    Today,
    /// Concerts from today to Sunday.
    #[serde(rename = "week")]
    ThisWeek,
    /// Concerts from Friday evening to Sunday.
    #[serde(rename = "weekend")]
    ThisWeekend,
}

impl Shortcut {
    /// Every shortcut, in the order the programme offers them.
    pub(crate) const ALL: [Shortcut; 3] = [Shortcut::Today, Shortcut::ThisWeek, Shortcut::ThisWeekend];

    /// The shortcut's value in a URL.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Shortcut::Today => "today",
            Shortcut::ThisWeek => "week",
            Shortcut::ThisWeekend => "weekend",
        }
    }

    /// What a link to it says.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Shortcut::Today => "Today",
            Shortcut::ThisWeek => "This week",
            Shortcut::ThisWeekend => "This weekend",
        }
    }
}

/// A date as an `<input type="date">` sends it ("2030-02-01").
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// "Saturday 1 February 2030": the heading of a day in the programme.
pub(crate) fn day_heading(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

/// A hold's time left as a countdown shows it: "14:59", "0:05", and hours when there are any ("1:00:00").
/// A hold that has run out shows "0:00".
pub(crate) fn countdown(remaining: Duration) -> String {
    let seconds = remaining.as_secs();
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 { format!("{hours}:{minutes:02}:{seconds:02}") } else { format!("{minutes}:{seconds:02}") }
}

/// The time from `now` until `until`, zero when it has passed.
pub(crate) fn remaining(now: DateTime<Utc>, until: DateTime<Utc>) -> Duration {
    (until - now).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("an RFC 3339 time").with_timezone(&Utc)
    }

    fn amsterdam_winter() -> Zone {
        Zone::from_minutes(60).expect("UTC+1 is an offset in use")
    }

    fn range(zone: Zone, shortcut: Shortcut, now: &str) -> (String, String) {
        let (from, to) = zone.range(shortcut, utc(now));
        (from.to_rfc3339(), to.to_rfc3339())
    }

    #[test]
    fn today_runs_from_local_midnight_to_the_last_millisecond_of_the_day() {
        // Wednesday 6 February 2030, 23:30 in Amsterdam, which is still 22:30 UTC.
        let (from, to) = range(amsterdam_winter(), Shortcut::Today, "2030-02-06T22:30:00Z");

        assert_eq!(from, "2030-02-05T23:00:00+00:00");
        assert_eq!(to, "2030-02-06T22:59:59.999+00:00");
    }

    #[test]
    fn today_is_the_local_day_even_when_utc_has_moved_on() {
        // 00:30 on Thursday in Amsterdam is 23:30 on Wednesday in UTC: "today" is Thursday.
        let (from, _) = range(amsterdam_winter(), Shortcut::Today, "2030-02-06T23:30:00Z");

        assert_eq!(from, "2030-02-06T23:00:00+00:00");
    }

    #[test]
    fn this_week_runs_from_today_to_the_end_of_sunday() {
        assert_eq!(
            range(Zone::UTC, Shortcut::ThisWeek, "2030-02-06T12:00:00Z"),
            ("2030-02-06T00:00:00+00:00".to_owned(), "2030-02-10T23:59:59.999+00:00".to_owned())
        );
    }

    #[test]
    fn on_sunday_this_week_is_just_today() {
        assert_eq!(
            range(Zone::UTC, Shortcut::ThisWeek, "2030-02-10T09:00:00Z"),
            ("2030-02-10T00:00:00+00:00".to_owned(), "2030-02-10T23:59:59.999+00:00".to_owned())
        );
    }

    #[test]
    fn on_a_weekday_this_weekend_starts_on_friday_evening() {
        assert_eq!(
            range(Zone::UTC, Shortcut::ThisWeekend, "2030-02-04T09:00:00Z"),
            ("2030-02-08T18:00:00+00:00".to_owned(), "2030-02-10T23:59:59.999+00:00".to_owned())
        );
    }

    #[test]
    fn on_friday_morning_this_weekend_still_starts_in_the_evening() {
        let (from, _) = range(Zone::UTC, Shortcut::ThisWeekend, "2030-02-08T09:00:00Z");

        assert_eq!(from, "2030-02-08T18:00:00+00:00");
    }

    #[test]
    fn once_the_weekend_has_begun_it_starts_today() {
        assert_eq!(
            range(Zone::UTC, Shortcut::ThisWeekend, "2030-02-09T15:00:00Z"),
            ("2030-02-09T00:00:00+00:00".to_owned(), "2030-02-10T23:59:59.999+00:00".to_owned())
        );
        assert_eq!(
            range(Zone::UTC, Shortcut::ThisWeekend, "2030-02-10T15:00:00Z").0,
            "2030-02-10T00:00:00+00:00".to_owned()
        );
    }

    #[test]
    fn the_weekend_is_local_too() {
        let (from, to) = range(amsterdam_winter(), Shortcut::ThisWeekend, "2030-02-04T09:00:00Z");

        assert_eq!(from, "2030-02-08T17:00:00+00:00");
        assert_eq!(to, "2030-02-10T22:59:59.999+00:00");
    }

    #[test]
    fn shortcuts_read_and_write_their_url_keys() {
        for shortcut in Shortcut::ALL {
            let json = serde_json::to_value(shortcut).expect("a shortcut serializes");
            assert_eq!(json, shortcut.key());
            assert_eq!(serde_json::from_value::<Shortcut>(json).ok(), Some(shortcut));
        }
    }

    #[test]
    fn a_datetime_input_is_read_in_the_zone_and_written_back_alike() {
        let zone = amsterdam_winter();

        let instant = zone.parse_input("2030-02-01T20:00").expect("a datetime-local value");

        assert_eq!(instant, Utc.with_ymd_and_hms(2030, 2, 1, 19, 0, 0).single().expect("a valid time"));
        assert_eq!(zone.input_value(instant), "2030-02-01T20:00");
        assert_eq!(zone.when(instant), "Fri 1 Feb 2030, 20:00");
        assert!(zone.parse_input("tomorrow").is_none());
    }

    #[test]
    fn a_time_zone_cookie_is_read_or_ignored() {
        assert_eq!(Zone::from_cookie(Some("120")).minutes(), 120);
        assert_eq!(Zone::from_cookie(Some("-300")).minutes(), -300);
        assert!(Zone::from_cookie(Some("100000")).is_utc());
        assert!(Zone::from_cookie(Some("Europe/Amsterdam")).is_utc());
        assert!(Zone::from_cookie(None).is_utc());
    }

    #[test]
    fn a_countdown_shows_minutes_and_seconds() {
        assert_eq!(countdown(Duration::from_secs(15 * 60)), "15:00");
        assert_eq!(countdown(Duration::from_secs(14 * 60 + 59)), "14:59");
        assert_eq!(countdown(Duration::from_millis(5_900)), "0:05");
        assert_eq!(countdown(Duration::ZERO), "0:00");
        assert_eq!(countdown(Duration::from_secs(3600)), "1:00:00");
    }

    #[test]
    fn time_remaining_is_zero_once_passed() {
        let now = utc("2030-02-01T20:00:00Z");

        assert_eq!(remaining(now, utc("2030-02-01T20:14:59Z")), Duration::from_secs(899));
        assert_eq!(remaining(now, utc("2030-02-01T19:00:00Z")), Duration::ZERO);
    }

    #[test]
    fn a_day_heading_spells_the_date_out() {
        assert_eq!(day_heading(NaiveDate::from_ymd_opt(2030, 2, 1).expect("a date")), "Friday 1 February 2030");
        assert_eq!(parse_date("2030-02-01"), NaiveDate::from_ymd_opt(2030, 2, 1));
        assert_eq!(parse_date("1/2/2030"), None);
    }
}
