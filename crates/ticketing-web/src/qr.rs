//! Ticket codes as QR codes, drawn on the server as inline SVG, so that "my orders" shows scannable tickets
//! without a script or an image request, and prints sharply at any size.
//!
//! The encoder is the `qrcode` crate (MIT/Apache-2.0, maintained since 2014, pure Rust, no unsafe code in its SVG
//! path), built with only its `svg` feature: no image library comes with it. Writing our own encoder would mean
//! Reed-Solomon codes and mask selection by hand for no gain; a client-side library would cost every phone a
//! download and would not work without script.
//!
//! The SVG is the one piece of HTML the pages do not escape, so it is made trustworthy here: its only input is a
//! ticket code, which the API issues as `[A-Z0-9]` and which is checked again before encoding, and the crate
//! writes nothing but numbers and fixed attributes around it.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An SVG document made here from checked input, safe to place in a page unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrustedSvg(String);

impl TrustedSvg {
    /// The markup.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TrustedSvg {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Why a ticket code could not be drawn.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QrError {
    /// The code has characters a ticket code does not have; it is not drawn, so nothing unexpected reaches a page.
    #[error("a ticket code has only the characters A-Z and 0-9")]
    NotATicketCode,
    /// The code is too long for any QR code (it is not: codes have at most 64 characters).
    #[error("the code does not fit in a QR code: {0}")]
    Encode(qrcode::types::QrError),
}

/// The QR code of a ticket code, as an `<svg>` element that scales with its box (its size is the CSS's business).
/// Error correction level M survives a scratched or crumpled print-out of about 15 % of the code.
pub(crate) fn ticket_svg(code: &str) -> Result<TrustedSvg, QrError> {
    let is_ticket_code =
        !code.is_empty() && code.bytes().all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit());
    if !is_ticket_code {
        return Err(QrError::NotATicketCode);
    }
    let qr = QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M).map_err(QrError::Encode)?;
    let document = qr.render::<svg::Color<'_>>().module_dimensions(1, 1).quiet_zone(true).build();
    // Inline in HTML, the XML declaration is noise; the <svg> element is all a page needs.
    let element = match document.find("<svg") {
        Some(start) => &document[start..],
        None => document.as_str(),
    };
    let element = element.replacen("<svg ", r#"<svg class="qr" focusable="false" aria-hidden="true" "#, 1);
    Ok(TrustedSvg(element))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_code_becomes_an_inline_svg_element() {
        let svg = ticket_svg("ABCDEFGHIJ0123456789").expect("a ticket code encodes");

        assert!(svg.as_str().starts_with("<svg class=\"qr\""), "{svg}");
        assert!(svg.as_str().ends_with("</svg>"), "{svg}");
        assert!(svg.as_str().contains("viewBox=\"0 0 "), "the SVG scales: {svg}");
        assert!(!svg.as_str().contains("<?xml"), "{svg}");
    }

    #[test]
    fn different_codes_draw_different_pictures() {
        let first = ticket_svg("ABCDEFGHIJ0123456789").expect("a ticket code encodes");
        let second = ticket_svg("ABCDEFGHIJ0123456780").expect("a ticket code encodes");

        assert_ne!(first, second);
    }

    #[test]
    fn anything_but_a_ticket_code_is_refused() {
        for text in ["", "abc", "ABC<script>", "ABC DEF", "ÄBC"] {
            assert!(matches!(ticket_svg(text), Err(QrError::NotATicketCode)), "{text:?} was drawn");
        }
    }

    #[test]
    fn the_drawing_is_the_encoders_matrix_with_a_quiet_zone() {
        // One SVG unit per module, and the four modules of quiet zone on each side that scanners need.
        let qr = QrCode::with_error_correction_level(b"ABCDEFGHIJ0123456789", EcLevel::M).expect("encodes");
        let svg = ticket_svg("ABCDEFGHIJ0123456789").expect("encodes");

        let side = qr.width() + 8;
        assert!(svg.as_str().contains(&format!(r#"viewBox="0 0 {side} {side}""#)), "{svg}");
    }
}
