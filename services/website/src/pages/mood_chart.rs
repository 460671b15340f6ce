//! The mood chart: stacked bars of a room's tagged messages by strongest
//! emotion, drawn as SVG on the server so it reads without JavaScript.
//! Colours come from the stylesheet (`.e-joy` ...), so the chart follows
//! the light and dark themes; every segment has a `<title>` for hover, and
//! the page carries the same numbers as a table for screen readers.

use std::fmt::Write;

use common::emotion::Emotion;

use crate::actions::mood::Mix;

/// The order segments stack in, bottom up: neutral first, the rest by
/// valence so that similar colours sit together.
pub const STACK: [Emotion; 7] = [
    Emotion::Neutral,
    Emotion::Joy,
    Emotion::Surprise,
    Emotion::Sadness,
    Emotion::Fear,
    Emotion::Anger,
    Emotion::Disgust,
];

/// One bar as the chart draws it.
pub struct Bar {
    /// Under the bar, when there is room ("14:00", "3 Dec"); empty: none.
    pub label: String,
    /// The bucket for hover text ("3 December 2026").
    pub title: String,
    /// Its messages by strongest emotion.
    pub mix: Mix,
}

// The chart keeps its proportions (text never stretches); the stylesheet
// enlarges the ticks on narrow screens, where the chart is drawn smaller.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 28.0;
const LEFT: f64 = 34.0;
const RIGHT: f64 = 22.0;

/// The chart of `bars`, oldest first. Counts are absolute, so a busy hour
/// stands taller than a quiet one; the axis says the largest.
pub fn svg(bars: &[Bar], caption: &str) -> String {
    let n = bars.len().max(1) as f64;
    let most = bars
        .iter()
        .map(|b| b.mix.iter().sum::<i64>())
        .max()
        .unwrap_or(0);
    let plot = HEIGHT - TOP - BOTTOM;
    let slot = (WIDTH - LEFT - RIGHT) / n;
    let bar_width = (slot * 0.72).max(1.0);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="mood-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(caption)
    );
    let base = HEIGHT - BOTTOM;
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" y1="{base}" x2="{right}" y2="{base}"/><text class="tick" x="{x}" y="{y:.1}" text-anchor="end">{most}</text><text class="tick" x="{x}" y="{base}" text-anchor="end">0</text>"#,
        x = LEFT - 6.0,
        y = TOP + 4.0,
        right = WIDTH - RIGHT,
    );
    if most > 0 {
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{right}" y2="{TOP}"/>"#,
            right = WIDTH - RIGHT,
        );
    }
    for (i, bar) in bars.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_width) / 2.0;
        let mut y = base;
        for emotion in STACK {
            let count = count_of(&bar.mix, emotion);
            if count == 0 || most == 0 {
                continue;
            }
            let h = plot * count as f64 / most as f64;
            y -= h;
            let _ = write!(
                out,
                r#"<rect class="e-{name}" x="{x:.1}" y="{y:.1}" width="{bar_width:.1}" height="{h:.1}"><title>{title}: {count} {name}</title></rect>"#,
                name = emotion.as_str(),
                title = escape(&bar.title),
            );
        }
        if !bar.label.is_empty() {
            let _ = write!(
                out,
                r#"<text class="tick" x="{cx:.1}" y="{ty}" text-anchor="middle">{label}</text>"#,
                cx = x + bar_width / 2.0,
                ty = HEIGHT - 6.0,
                label = escape(&bar.label),
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// How many messages of `mix` had `emotion` as their strongest.
pub fn count_of(mix: &Mix, emotion: Emotion) -> i64 {
    Emotion::ALL
        .iter()
        .position(|e| *e == emotion)
        .map_or(0, |i| mix[i])
}

/// Text safe inside SVG markup and attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, mix: Mix) -> Bar {
        Bar {
            label: label.into(),
            title: format!("<{label}>"),
            mix,
        }
    }

    #[test]
    fn each_emotion_of_a_bar_is_a_segment_with_its_count() {
        // anger, disgust, fear, joy, neutral, sadness, surprise
        let chart = svg(
            &[
                bar("1 Dec", [0, 0, 0, 3, 5, 0, 0]),
                bar("2 Dec", [1, 0, 0, 0, 0, 0, 0]),
            ],
            "Mood by day",
        );
        assert!(chart.starts_with("<svg") && chart.ends_with("</svg>"));
        assert_eq!(chart.matches("<rect").count(), 3, "{chart}");
        assert!(chart.contains("&lt;1 Dec&gt;: 3 joy"), "{chart}");
        assert!(chart.contains("&lt;1 Dec&gt;: 5 neutral"), "{chart}");
        assert!(chart.contains("&lt;2 Dec&gt;: 1 anger"), "{chart}");
        // The tallest bar (8) fills the plot: 240 - 16 - 28 = 196 units.
        assert!(chart.contains(r#"height="73.5""#), "3 of 8: {chart}");
        assert!(chart.contains(r#"height="122.5""#), "5 of 8: {chart}");
        assert!(
            chart.contains(">8</text>"),
            "the axis says the largest: {chart}"
        );
    }

    #[test]
    fn an_empty_room_draws_an_axis_and_no_bars() {
        let chart = svg(&[bar("1 Dec", [0; 7]), bar("", [0; 7])], "Mood");
        assert_eq!(chart.matches("<rect").count(), 0);
        assert_eq!(chart.matches("1 Dec").count(), 1);
        assert!(chart.contains(">0</text>"));
    }
}
