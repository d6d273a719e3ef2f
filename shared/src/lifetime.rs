//! Durations as a privacy policy states them: `"30d"`, `"13mo"`, `"session"`.
//!
//! Used for cookie lifetimes and the consent lifetime. The text form is what the
//! config keeps (and what the banner shows); [`Lifetime::parse`] gives its meaning.

use std::fmt;

/// The meaning of a lifetime string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Deleted when the browser session ends.
    Session,
    /// Kept until deleted (local storage, IndexedDB).
    Persistent,
    /// Kept for this long.
    Duration { amount: u32, unit: Unit },
}

/// Units a lifetime may be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    const ALL: [(&'static str, Unit); 7] = [
        ("s", Unit::Second),
        ("min", Unit::Minute),
        ("h", Unit::Hour),
        ("d", Unit::Day),
        ("w", Unit::Week),
        ("mo", Unit::Month),
        ("y", Unit::Year),
    ];

    /// Length in seconds; a month counts 30 days, a year 365.
    pub fn seconds(self) -> u64 {
        match self {
            Unit::Second => 1,
            Unit::Minute => 60,
            Unit::Hour => 3_600,
            Unit::Day => 86_400,
            Unit::Week => 7 * 86_400,
            Unit::Month => 30 * 86_400,
            Unit::Year => 365 * 86_400,
        }
    }

    fn suffix(self) -> &'static str {
        Unit::ALL
            .iter()
            .find(|(_, u)| *u == self)
            .map_or("", |(s, _)| s)
    }
}

/// Why a lifetime string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a duration like \"30d\", \"13mo\", \"2y\", or \"session\" or \"persistent\"")]
pub struct LifetimeError;

impl Lifetime {
    /// Parses `"session"`, `"persistent"` or a positive whole number followed by one
    /// of `s`, `min`, `h`, `d`, `w`, `mo`, `y` (no space), e.g. `"13mo"`.
    pub fn parse(text: &str) -> Result<Lifetime, LifetimeError> {
        match text {
            "session" => return Ok(Lifetime::Session),
            "persistent" => return Ok(Lifetime::Persistent),
            _ => {}
        }
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or(LifetimeError)?;
        let (digits, suffix) = text.split_at(split);
        if digits.is_empty() || digits.starts_with('0') || digits.len() > 6 {
            return Err(LifetimeError);
        }
        let amount: u32 = digits.parse().map_err(|_| LifetimeError)?;
        let unit = Unit::ALL
            .iter()
            .find(|(s, _)| *s == suffix)
            .map(|(_, u)| *u)
            .ok_or(LifetimeError)?;
        Ok(Lifetime::Duration { amount, unit })
    }

    /// Seconds, for a duration; `None` for session and persistent storage.
    pub fn seconds(self) -> Option<u64> {
        match self {
            Lifetime::Duration { amount, unit } => Some(u64::from(amount) * unit.seconds()),
            Lifetime::Session | Lifetime::Persistent => None,
        }
    }
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lifetime::Session => f.write_str("session"),
            Lifetime::Persistent => f.write_str("persistent"),
            Lifetime::Duration { amount, unit } => write!(f, "{amount}{}", unit.suffix()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_privacy_policies_say() {
        assert_eq!(Lifetime::parse("session"), Ok(Lifetime::Session));
        assert_eq!(Lifetime::parse("persistent"), Ok(Lifetime::Persistent));
        assert_eq!(Lifetime::parse("30d").unwrap().seconds(), Some(30 * 86_400));
        assert_eq!(
            Lifetime::parse("13mo").unwrap().seconds(),
            Some(390 * 86_400)
        );
        assert_eq!(Lifetime::parse("2y").unwrap().seconds(), Some(730 * 86_400));
        assert_eq!(Lifetime::parse("15min").unwrap().seconds(), Some(900));
        for text in ["13mo", "30d", "1y", "session", "12h"] {
            assert_eq!(Lifetime::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "", "d", "30", "0d", "030d", "30 d", "-1d", "1.5y", "30days", "forever", "9999999d",
        ] {
            assert_eq!(Lifetime::parse(bad), Err(LifetimeError), "{bad:?}");
        }
    }
}
