//! Text for the base-14 fonts. The tickets are set in Helvetica, which every
//! PDF reader has, so no font file is embedded; its glyphs are addressed in
//! WinAnsiEncoding (Windows code page 1252), one byte per character. That
//! covers the Latin-1 letters (é, ü, ß, ø, ñ) and a few more (€, Œ, Š, the
//! typographic quotes and dashes); every other character is drawn as `?`.
//! Combining accents and the invisible joiners and variation selectors of
//! emoji sequences are dropped, so a decomposed "é" reads "e" and an emoji
//! with a skin tone is one `?`, not three.
//!
//! Lines are fitted to their width from Helvetica's advance widths (the
//! font's published metrics, in thousandths of the font size): a long
//! concert name is set smaller, and cut with an ellipsis if even the
//! smallest size is too wide.

/// The byte for a character in WinAnsiEncoding, or `None` for a character
/// it does not have.
fn win_ansi(character: char) -> Option<u8> {
    let code = u32::from(character);
    if (0x20..=0x7E).contains(&code) || (0xA0..=0xFF).contains(&code) {
        return u8::try_from(code).ok();
    }
    let byte = match character {
        '\u{20AC}' => 0x80, // €
        '\u{201A}' => 0x82, // ‚
        '\u{0192}' => 0x83, // ƒ
        '\u{201E}' => 0x84, // „
        '\u{2026}' => 0x85, // …
        '\u{2020}' => 0x86, // †
        '\u{2021}' => 0x87, // ‡
        '\u{02C6}' => 0x88, // ˆ
        '\u{2030}' => 0x89, // ‰
        '\u{0160}' => 0x8A, // Š
        '\u{2039}' => 0x8B, // ‹
        '\u{0152}' => 0x8C, // Œ
        '\u{017D}' => 0x8E, // Ž
        '\u{2018}' => 0x91, // ‘
        '\u{2019}' => 0x92, // ’
        '\u{201C}' => 0x93, // “
        '\u{201D}' => 0x94, // ”
        '\u{2022}' => 0x95, // •
        '\u{2013}' => 0x96, // –
        '\u{2014}' => 0x97, // —
        '\u{02DC}' => 0x98, // ˜
        '\u{2122}' => 0x99, // ™
        '\u{0161}' => 0x9A, // š
        '\u{203A}' => 0x9B, // ›
        '\u{0153}' => 0x9C, // œ
        '\u{017E}' => 0x9E, // ž
        '\u{0178}' => 0x9F, // Ÿ
        _ => return None,
    };
    Some(byte)
}

/// Characters that take no place of their own: combining accents, zero-width
/// joiners and spaces, variation selectors, emoji skin tones.
fn is_invisible(character: char) -> bool {
    matches!(
        u32::from(character),
        0x0300..=0x036F | 0x200B..=0x200F | 0x2060 | 0xFE00..=0xFE0F | 0xFEFF | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F
    )
}

/// `text` in WinAnsiEncoding: line breaks and other control characters
/// become spaces, characters outside the encoding `?`.
pub(crate) fn encode(text: &str) -> Vec<u8> {
    text.chars()
        .filter(|&character| !is_invisible(character))
        .map(|character| if character.is_control() { b' ' } else { win_ansi(character).unwrap_or(b'?') })
        .collect()
}

