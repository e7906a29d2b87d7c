//! Stripe's webhook signatures. Stripe signs each delivery with the
//! endpoint's secret: the `Stripe-Signature` header carries a timestamp
//! (`t=`) and one or more HMAC-SHA256 signatures (`v1=`) of
//! `"{t}.{body}"`. There are several while a secret is being rolled (the old
//! and the new one both sign), so one match is enough. Other schemes (`v0=`,
//! Stripe's test-mode scheme) are not trusted.
//!
//! The timestamp is signed too, so a delivery captured on the way cannot be
//! replayed later with a fresh one: one older (or newer) than
//! [`SIGNATURE_TOLERANCE`] is refused. Duplicates within the tolerance are
//! the shop's to handle, by the notice's id.

use std::fmt;
use std::time::Duration;

use aws_lc_rs::{constant_time, hmac};
use chrono::{DateTime, Utc};
use ticketing_app::payments::WebhookError;

/// How far a delivery's signed timestamp may be from the shop's clock, in
/// either direction: Stripe's own libraries allow five minutes, which covers
/// a clock off by a little and a delivery that queued for a while.
pub const SIGNATURE_TOLERANCE: Duration = Duration::from_secs(300);

/// The webhook endpoint's signing secret (`whsec_...`), ready to sign with.
pub(crate) struct SigningKey(hmac::Key);

impl SigningKey {
    pub(crate) fn new(secret: &str) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()))
    }

    fn sign(&self, timestamp: &str, body: &[u8]) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(timestamp.as_bytes());
        context.update(b".");
        context.update(body);
        context.sign()
    }

    /// Whether `header` (the `Stripe-Signature` value) signs `body` with this
    /// key at a time within [`SIGNATURE_TOLERANCE`] of `now`.
    pub(crate) fn verify(&self, header: Option<&str>, body: &[u8], now: DateTime<Utc>) -> Result<(), WebhookError> {
        let header = SignatureHeader::parse(header.ok_or(WebhookError::BadSignature)?)?;
        if now.timestamp().abs_diff(header.timestamp) > SIGNATURE_TOLERANCE.as_secs() {
            return Err(WebhookError::BadSignature);
        }
        let expected = self.sign(header.timestamp_text, body);
        // Each comparison takes the same time whatever the bytes, so a forger
        // learns nothing from how soon a guess is refused.
        let matches = header
            .signatures
            .iter()
            .filter(|signature| constant_time::verify_slices_are_equal(expected.as_ref(), signature).is_ok())
            .count();
        if matches == 0 { Err(WebhookError::BadSignature) } else { Ok(()) }
    }

    /// A `Stripe-Signature` value for `body` at `timestamp`, as Stripe would
    /// send it.
    pub(crate) fn header(&self, timestamp: i64, body: &[u8]) -> String {
        let timestamp = timestamp.to_string();
        format!("t={timestamp},v1={}", Hex(self.sign(&timestamp, body).as_ref()))
    }
}

/// What a `Stripe-Signature` header says.
#[derive(Debug, PartialEq, Eq)]
struct SignatureHeader<'a> {
    timestamp: i64,
    /// As received: the signed text is the header's digits, not a number
    /// printed again.
    timestamp_text: &'a str,
    /// The `v1` signatures, decoded.
    signatures: Vec<Vec<u8>>,
}

impl<'a> SignatureHeader<'a> {
    /// `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, in any order, other
    /// schemes ignored. Without a timestamp, with two, or without one
    /// readable `v1` signature, there is nothing to check.
    fn parse(header: &'a str) -> Result<Self, WebhookError> {
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for item in header.split(',') {
            let Some((scheme, value)) = item.trim().split_once('=') else { continue };
            match scheme {
                "t" if timestamp.is_none() => {
                    let seconds = value.parse::<i64>().map_err(|_| WebhookError::BadSignature)?;
                    timestamp = Some((seconds, value));
                }
                "t" => return Err(WebhookError::BadSignature),
                "v1" => signatures.extend(decode_hex(value)),
                _ => {}
            }
        }
        let (timestamp, timestamp_text) = timestamp.ok_or(WebhookError::BadSignature)?;
        if signatures.is_empty() {
            return Err(WebhookError::BadSignature);
        }
        Ok(Self { timestamp, timestamp_text, signatures })
    }
}

/// Lowercase or uppercase hex digits, two per byte; `None` for anything else.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |byte: u8| char::from(byte).to_digit(16);
    text.as_bytes().chunks_exact(2).map(|pair| u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()).collect()
}

