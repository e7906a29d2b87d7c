//! Where the mail goes, as one URL, so a deployment names its server in one
//! setting:
//!
//! - `smtp://host[:port]`: plain SMTP, no TLS (port 25 by default). For an
//!   SMTP sink or a relay on the same host or network. A password is never
//!   sent this way to a host other than the loopback one.
//! - `smtp+starttls://host[:port]`: SMTP upgraded with STARTTLS, which the
//!   server must offer (port 587 by default); `submission://` means the same.
//! - `smtps://host[:port]`: TLS from the first byte, "implicit TLS" (port
//!   465 by default).
//!
//! `user:password@` before the host turns on AUTH (PLAIN or LOGIN, as the
//! server offers), percent-encoded where the URL needs it (`%40` for `@`).
//! The server's certificate is checked against the platform's trusted roots
//! and the host's name.

use std::fmt;
use std::net::IpAddr;

use percent_encoding::percent_decode_str;
use url::{Host, Url};

use crate::ConfigError;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Security {
    /// None: plain SMTP.
    Plain,
    /// STARTTLS, required.
    StartTls,
    /// TLS from the start.
    Implicit,
}

/// A user name and password for AUTH.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Login {
    pub(crate) user: String,
    pub(crate) password: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login").field("user", &self.user).field("password", &"…").finish()
    }
}

/// A parsed SMTP URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) security: Security,
    pub(crate) login: Option<Login>,
}

impl fmt::Display for Endpoint {
    /// The URL without its password, fit for logs and errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.security {
            Security::Plain => "smtp",
            Security::StartTls => "smtp+starttls",
            Security::Implicit => "smtps",
        };
        let user = self.login.as_ref().map(|login| format!("{}@", login.user)).unwrap_or_default();
        write!(f, "{scheme}://{user}{}:{}", self.host, self.port)
    }
}

impl Endpoint {
    /// Reads `url` (see the module's documentation).
    pub(crate) fn parse(url: &str) -> Result<Self, ConfigError> {
        let bad = |reason: &str| ConfigError::Url { reason: reason.to_owned() };
        let parsed = Url::parse(url).map_err(|error| bad(&format!("not a URL: {error}")))?;
        let (security, default_port) = match parsed.scheme() {
            "smtp" => (Security::Plain, 25),
            "smtp+starttls" | "submission" => (Security::StartTls, 587),
            "smtps" => (Security::Implicit, 465),
            other => {
                return Err(bad(&format!(
                    "the scheme {other:?} is not one of smtp, smtp+starttls (or submission) and smtps"
                )));
            }
        };
        let host = match parsed.host() {
            Some(Host::Domain(domain)) if !domain.is_empty() => domain.to_owned(),
            Some(Host::Ipv4(address)) => address.to_string(),
            Some(Host::Ipv6(address)) => address.to_string(),
            _ => return Err(bad("no host")),
        };
        if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("an SMTP URL has no path, query or fragment"));
        }
        let decode = |text: &str| {
            percent_decode_str(text)
                .decode_utf8()
                .map(|decoded| decoded.into_owned())
                .map_err(|_| bad("the user name or password is not UTF-8 once decoded"))
        };
        let login = match (parsed.username(), parsed.password()) {
            ("", None) => None,
            (user, Some(password)) if !user.is_empty() => {
                Some(Login { user: decode(user)?, password: decode(password)? })
            }
            _ => return Err(bad("a login needs both a user name and a password (user:password@host)")),
        };
        let endpoint = Self { host, port: parsed.port().unwrap_or(default_port), security, login };
        if endpoint.security == Security::Plain && endpoint.login.is_some() && !endpoint.is_loopback() {
            return Err(bad(
                "a password would cross the network in the clear: use smtp+starttls:// or smtps:// for a server \
                 that is not on this host",
            ));
        }
        Ok(endpoint)
    }

    /// Whether the host is this machine.
    fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok_and(|address| address.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Endpoint {
        Endpoint::parse(url).unwrap_or_else(|error| panic!("{url} parses: {error}"))
    }

    fn refused(url: &str) -> String {
        match Endpoint::parse(url) {
            Ok(endpoint) => panic!("{url} is refused, not read as {endpoint:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn each_scheme_has_its_security_and_default_port() {
        let plain = parse("smtp://127.0.0.1:2525");
        assert_eq!((plain.host.as_str(), plain.port, plain.security), ("127.0.0.1", 2525, Security::Plain));
        assert_eq!(plain.login, None);
        assert_eq!(parse("smtp://relay").port, 25);
        let starttls = parse("smtp+starttls://mail.example.com");
        assert_eq!((starttls.port, starttls.security), (587, Security::StartTls));
        assert_eq!(parse("submission://mail.example.com:2587").security, Security::StartTls);
        let implicit = parse("smtps://mail.example.com/");
        assert_eq!((implicit.port, implicit.security), (465, Security::Implicit));
        assert_eq!(parse("smtp://[::1]:25").host, "::1");
    }

    #[test]
    fn the_login_is_percent_decoded() {
        let endpoint = parse("smtps://shop%40example.com:p%3Ass%2Fw0rd@mail.example.com");
        let login = endpoint.login.expect("a login");
        assert_eq!((login.user.as_str(), login.password.as_str()), ("shop@example.com", "p:ss/w0rd"));
    }

    #[test]
    fn the_password_is_kept_out_of_display_and_debug() {
        let endpoint = parse("smtps://shop:secret@mail.example.com");
        assert_eq!(endpoint.to_string(), "smtps://shop@mail.example.com:465");
        assert!(!format!("{endpoint:?}").contains("secret"));
    }

    #[test]
    fn a_password_in_the_clear_stays_on_this_host() {
        assert!(parse("smtp://shop:secret@localhost:25").login.is_some());
        assert!(parse("smtp://shop:secret@127.0.0.1:25").login.is_some());
        assert!(refused("smtp://shop:secret@mail.example.com").contains("in the clear"));
    }

    #[test]
    fn what_is_not_an_smtp_url_is_refused() {
        assert!(refused("http://mail.example.com").contains("scheme"));
        assert!(refused("mail.example.com:25").contains("scheme"));
        assert!(refused("smtp://").contains("no host"));
        assert!(refused("smtp://mail.example.com/path").contains("no path"));
        assert!(refused("smtp://mail.example.com?tls=required").contains("no path"));
        assert!(refused("smtps://shop@mail.example.com").contains("both"));
        assert!(refused("smtps://:secret@mail.example.com").contains("both"));
    }
}
