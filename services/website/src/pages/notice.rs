//! Acts of moderation in words, as the room page shows them between
//! messages ("ann muted bob for 1 h"). The room page's script words live
//! ones the same way (`static/room/moderation.js`).

use chrono::{DateTime, Utc};
use common::protocol::ModerationEvent;

use super::room::Names;
use crate::web::times::Times;

/// A length of time, rounded, in the largest unit it reaches: "45 seconds",
/// "10 minutes", "1 hour", "3 days".
pub fn span(secs: i64) -> String {
    let (n, unit) = match secs.max(0) {
        s if s < 60 => (s, "second"),
        s if s < 3_570 => ((s + 30) / 60, "minute"),
        s if s < 84_600 => ((s + 1_800) / 3_600, "hour"),
        s => ((s + 43_200) / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// When a mute or ban ends, as short as it reads: the time alone today
/// ("14:05 CET"), else with the date ("30 Nov 2026, 14:05 CET"), as the
/// room page's script words it (`formatUntil`).
pub fn until_short(times: &Times, until: &DateTime<Utc>) -> String {
    if times.same_day(until, &Utc::now()) {
        times.time(until)
    } else {
        times.short_date_time(until)
    }
}

/// The sentence for one act.
pub fn describe(m: &ModerationEvent, names: &Names, times: &Times) -> String {
    let by = names.shown(&m.by);
    let target = m
        .target
        .as_ref()
        .map(|t| names.shown(t))
        .unwrap_or_default();
    let lasting = |forever: &str| match m.until {
        Some(until) => format!(
            "for {} (until {})",
            span((until - m.at).num_seconds()),
            until_short(times, &until)
        ),
        None => forever.to_owned(),
    };
    match m.action.as_str() {
        "kick" => format!("{by} removed {target} from the room"),
        "ban" => format!("{by} banned {target} {}", lasting("for good")),
        "unban" => format!("{by} lifted {target}'s ban"),
        "mute" => format!("{by} muted {target} {}", lasting("until further notice")),
        "unmute" => format!("{by} unmuted {target}"),
        "role" => match m.role.as_deref() {
            Some("moderator") => format!("{by} made {target} a moderator"),
            _ => format!("{by} made {target} a member"),
        },
        "owner" => format!("{by} handed the room over to {target}"),
        "topic" => match m.topic.as_deref() {
            Some(t) if !t.is_empty() => format!("{by} set the topic: {t}"),
            _ => format!("{by} cleared the topic"),
        },
        "visibility" => match m.visibility.as_deref() {
            Some("private") => format!("{by} made the room private: members only"),
            _ => format!("{by} made the room public"),
        },
        "slow_mode" => match m.slow_mode_secs {
            Some(s) if s > 0 => format!(
                "{by} turned on slow mode: one message every {} per member",
                span(i64::from(s))
            ),
            _ => format!("{by} turned off slow mode"),
        },
        other => format!("{by}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(45), "45 seconds");
        assert_eq!(span(600), "10 minutes");
        assert_eq!(span(3600), "1 hour");
        assert_eq!(span(7 * 86_400), "7 days");
        assert_eq!(span(3599), "1 hour");
        assert_eq!(span(1), "1 second");
    }
}
