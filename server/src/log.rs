//! Structured log lines on stderr, in logfmt: `ts=… level=info msg=request …`.
//!
//! What may appear is decided by the callers, and they pass only what is safe:
//! route templates, statuses, durations, site ids, settings. Never an IP address,
//! user agent, consent ID, query string or body. Plain `eprintln!`: a line per
//! request needs no logging framework.

use std::fmt::{Display, Write as _};

/// Writes one line: `ts`, `level` and `msg` first, then `fields` in order.
pub fn line(level: &str, msg: &str, fields: &[(&str, &dyn Display)]) {
    eprintln!("{}", format(level, msg, fields));
}

pub fn info(msg: &str, fields: &[(&str, &dyn Display)]) {
    line("info", msg, fields);
}

fn format(level: &str, msg: &str, fields: &[(&str, &dyn Display)]) -> String {
    let ts = keksdose_shared::time::rfc3339_millis(crate::store::sled_store::now_ms());
    let mut out = format!("ts={ts} level={level} msg={}", quoted(msg));
    for (key, value) in fields {
        let _ = write!(out, " {key}={}", quoted(&value.to_string()));
    }
    out
}

/// A logfmt value: bare if it can be, else quoted with `"` and `\` escaped and
/// control characters dropped, so that no value can forge a line or a field.
fn quoted(v: &str) -> String {
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"=\\".contains(&b))
    {
        return v.to_string();
    }
    let mut out = String::from("\"");
    for c in v.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_only_when_needed_and_cannot_break_the_line() {
        let line = format(
            "info",
            "request",
            &[
                ("route", &"/v1/sites/{site}/config"),
                ("ms", &1.5),
                ("x", &"a b\n\"c\"=d"),
            ],
        );
        assert!(line.starts_with("ts=20"), "{line}");
        assert!(
            line.ends_with(
                " level=info msg=request route=/v1/sites/{site}/config ms=1.5 x=\"a b\\\"c\\\"=d\""
            ),
            "{line}"
        );
        assert_eq!(quoted(""), "\"\"");
    }
}
