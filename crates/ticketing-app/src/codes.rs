//! Ticket codes are what a door scanner trusts, so they must be unguessable:
//! the domain only checks their shape, and this port draws them. Tests can
//! plug in a deterministic source; production uses [`RandomTicketCodes`].

use ticketing::TicketCode;

/// How many characters a drawn code has. Each is one of 36 (`[A-Z0-9]`),
/// uniformly, so a code carries `20 × log2(36) ≈ 103.4` bits of entropy:
/// guessing one valid code among a billion issued takes about `2^73` tries,
/// and two codes collide with negligible probability.
pub const TICKET_CODE_CHARS: usize = 20;

/// A source of ticket codes.
pub trait TicketCodes: Send + Sync + 'static {
    /// A fresh code, never predictable from earlier ones.
    fn next(&self) -> TicketCode;
}

/// Draws codes from the operating system's cryptographic random source
/// (`getrandom`), with rejection sampling so that every character is
/// exactly uniform over `[A-Z0-9]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomTicketCodes;

const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The largest multiple of 36 that fits in a byte: bytes at or above it are
/// thrown away so that `byte % 36` carries no bias.
const UNBIASED_BYTES: u8 = 252;

impl TicketCodes for RandomTicketCodes {
    fn next(&self) -> TicketCode {
        let mut code = String::with_capacity(TICKET_CODE_CHARS);
        let mut buffer = [0_u8; 32];
        while code.len() < TICKET_CODE_CHARS {
            // Without an OS random source no code can be unguessable; there is
            // no safe fallback, so this is one of the few panics (the task
            // serving the request fails, the process stays up).
            getrandom::fill(&mut buffer).expect("the operating system's random source is available");
            for byte in buffer.iter().copied().filter(|byte| *byte < UNBIASED_BYTES) {
                if code.len() == TICKET_CODE_CHARS {
                    break;
                }
                code.push(char::from(ALPHABET[usize::from(byte % 36)]));
            }
        }
        TicketCode::new(code).expect("invariant: 20 characters of [A-Z0-9] are a valid ticket code")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_have_the_documented_shape_and_do_not_repeat() {
        let codes: HashSet<String> = (0..1_000).map(|_| RandomTicketCodes.next().as_str().to_owned()).collect();
        assert_eq!(codes.len(), 1_000);
        assert!(codes.iter().all(|code| code.len() == TICKET_CODE_CHARS));
        assert!(codes.iter().all(|code| code.bytes().all(|byte| ALPHABET.contains(&byte))));
    }
}
