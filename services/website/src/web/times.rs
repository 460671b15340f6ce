//! Times as a person reads them: in their time zone, on their clock (the
//! preferences `time_zone` and `clock`). Every time a page prints goes
//! through here; the scripts format live times with the same zone and clock
//! (`data-time-zone`, `data-clock` on `<html>`).

use chrono::{DateTime, Utc};
use common::preferences::{Clock, Preferences, TimeZone};

/// Formats instants for one viewer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Times {
    zone: TimeZone,
    clock: Clock,
}

impl Times {
    /// The formatter of these preferences.
    pub fn of(prefs: &Preferences) -> Self {
        Self {
            zone: prefs.time_zone,
            clock: prefs.clock,
        }
    }

    fn local(&self, t: &DateTime<Utc>) -> DateTime<chrono_tz::Tz> {
        t.with_timezone(&self.zone.0)
    }

    fn hm(&self) -> &'static str {
        match self.clock {
            Clock::H24 => "%H:%M",
            Clock::H12 => "%-I:%M %p",
        }
    }

    /// The time of day with the zone: "14:05 CET", "2:05 PM EST".
    pub fn time(&self, t: &DateTime<Utc>) -> String {
        self.local(t)
            .format(&format!("{} %Z", self.hm()))
            .to_string()
    }

    /// Date and time with the zone: "2026-11-29 14:05 CET".
    pub fn date_time(&self, t: &DateTime<Utc>) -> String {
        self.local(t)
            .format(&format!("%Y-%m-%d {} %Z", self.hm()))
            .to_string()
    }

    /// A short date and time with the zone: "29 Nov 2026, 2:05 PM CET".
    pub fn short_date_time(&self, t: &DateTime<Utc>) -> String {
        self.local(t)
            .format(&format!("%-d %b %Y, {} %Z", self.hm()))
            .to_string()
    }

    /// The local day, `YYYY-MM-DD` (for `<time datetime>` and grouping).
    pub fn day(&self, t: &DateTime<Utc>) -> String {
        self.local(t).format("%Y-%m-%d").to_string()
    }

    /// The local day for people: "Saturday, 21 November 2026".
    pub fn day_label(&self, t: &DateTime<Utc>) -> String {
        self.local(t).format("%A, %-d %B %Y").to_string()
    }

    /// The local date in words: "21 November 2026".
    pub fn date_label(&self, t: &DateTime<Utc>) -> String {
        self.local(t).format("%-d %B %Y").to_string()
    }

    /// The viewer's zone (where their days begin).
    pub fn zone(&self) -> chrono_tz::Tz {
        self.zone.0
    }

    /// A short local date: "3 Dec".
    pub fn short_day(&self, t: &DateTime<Utc>) -> String {
        self.local(t).format("%-d %b").to_string()
    }

    /// The local hour on the viewer's clock: "14:00", "2 PM".
    pub fn hour(&self, t: &DateTime<Utc>) -> String {
        let format = match self.clock {
            Clock::H24 => "%H:00",
            Clock::H12 => "%-I %p",
        };
        self.local(t).format(format).to_string()
    }

    /// Whether two instants fall on the same local day.
    pub fn same_day(&self, a: &DateTime<Utc>, b: &DateTime<Utc>) -> bool {
        self.local(a).date_naive() == self.local(b).date_naive()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use common::preferences::TimeZone;

    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        match Utc.with_ymd_and_hms(2026, 11, 29, h, m, 0) {
            chrono::LocalResult::Single(t) => t,
            _ => panic!("a valid instant"),
        }
    }

    #[test]
    fn the_defaults_read_as_before_in_utc_on_a_24_hour_clock() {
        let t = Times::default();
        assert_eq!(t.time(&at(14, 5)), "14:05 UTC");
        assert_eq!(t.date_time(&at(14, 5)), "2026-11-29 14:05 UTC");
        assert_eq!(t.day_label(&at(14, 5)), "Sunday, 29 November 2026");
    }

    #[test]
    fn a_zone_and_a_12_hour_clock_move_the_time_and_the_day() {
        let prefs = Preferences {
            time_zone: TimeZone::parse("America/New_York").unwrap_or_default(),
            clock: Clock::H12,
            ..Preferences::default()
        };
        let t = Times::of(&prefs);
        assert_eq!(t.time(&at(14, 5)), "9:05 AM EST");
        assert_eq!(t.short_date_time(&at(3, 0)), "28 Nov 2026, 10:00 PM EST");
        assert_eq!(t.day(&at(3, 0)), "2026-11-28");
        assert!(!t.same_day(&at(3, 0), &at(14, 5)));
    }
}
