//! Money between people and the API: the API counts integer minor units ("3500" euro cents), people read and type
//! "€35.00". Every currency is taken to have two decimals, as every currency the shop sells in does; a
//! zero-decimal currency (JPY) would show cents that do not exist, and is refused on input for the same reason.

use crate::model::Money;

/// The currencies the organiser's forms offer, with the symbol shown before an amount.
pub(crate) const CURRENCIES: [(&str, &str); 4] = [("EUR", "€"), ("GBP", "£"), ("USD", "$"), ("CHF", "CHF ")];

/// "€35.00"; a currency without a known symbol is written by its code ("SEK 35.00").
pub(crate) fn format(money: &Money) -> String {
    let symbol = CURRENCIES.iter().find(|(code, _)| *code == money.currency).map(|(_, symbol)| *symbol);
    let amount = format!("{}.{:02}", group_thousands(money.amount / 100), money.amount % 100);
    match symbol {
        Some(symbol) => format!("{symbol}{amount}"),
        None => format!("{} {amount}", money.currency),
    }
}

/// `money` times `count`, if it does not overflow.
pub(crate) fn times(money: &Money, count: u32) -> Option<Money> {
    money.amount.checked_mul(u64::from(count)).map(|amount| Money { amount, currency: money.currency.clone() })
}

/// "1,234" for 1234: long prices are easier to read grouped.
fn group_thousands(units: u64) -> String {
    let digits = units.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// Why a typed price is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PriceError {
    /// Nothing was typed.
    #[error("enter a price, such as 35.00")]
    Empty,
    /// Not a number with at most two decimals.
    #[error("write the price as a number with at most two decimals, such as 35.00")]
    NotAPrice,
    /// Too large to count in minor units.
    #[error("the price is too large")]
    TooLarge,
}

/// The minor units of a typed price: "35", "35.5", "35.50" and "35,50" are all 3550 cents. A sign, more than two
/// decimals or any other character is refused rather than guessed at.
pub(crate) fn parse_price(text: &str) -> Result<u64, PriceError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(PriceError::Empty);
    }
    let (units, cents) = match text.split_once(['.', ',']) {
        Some((units, cents)) => (units, cents),
        None => (text, ""),
    };
    let all_digits = |part: &str| part.chars().all(|character| character.is_ascii_digit());
    if units.is_empty() || !all_digits(units) || !all_digits(cents) || cents.len() > 2 {
        return Err(PriceError::NotAPrice);
    }
    let units: u64 = units.parse().map_err(|_| PriceError::TooLarge)?;
    let cents: u64 = match cents.len() {
        0 => 0,
        1 => cents.parse::<u64>().map_err(|_| PriceError::NotAPrice)? * 10,
        _ => cents.parse().map_err(|_| PriceError::NotAPrice)?,
    };
    units.checked_mul(100).and_then(|amount| amount.checked_add(cents)).ok_or(PriceError::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn euros(amount: u64) -> Money {
        Money { amount, currency: "EUR".to_owned() }
    }

    #[test]
    fn money_is_written_with_its_symbol_and_two_decimals() {
        assert_eq!(format(&euros(3_500)), "€35.00");
        assert_eq!(format(&euros(5)), "€0.05");
        assert_eq!(format(&euros(123_456_789)), "€1,234,567.89");
        assert_eq!(format(&Money { amount: 1_000, currency: "SEK".to_owned() }), "SEK 10.00");
    }

    #[test]
    fn a_line_total_is_the_unit_price_times_the_quantity() {
        assert_eq!(times(&euros(3_500), 2), Some(euros(7_000)));
        assert_eq!(times(&euros(u64::MAX), 2), None);
    }

    #[test]
    fn typed_prices_become_minor_units() {
        assert_eq!(parse_price("35"), Ok(3_500));
        assert_eq!(parse_price(" 35.5 "), Ok(3_550));
        assert_eq!(parse_price("35,50"), Ok(3_550));
        assert_eq!(parse_price("0.05"), Ok(5));
    }

    #[test]
    fn what_is_not_a_price_is_refused_not_guessed() {
        assert_eq!(parse_price(""), Err(PriceError::Empty));
        assert_eq!(parse_price("-5"), Err(PriceError::NotAPrice));
        assert_eq!(parse_price("35.555"), Err(PriceError::NotAPrice));
        assert_eq!(parse_price("€35"), Err(PriceError::NotAPrice));
        assert_eq!(parse_price(".50"), Err(PriceError::NotAPrice));
        assert_eq!(parse_price("1.2.3"), Err(PriceError::NotAPrice));
        assert_eq!(parse_price("99999999999999999999999"), Err(PriceError::TooLarge));
    }
}
