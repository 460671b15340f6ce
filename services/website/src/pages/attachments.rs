//! A message's files as the room page shows them (`_attachments.html`;
//! `static/room/media.js` builds the same for live messages): images as a
//! linked thumbnail with its size, audio as a player with its waveform and
//! duration (a plain `<audio controls>` without JavaScript), other files as
//! a row with their size and a download link; and a voice message's
//! transcript under it.

use common::protocol::{Annotation, Attachment, AttachmentKind, TRANSCRIPT};

/// The waveform's drawing box (`viewBox`): each bar is `BAR_STEP` wide
/// (gap included), as tall as its peak allows within `WAVE_HEIGHT`.
const BAR_STEP: u32 = 4;
const BAR_WIDTH: &str = "2.6";
const WAVE_HEIGHT: u32 = 32;
/// The lowest bar drawn, so silence still shows as a line.
const BAR_MIN: u32 = 2;

/// One bar of a waveform, in the box's units.
pub struct Bar {
    /// Its left edge.
    pub x: u32,
    /// Its top (bars are centred vertically).
    pub y: u32,
    /// Its height.
    pub height: u32,
}

/// An attachment as a message shows it.
pub struct AttachmentView {
    /// `image`, `audio` or `file` (the template's branch and a class).
    pub kind: &'static str,
    /// Its id (the player's and the script's handle).
    pub id: String,
    /// Its name as sent, made safe.
    pub name: String,
    /// The file itself.
    pub url: String,
    /// The same, always as a download.
    pub download_url: String,
    /// "2.4 MB".
    pub size: String,
    /// An image: what shows inline (the thumbnail, or the image when small).
    pub src: String,
    /// Its size in pixels (0: unknown), so the layout does not move when
    /// it loads.
    pub width: i32,
    /// See `width`.
    pub height: i32,
    /// Audio: what the player plays.
    pub play_url: String,
    /// Its length in ms (the script's player starts from it).
    pub duration_ms: i32,
    /// Its length for people ("0:17").
    pub duration: String,
    /// Its waveform.
    pub bars: Vec<Bar>,
    /// The box the bars are drawn in (`0 0 {wave_width} 32`).
    pub wave_width: u32,
}

impl AttachmentView {
    /// How `a` shows.
    pub fn of(a: &Attachment) -> Self {
        let (src, width, height) = match &a.thumb {
            Some(t) => (t.url.clone(), t.width, t.height),
            None => (a.url.clone(), a.width.unwrap_or(0), a.height.unwrap_or(0)),
        };
        let duration_ms = a.duration_ms.unwrap_or(0);
        Self {
            kind: a.kind.as_str(),
            id: a.id.clone(),
            name: a.name.clone(),
            url: a.url.clone(),
            download_url: format!("{}?download=1", a.url),
            size: size_label(a.size),
            src,
            width,
            height,
            play_url: match a.kind {
                AttachmentKind::Audio => a.play_url.clone().unwrap_or_else(|| a.url.clone()),
                _ => String::new(),
            },
            duration_ms,
            duration: duration_label(i64::from(duration_ms)),
            bars: bars(&a.peaks),
            wave_width: wave_width(&a.peaks),
        }
    }
}

/// The waveform's bars from the peaks (0 to 255), centred vertically.
pub fn bars(peaks: &[u8]) -> Vec<Bar> {
    peaks
        .iter()
        .zip(0u32..)
        .map(|(&p, i)| {
            let height = (u32::from(p) * WAVE_HEIGHT / 255).max(BAR_MIN);
            Bar {
                x: i * BAR_STEP,
                y: (WAVE_HEIGHT - height) / 2,
                height,
            }
        })
        .collect()
}

/// The width of the waveform's box: one step per bar (at least one).
fn wave_width(peaks: &[u8]) -> u32 {
    u32::try_from(peaks.len().max(1)).unwrap_or(1) * BAR_STEP
}

/// A bar's width, for the template.
pub fn bar_width() -> &'static str {
    BAR_WIDTH
}

/// A voice message's transcript among a message's annotations (empty text:
/// none).
pub fn transcript(annotations: &[Annotation]) -> Option<String> {
    annotations
        .iter()
        .find(|a| a.kind == TRANSCRIPT)
        .map(|a| a.text.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// A size for people: "812 B", "12 KB", "2.4 MB", "1.1 GB" (powers of
/// 1000, one decimal below ten).
pub fn size_label(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value < 9.95 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// A length for people: "0:17", "4:05" (seconds rounded, at least 0:01
/// for any sound).
pub fn duration_label(ms: i64) -> String {
    let secs = if ms > 0 {
        ((ms + 500) / 1000).max(1)
    } else {
        0
    };
    format!("{}:{:02}", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(size_label(0), "0 B");
        assert_eq!(size_label(812), "812 B");
        assert_eq!(size_label(12_345), "12 KB");
        assert_eq!(size_label(2_400_000), "2.4 MB");
        assert_eq!(size_label(25 * 1024 * 1024), "26 MB");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration_label(0), "0:00");
        assert_eq!(duration_label(120), "0:01");
        assert_eq!(duration_label(17_400), "0:17");
        assert_eq!(duration_label(245_000), "4:05");
    }

    #[test]
    fn bars_fit_the_box() {
        let b = bars(&[0, 255, 128]);
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].x, b[0].height, b[0].y), (0, BAR_MIN, 15));
        assert_eq!((b[1].x, b[1].height, b[1].y), (4, 32, 0));
        assert_eq!(b[2].x, 8);
        assert_eq!(wave_width(&[1, 2, 3]), 12);
    }
}
