//! How the functions write their logs. Lambda's advanced logging controls tell a function, through its environment,
//! which format CloudWatch expects (`AWS_LAMBDA_LOG_FORMAT`) and which level the stack asks for
//! (`AWS_LAMBDA_LOG_LEVEL`). With the JSON format every line is one JSON object whose `level`, `timestamp` and
//! `message` CloudWatch Logs Insights reads as fields, and Lambda drops lines below the asked level by their
//! `level`; so the functions write JSON lines then, and plain text (without a time, which CloudWatch adds) otherwise.
//! The choice is made here, from a lookup, so that it is tested without touching the process's environment;
//! `main` calls [`init_logging`] once.

use tracing_subscriber::EnvFilter;

/// The filter when neither Lambda nor `RUST_LOG` names one.
const DEFAULT_FILTER: &str = "info";

/// How the lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line (`AWS_LAMBDA_LOG_FORMAT=JSON`).
    Json,
    /// Plain text.
    Text,
}

/// The format and filter of a function's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// JSON when Lambda asks for it.
    pub format: LogFormat,
    /// An `EnvFilter` directive: Lambda's level when it names one, else `RUST_LOG`, else `info`.
    pub filter: String,
}

impl LogSettings {
    /// The settings in the process's environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings in the variables `lookup` finds (empty values count as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let format = match get("AWS_LAMBDA_LOG_FORMAT") {
            Some(format) if format.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let filter = get("AWS_LAMBDA_LOG_LEVEL")
            .and_then(|level| lambda_level(&level))
            .map(str::to_owned)
            .or_else(|| get("RUST_LOG"))
            .unwrap_or_else(|| DEFAULT_FILTER.to_owned());
        Self { format, filter }
    }
}

/// The `tracing` level of one of Lambda's level names; `tracing` has nothing above ERROR, so FATAL keeps errors.
fn lambda_level(name: &str) -> Option<&'static str> {
    match name.to_ascii_uppercase().as_str() {
        "TRACE" => Some("trace"),
        "DEBUG" => Some("debug"),
        "INFO" => Some("info"),
        "WARN" => Some("warn"),
        "ERROR" | "FATAL" => Some("error"),
        _ => None,
    }
}

/// Installs the process's subscriber as `settings` say. A filter `EnvFilter` cannot read falls back to `info`
/// rather than leaving the function silent.
pub fn init_logging(settings: &LogSettings) {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // CloudWatch shows no colours.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false);
    match settings.format {
        // The event's fields at the top level, as Lambda's own JSON lines have `message`; the request's span (and
        // its request id) under `span`.
        LogFormat::Json => builder.json().flatten_event(true).with_span_list(false).init(),
        // CloudWatch adds its own timestamps to text lines.
        LogFormat::Text => builder.without_time().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(variables: &[(&str, &str)]) -> LogSettings {
        LogSettings::from_lookup(|name| {
            variables.iter().find(|(known, _)| *known == name).map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn lines_are_json_only_when_lambda_asks_for_json() {
        assert_eq!(settings(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).format, LogFormat::Json);
        assert_eq!(settings(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).format, LogFormat::Text);
        assert_eq!(settings(&[("AWS_LAMBDA_LOG_FORMAT", " ")]).format, LogFormat::Text);
        assert_eq!(settings(&[]).format, LogFormat::Text);
    }

    #[test]
    fn lambda_s_level_wins_over_rust_log_which_wins_over_info() {
        let both = [("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "warn,sqlx=error")];
        assert_eq!(settings(&both).filter, "debug");
        assert_eq!(settings(&[("RUST_LOG", "warn,sqlx=error")]).filter, "warn,sqlx=error");
        assert_eq!(settings(&[]).filter, "info");
    }

    #[test]
    fn each_of_lambda_s_level_names_is_a_tracing_level_and_an_unknown_one_is_passed_over() {
        let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
        let filters: Vec<String> =
            levels.iter().map(|level| settings(&[("AWS_LAMBDA_LOG_LEVEL", level)]).filter).collect();
        assert_eq!(filters, ["trace", "debug", "info", "warn", "error", "error"]);
        let unknown = [("AWS_LAMBDA_LOG_LEVEL", "LOUD"), ("RUST_LOG", "warn")];
        assert_eq!(settings(&unknown).filter, "warn");
    }
}