/// Bytes as lowercase hex, as Stripe writes its signatures.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(formatter, "{byte:02x}"))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    const SENT_AT: i64 = 1_750_000_000;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).single().expect("a valid instant")
    }

    fn key() -> SigningKey {
        SigningKey::new(SECRET)
    }

    /// The signature over `t.body` computed independently of `SigningKey`.
    fn v1(secret: &str, timestamp: i64, body: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let mut signed = format!("{timestamp}.").into_bytes();
        signed.extend_from_slice(body);
        Hex(hmac::sign(&key, &signed).as_ref()).to_string()
    }

    #[test]
    fn a_delivery_signed_with_the_secret_is_taken() {
        let header = format!("t={SENT_AT},v1={}", v1(SECRET, SENT_AT, BODY));
        assert_eq!(key().verify(Some(&header), BODY, at(SENT_AT + 1)), Ok(()));
        assert_eq!(key().header(SENT_AT, BODY), header);
    }

    #[test]
    fn a_signature_is_the_one_stripe_computes() {
        // HMAC-SHA256(SECRET, "1750000000." + BODY), worked out apart from this code.
        let stripe = "d2607f15f1bd0aa92c1e96f661374e221dec51c3133bf8097bf0675eb713e34c";
        assert_eq!(key().header(SENT_AT, BODY), format!("t={SENT_AT},v1={stripe}"));
        assert_eq!(v1(SECRET, SENT_AT, BODY), stripe);
    }

    #[test]
    fn a_delivery_signed_with_another_secret_is_refused() {
        let header = format!("t={SENT_AT},v1={}", v1("whsec_someone_else", SENT_AT, BODY));
        assert_eq!(key().verify(Some(&header), BODY, at(SENT_AT)), Err(WebhookError::BadSignature));
    }

    #[test]
    fn a_body_changed_after_signing_is_refused() {
        let header = key().header(SENT_AT, BODY);
        let tampered = br#"{"id":"evt_1","type":"payment_intent.succeeded" }"#;
        assert_eq!(key().verify(Some(&header), tampered, at(SENT_AT)), Err(WebhookError::BadSignature));
    }

    #[test]
    fn a_timestamp_changed_after_signing_is_refused() {
        let header = format!("t={},v1={}", SENT_AT + 60, v1(SECRET, SENT_AT, BODY));
        assert_eq!(key().verify(Some(&header), BODY, at(SENT_AT)), Err(WebhookError::BadSignature));
    }

    #[test]
    fn a_delivery_signed_too_long_ago_or_ahead_is_refused() {
        let header = key().header(SENT_AT, BODY);
        let tolerance = i64::try_from(SIGNATURE_TOLERANCE.as_secs()).expect("small");
        assert_eq!(key().verify(Some(&header), BODY, at(SENT_AT + tolerance)), Ok(()));
        assert_eq!(key().verify(Some(&header), BODY, at(SENT_AT - tolerance)), Ok(()));
        assert_eq!(key().verify(Some(&header), BODY, at(SENT_AT + tolerance + 1)), Err(WebhookError::BadSignature));
        assert_eq!(key().verify(Some(&header), BODY, at(SENT_AT - tolerance - 1)), Err(WebhookError::BadSignature));
    }

    #[test]
    fn a_delivery_without_a_signature_is_refused() {
        assert_eq!(key().verify(None, BODY, at(SENT_AT)), Err(WebhookError::BadSignature));
        for header in ["", "t=", ",", "garbage", "v1=", "t=abc,v1=00"] {
            assert_eq!(key().verify(Some(header), BODY, at(SENT_AT)), Err(WebhookError::BadSignature), "{header:?}");
        }
        let unsigned = format!("t={SENT_AT}");
        assert_eq!(key().verify(Some(&unsigned), BODY, at(SENT_AT)), Err(WebhookError::BadSignature));
        let no_time = format!("v1={}", v1(SECRET, SENT_AT, BODY));
        assert_eq!(key().verify(Some(&no_time), BODY, at(SENT_AT)), Err(WebhookError::BadSignature));
    }

    #[test]
    fn one_matching_signature_among_several_is_enough() {
        let good = v1(SECRET, SENT_AT, BODY);
        let old = v1("whsec_rolled_away", SENT_AT, BODY);
        for header in [
            format!("t={SENT_AT},v1={old},v1={good}"),
            format!("v1={good}, t={SENT_AT}, v1={old}"),
            format!("t={SENT_AT},v1=not-hex,v1={good}"),
            format!("t={SENT_AT},v1={},v1={good}", good.to_uppercase()),
        ] {
            assert_eq!(key().verify(Some(&header), BODY, at(SENT_AT)), Ok(()), "{header}");
        }
        let none = format!("t={SENT_AT},v1={old},v1={old}");
        assert_eq!(key().verify(Some(&none), BODY, at(SENT_AT)), Err(WebhookError::BadSignature));
    }

    #[test]
    fn only_the_v1_scheme_is_trusted() {
        let good = v1(SECRET, SENT_AT, BODY);
        let v0 = format!("t={SENT_AT},v0={good}");
        assert_eq!(key().verify(Some(&v0), BODY, at(SENT_AT)), Err(WebhookError::BadSignature));
        let beside = format!("t={SENT_AT},v0=00ff,v1={good},scheme=whatever");
        assert_eq!(key().verify(Some(&beside), BODY, at(SENT_AT)), Ok(()));
    }

    #[test]
    fn a_header_with_two_timestamps_is_refused() {
        let good = v1(SECRET, SENT_AT, BODY);
        let header = format!("t={SENT_AT},t={},v1={good}", SENT_AT + 1);
        assert_eq!(key().verify(Some(&header), BODY, at(SENT_AT)), Err(WebhookError::BadSignature));
    }

    #[test]
    fn hex_is_read_two_digits_a_byte() {
        assert_eq!(decode_hex("00ff7A"), Some(vec![0x00, 0xff, 0x7a]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex(""), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é"), None);
        assert_eq!(Hex(&[0x00, 0xff, 0x7a]).to_string(), "00ff7a");
    }
}
