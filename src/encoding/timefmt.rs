//! Times in messages: RFC 3339 UTC (`2026-12-07T20:10:00Z`), with a relative hint
//! (`12 min ago`, `in 5 min`) when the message has a "now" to compare with. Every user-facing
//! message (errors, warnings, `gitsign doctor`, verification output) renders times through
//! here, never as raw Unix seconds.

/// The current time as Unix seconds (0 if the clock is before 1970).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `t` (Unix seconds) as RFC 3339 UTC with second precision. A time outside the years
/// 1..=9999, which RFC 3339 cannot write, is described in words instead.
pub fn rfc3339(t: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(d) if (1..=9999).contains(&d.year()) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        ),
        _ if t < 0 => "a time before the year 1".to_string(),
        _ => "a time after the year 9999".to_string(),
    }
}

/// How far `t` is from `now`, in the largest unit that keeps the number readable:
/// `just now`, `40 s ago`, `12 min ago`, `in 3 h`, `2 days ago`.
pub fn relative(t: i64, now: i64) -> String {
    let diff = i128::from(t) - i128::from(now);
    let abs = diff.unsigned_abs();
    if abs < 2 {
        return "just now".to_string();
    }
    let amount = match abs {
        0..120 => format!("{abs} s"),
        120..7_200 => format!("{} min", abs / 60),
        7_200..172_800 => format!("{} h", abs / 3_600),
        172_800..63_115_200 => format!("{} days", abs / 86_400),
        _ => format!("{} years", abs / 31_557_600),
    };
    if diff < 0 { format!("{amount} ago") } else { format!("in {amount}") }
}

/// `t` as RFC 3339 UTC followed by the relative hint: `2026-12-07T20:10:00Z (12 min ago)`.
pub fn describe(t: i64, now: i64) -> String {
    format!("{} ({})", rfc3339(t), relative(t, now))
}

/// A validity window `[not_before, not_after]` as `from A to B`.
pub fn window(not_before: i64, not_after: i64) -> String {
    format!("from {} to {}", rfc3339(not_before), rfc3339(not_after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_utc_and_out_of_range() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_339_459), "2026-12-03T23:10:59Z");
        assert_eq!(rfc3339(-62_135_596_800), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339(i64::MIN), "a time before the year 1");
        assert_eq!(rfc3339(i64::MAX), "a time after the year 9999");
        assert_eq!(rfc3339(253_402_300_800), "a time after the year 9999");
    }

    #[test]
    fn relative_hints() {
        let now = 1_800_000_000;
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(now - 1, now), "just now");
        assert_eq!(relative(now - 40, now), "40 s ago");
        assert_eq!(relative(now + 40, now), "in 40 s");
        assert_eq!(relative(now - 120, now), "2 min ago");
        assert_eq!(relative(now - 12 * 60 - 59, now), "12 min ago");
        assert_eq!(relative(now + 5 * 60, now), "in 5 min");
        assert_eq!(relative(now - 3 * 3600, now), "3 h ago");
        assert_eq!(relative(now + 2 * 86_400, now), "in 2 days");
        assert_eq!(relative(now - 3 * 31_557_600, now), "3 years ago");
        // No overflow at the extremes.
        assert!(relative(i64::MIN, i64::MAX).ends_with(" years ago"));
        assert!(relative(i64::MAX, i64::MIN).starts_with("in "));
    }

    #[test]
    fn describe_joins_both() {
        let t = 1_796_339_459;
        assert_eq!(describe(t, t + 12 * 60), "2026-12-03T23:10:59Z (12 min ago)");
        assert_eq!(window(0, 60), "from 1970-01-01T00:00:00Z to 1970-01-01T00:01:00Z");
    }
}
