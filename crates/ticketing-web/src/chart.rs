//! The sales report as bar charts (tickets and revenue per day), drawn as inline SVG by the page's template from
//! the geometry computed here. Inline SVG needs no script and no chart library, scales to any screen, and its
//! numbers are computed in one pure function that the tests check. The page shows the same numbers in a table,
//! for screen readers and for anyone who wants the exact figures.

use chrono::{Days, NaiveDate};

use crate::limits::SALES_CHART_DAYS_MAX;
use crate::model::{DaySales, Money};
use crate::money;

/// The drawing's coordinate system: the SVG's `viewBox` is this wide and high, and CSS scales it to the page.
pub(crate) const WIDTH: u32 = 640;
/// See [`WIDTH`].
pub(crate) const HEIGHT: u32 = 240;

/// Room for the value labels left of the plot.
const LEFT: u32 = 72;
/// Room for the day labels under the plot.
const BOTTOM: u32 = 28;
/// Room above the plot for the top label.
const TOP: u32 = 12;
/// Room right of the plot.
const RIGHT: u32 = 8;
/// The widest bar: a report of a few days should not draw a wall.
const BAR_WIDTH_MAX: u32 = 40;
/// Most day labels under the plot; more would overlap on a phone.
const DAY_LABELS_MAX: usize = 8;

/// One day of the report, with no gaps between days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Day {
    pub(crate) day: NaiveDate,
    pub(crate) tickets: u64,
    pub(crate) revenue: u64,
}

/// The days to chart: from the first day with sales to the last, days without sales as zero, at most the last
/// [`SALES_CHART_DAYS_MAX`] of them.
pub(crate) fn days(sales: &[DaySales]) -> Vec<Day> {
    let (Some(first), Some(last)) = (sales.iter().map(|sale| sale.day).min(), sales.iter().map(|sale| sale.day).max())
    else {
        return Vec::new();
    };
    let span = u64::try_from(SALES_CHART_DAYS_MAX.saturating_sub(1)).unwrap_or(u64::MAX);
    let first = first.max(last.checked_sub_days(Days::new(span)).unwrap_or(first));
    first
        .iter_days()
        .take_while(|day| *day <= last)
        .map(|day| {
            let of_day = sales.iter().filter(|sale| sale.day == day);
            let (tickets, revenue) = of_day.fold((0u64, 0u64), |(tickets, revenue), sale| {
                (tickets.saturating_add(sale.tickets_sold), revenue.saturating_add(sale.revenue.amount))
            });
            Day { day, tickets, revenue }
        })
        .collect()
}

/// A bar chart, ready for the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BarChart {
    /// What the chart shows, for its accessible name.
    pub(crate) title: String,
    pub(crate) bars: Vec<Bar>,
    pub(crate) grid: Vec<GridLine>,
    /// Where the plot's baseline is.
    pub(crate) baseline_y: u32,
    pub(crate) plot_left: u32,
    pub(crate) plot_right: u32,
}

/// One day's bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bar {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// "1 Feb", under the bar when there is room for it.
    pub(crate) day_label: Option<String>,
    pub(crate) label_x: u32,
    /// The value, for the bar's tooltip.
    pub(crate) value: String,
}

/// A horizontal line of the grid, with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GridLine {
    pub(crate) y: u32,
    pub(crate) label: String,
}

/// The chart of one measure per day; `label` writes a value.
pub(crate) fn bar_chart(title: &str, values: &[(NaiveDate, u64)], label: impl Fn(u64) -> String) -> BarChart {
    let plot_left = LEFT;
    let plot_right = WIDTH - RIGHT;
    let baseline_y = HEIGHT - BOTTOM;
    let plot_height = baseline_y - TOP;
    let top = nice_ceiling(values.iter().map(|(_, value)| *value).max().unwrap_or(0));
    let scale = |value: u64| -> u32 {
        // `value <= top` and `top > 0`, so the result is at most `plot_height`.
        u32::try_from(u128::from(value) * u128::from(plot_height) / u128::from(top)).unwrap_or(plot_height)
    };
    let count = u32::try_from(values.len()).unwrap_or(u32::MAX).max(1);
    let slot = (plot_right - plot_left) / count;
    let width = (slot * 7 / 10).clamp(1, BAR_WIDTH_MAX);
    let every = values.len().div_ceil(DAY_LABELS_MAX).max(1);
    let bars = values
        .iter()
        .enumerate()
        .map(|(index, (day, value))| {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            let x = plot_left + index * slot + (slot - width) / 2;
            let height = scale(*value);
            let labelled = usize::try_from(index).unwrap_or(usize::MAX) % every == 0;
            Bar {
                x,
                y: baseline_y - height,
                width,
                height,
                day_label: labelled.then(|| day.format("%-d %b").to_string()),
                label_x: x + width / 2,
                value: format!("{}: {}", day.format("%-d %b %Y"), label(*value)),
            }
        })
        .collect();
    let steps = grid_steps(top);
    let grid = (0..=steps)
        .map(|step| {
            let value = top / steps * step;
            GridLine { y: baseline_y - scale(value), label: label(value) }
        })
        .collect();
    BarChart { title: title.to_owned(), bars, grid, baseline_y, plot_left, plot_right }
}