/// Helvetica's advance widths of the printable ASCII characters (0x20 to
/// 0x7E), in thousandths of the font size.
const HELVETICA_ASCII: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // space to /
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 to ?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @ to O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P to _
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` to o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p to ~
];

/// The widest a character outside ASCII is taken to be: the accented
/// capitals and Æ, Œ are at most this wide in Helvetica Bold.
const WIDE: u16 = 1000;

/// How much wider Helvetica Bold is than Helvetica, at most, for the
/// characters a ticket prints; an estimate on the safe side.
const BOLD_FACTOR: f32 = 1.12;

/// A face of Helvetica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Face {
    /// Helvetica.
    Regular,
    /// Helvetica-Bold.
    Bold,
}

/// The width of encoded `text` at `size` points, never less than it is.
pub(crate) fn width(encoded: &[u8], face: Face, size: f32) -> f32 {
    let thousandths: u32 = encoded
        .iter()
        .map(|&byte| match byte {
            0x20..=0x7E => u32::from(HELVETICA_ASCII[usize::from(byte - 0x20)]),
            _ => u32::from(WIDE),
        })
        .sum();
    let factor = match face {
        Face::Regular => 1.0,
        Face::Bold => BOLD_FACTOR,
    };
    // Thousands of characters at most: exact in an f32.
    let em = thousandths as f32 / 1000.0;
    em * size * factor
}

/// A line set to fit a width: its bytes and its size.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Fitted {
    /// The encoded text, cut with an ellipsis if it had to be.
    pub(crate) encoded: Vec<u8>,
    /// The font size, in points.
    pub(crate) size: f32,
}

/// The ellipsis in WinAnsiEncoding.
const ELLIPSIS: u8 = 0x85;

/// `text` at `size`, or smaller down to `smallest` so that it is at most
/// `room` points wide; cut, with an ellipsis, if even `smallest` is too wide.
pub(crate) fn fit(text: &str, face: Face, size: f32, smallest: f32, room: f32) -> Fitted {
    let mut encoded = encode(text);
    let natural = width(&encoded, face, size);
    if natural <= room {
        return Fitted { encoded, size };
    }
    let scaled = (size * room / natural).max(smallest);
    if width(&encoded, face, scaled) <= room {
        return Fitted { encoded, size: scaled };
    }
    encoded.push(ELLIPSIS);
    while encoded.len() > 1 && width(&encoded, face, scaled) > room {
        encoded.remove(encoded.len() - 2);
    }
    Fitted { encoded, size: scaled }
}

/// `text` at `size`, or as much smaller as it takes to be at most `room`
/// points wide, never cut: for the ticket code, which is read aloud and typed
/// in when the QR code cannot be scanned.
pub(crate) fn shrink(text: &str, face: Face, size: f32, room: f32) -> Fitted {
    let encoded = encode(text);
    let natural = width(&encoded, face, size);
    if natural <= room {
        return Fitted { encoded, size };
    }
    // A hair under the exact ratio, so rounding cannot leave it too wide.
    Fitted { encoded, size: size * room / natural * 0.999 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_letters_are_one_byte_each() {
        assert_eq!(encode("Café Müller ß"), b"Caf\xE9 M\xFCller \xDF");
        assert_eq!(encode("€ – “Œ”"), b"\x80 \x96 \x93\x8C\x94");
    }

    #[test]
    fn what_the_encoding_lacks_is_a_question_mark() {
        assert_eq!(encode("Łódź 東京"), b"?\xF3d? ??");
        // A waving hand with a skin tone and its variation selector: one glyph, one mark.
        assert_eq!(encode("Hi \u{1F44B}\u{1F3FD}\u{FE0F}!"), b"Hi ?!");
    }

    #[test]
    fn combining_accents_and_controls_take_no_mark() {
        assert_eq!(encode("Cafe\u{0301}"), b"Cafe");
        assert_eq!(encode("two\nlines\ttab"), b"two lines tab");
    }

    #[test]
    fn widths_follow_the_font() {
        let encoded = encode("Hi");
        assert!((width(&encoded, Face::Regular, 10.0) - 9.44).abs() < 0.001);
        assert!(width(&encoded, Face::Bold, 10.0) > width(&encoded, Face::Regular, 10.0));
    }

    #[test]
    fn a_short_line_keeps_its_size() {
        let fitted = fit("Rock", Face::Bold, 20.0, 10.0, 500.0);
        assert_eq!(fitted, Fitted { encoded: b"Rock".to_vec(), size: 20.0 });
    }

    #[test]
    fn a_long_line_is_set_smaller() {
        let text = "The Very Long Name of a Festival";
        let fitted = fit(text, Face::Bold, 30.0, 8.0, 300.0);
        assert_eq!(fitted.encoded, text.as_bytes());
        assert!(fitted.size < 30.0 && fitted.size >= 8.0);
        assert!(width(&fitted.encoded, Face::Bold, fitted.size) <= 300.0);
    }

    #[test]
    fn a_line_too_long_for_the_smallest_size_is_cut() {
        let text = "A".repeat(500);
        let fitted = fit(&text, Face::Regular, 12.0, 10.0, 200.0);
        assert_eq!(fitted.size, 10.0);
        assert_eq!(fitted.encoded.last(), Some(&ELLIPSIS));
        assert!(fitted.encoded.len() < 500);
        assert!(width(&fitted.encoded, Face::Regular, fitted.size) <= 200.0);
    }

    #[test]
    fn a_shrunk_line_keeps_every_character() {
        let text = "W".repeat(64);
        let fitted = shrink(&text, Face::Bold, 30.0, 400.0);
        assert_eq!(fitted.encoded, text.as_bytes());
        assert!(width(&fitted.encoded, Face::Bold, fitted.size) <= 400.0);
        assert_eq!(shrink("AB", Face::Bold, 30.0, 400.0).size, 30.0);
    }
}
