//! Structured log lines on stderr, in logfmt: `ts=… level=info msg=request …`.
//!
//! What may appear is decided by the callers, and they pass only what is safe:
//! route templates, statuses, durations, site ids, settings. Never an IP address,
//! user agent, consent ID, query string or body. One `write` to stderr per line;
//! a line per request needs no logging framework.

use std::fmt::{Display, Write as _};

/// Writes one line: `ts`, `level` and `msg` first, then `fields` in order, with
/// one `write` (`eprintln!` on the unbuffered stderr writes the text and the
/// newline in two system calls).
pub fn line(level: &str, msg: &str, fields: &[(&str, &dyn Display)]) {
    use std::io::Write as _;
    let mut line = format(level, msg, fields);
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}

pub fn info(msg: &str, fields: &[(&str, &dyn Display)]) {
    line("info", msg, fields);
}

fn format(level: &str, msg: &str, fields: &[(&str, &dyn Display)]) -> String {
    let ts = keksdose_shared::time::rfc3339_millis(keksdose_store::now_ms());
    let mut out = String::with_capacity(160);
    let _ = write!(out, "ts={ts} level={level} msg={}", quoted(msg));
    for (key, value) in fields {
        // Written in place; re-quoted only if the value needs it (rarely).
        let _ = write!(out, " {key}=");
        let start = out.len();
        let _ = write!(out, "{value}");
        if !bare(&out[start..]) {
            let raw = out.split_off(start);
            out.push_str(&quoted(&raw));
        }
    }
    out
}

fn bare(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"=\\".contains(&b))
}

/// A logfmt value: bare if it can be, else quoted with `"` and `\` escaped and
/// control characters dropped, so that no value can forge a line or a field.
fn quoted(v: &str) -> String {
    if bare(v) {
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