/// The charts of a sales report: tickets per day, and revenue per day in the report's currency.
pub(crate) fn sales_charts(days: &[Day], currency: &str) -> (BarChart, BarChart) {
    let tickets: Vec<_> = days.iter().map(|day| (day.day, day.tickets)).collect();
    let revenue: Vec<_> = days.iter().map(|day| (day.day, day.revenue)).collect();
    let currency = currency.to_owned();
    (
        bar_chart("Tickets sold per day", &tickets, |value| value.to_string()),
        bar_chart("Revenue per day", &revenue, move |amount| {
            money::format(&Money { amount, currency: currency.clone() })
        }),
    )
}

/// The smallest of 1, 2 or 5 times a power of ten that is at least `value` (at least 1), so that the grid's
/// values are round numbers.
fn nice_ceiling(value: u64) -> u64 {
    let mut power: u64 = 1;
    loop {
        for step in [1, 2, 5] {
            let candidate = power.saturating_mul(step);
            if candidate >= value || candidate == u64::MAX {
                return candidate.max(1);
            }
        }
        power = power.saturating_mul(10);
    }
}

/// How many equal steps divide a [`nice_ceiling`] into round numbers: 10 in steps of 2, 20 in steps of 5, 50 in
/// steps of 10; small tops in steps of 1.
fn grid_steps(top: u64) -> u64 {
    let mut leading = top;
    while leading >= 10 {
        leading /= 10;
    }
    match (leading, top) {
        (1, 1) => 1,
        (2, 2) => 2,
        (1, _) | (5, _) => 5,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2030, 2, day).expect("a February date")
    }

    fn sale(day: u32, tickets: u64, cents: u64) -> DaySales {
        let revenue = Money { amount: cents, currency: "EUR".to_owned() };
        DaySales { day: date(day), tickets_sold: tickets, revenue, tickets_refunded: 0, refunded: None }
    }

    #[test]
    fn days_without_sales_between_sales_count_as_zero() {
        let days = days(&[sale(1, 2, 7_000), sale(4, 1, 3_500)]);

        let tickets: Vec<u64> = days.iter().map(|day| day.tickets).collect();
        assert_eq!(tickets, [2, 0, 0, 1]);
        assert_eq!(days[0].revenue, 7_000);
    }

    #[test]
    fn no_sales_is_no_days() {
        assert!(days(&[]).is_empty());
    }

    #[test]
    fn a_long_report_charts_its_last_days() {
        let first = sale(1, 1, 100);
        let mut last = sale(1, 1, 100);
        last.day = date(1) + Days::new(200);

        let days = days(&[first, last]);

        assert_eq!(days.len(), SALES_CHART_DAYS_MAX);
        assert_eq!(days.last().map(|day| day.tickets), Some(1));
    }

    #[test]
    fn grid_values_are_round_numbers() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(12), 20);
        assert_eq!(nice_ceiling(200), 200);
        assert_eq!(nice_ceiling(201), 500);
        assert_eq!(nice_ceiling(u64::MAX), u64::MAX);
    }

    #[test]
    fn the_tallest_bar_is_its_share_of_the_plot_and_bars_stand_on_the_baseline() {
        let chart = bar_chart("Tickets", &[(date(1), 5), (date(2), 10)], |value| value.to_string());

        let plot_height = chart.baseline_y - TOP;
        assert_eq!(chart.bars[1].height, plot_height, "10 is the top of the grid");
        assert_eq!(chart.bars[0].height, plot_height / 2);
        for bar in &chart.bars {
            assert_eq!(bar.y + bar.height, chart.baseline_y);
            assert!(bar.x >= chart.plot_left && bar.x + bar.width <= chart.plot_right);
        }
        let labels: Vec<&str> = chart.grid.iter().map(|line| line.label.as_str()).collect();
        assert_eq!(labels, ["0", "2", "4", "6", "8", "10"]);
    }

    #[test]
    fn the_grid_divides_the_top_into_round_steps() {
        let steps = |top: u64| -> Vec<u64> { (0..=grid_steps(top)).map(|step| top / grid_steps(top) * step).collect() };

        assert_eq!(steps(1), [0, 1]);
        assert_eq!(steps(2), [0, 1, 2]);
        assert_eq!(steps(5), [0, 1, 2, 3, 4, 5]);
        assert_eq!(steps(20), [0, 5, 10, 15, 20]);
        assert_eq!(steps(500), [0, 100, 200, 300, 400, 500]);
    }

    #[test]
    fn many_days_get_only_some_labels() {
        let values: Vec<_> = (1..=28).map(|day| (date(day), u64::from(day))).collect();

        let chart = bar_chart("Tickets", &values, |value| value.to_string());

        let labelled = chart.bars.iter().filter(|bar| bar.day_label.is_some()).count();
        assert!(labelled <= DAY_LABELS_MAX && labelled > 1, "{labelled} labels");
    }

    #[test]
    fn revenue_is_labelled_in_the_reports_currency() {
        let days = days(&[sale(1, 2, 7_000)]);

        let (tickets, revenue) = sales_charts(&days, "EUR");

        assert_eq!(tickets.bars[0].value, "1 Feb 2030: 2");
        assert_eq!(revenue.bars[0].value, "1 Feb 2030: €70.00");
    }
}
