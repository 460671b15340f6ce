//! Generated avatars: every person has one without uploading anything. An
//! avatar is a small SVG with the initials of the name shown (the display
//! name, else the username) in white on a colour that comes from the
//! username alone, so it stays the same when the display name changes and
//! two people with the same display name still look different. The colour
//! is darkened until white text on it has WCAG AA contrast (4.5:1).
//!
//! Pure functions of their input, cheap (a few hundred bytes of text), so
//! they run on the request's thread.

use std::fmt::Write as _;

/// The side of the square, in SVG user units (the image scales).
const SIZE: u32 = 64;
/// The contrast white text needs on the background (WCAG AA, normal text).
const MIN_CONTRAST: f64 = 4.5;
/// Changes to the drawing change this, so cached copies are revalidated.
const VERSION: u32 = 1;

/// Where the avatar of `username` is served (`GET /avatars/{username}.svg`).
/// Usernames are `[A-Za-z0-9_.-]`: nothing to escape in a path.
pub fn url(username: &str) -> String {
    format!("/avatars/{username}.svg")
}

/// The SVG document of the avatar of `username`, showing `shown_name`'s
/// initials (`shown_name` is what pages call the person: the display name
/// or the username).
pub fn svg(username: &str, shown_name: &str) -> String {
    let colour = background(username);
    let initials = initials(shown_name, username);
    let font_size = if initials.chars().count() > 1 { 26 } else { 30 };
    let mut out = String::with_capacity(512);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{SIZE}\" height=\"{SIZE}\" \
         viewBox=\"0 0 {SIZE} {SIZE}\" role=\"img\" aria-label=\"{label}\">\
         <title>{label}</title>\
         <rect width=\"{SIZE}\" height=\"{SIZE}\" fill=\"{colour}\"/>\
         <text x=\"50%\" y=\"50%\" dy=\".35em\" text-anchor=\"middle\" \
         font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\" \
         font-size=\"{font_size}\" font-weight=\"600\" fill=\"#ffffff\">{text}</text></svg>",
        label = escape(shown_name),
        text = escape(&initials),
    );
    out
}

/// A strong validator of the avatar: it changes whenever the picture does
/// (the name shown, the username's colour, the drawing's version).
pub fn etag(username: &str, shown_name: &str) -> String {
    let mut h = Fnv::new();
    h.write(&VERSION.to_le_bytes());
    h.write(username.as_bytes());
    h.write(&[0]);
    h.write(shown_name.as_bytes());
    format!("\"a{VERSION}-{:016x}\"", h.finish64())
}

/// Up to two initials: of the first and the last word of `name` that hold
/// a letter or digit, upper-cased; the username's first letter or digit
/// when the name has none (only emoji, say), and "?" as the last resort.
pub fn initials(name: &str, username: &str) -> String {
    let words: Vec<char> = name
        .split_whitespace()
        .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
        .collect();
    let picked: Vec<char> = match words.as_slice() {
        [] => username
            .chars()
            .find(|c| c.is_alphanumeric())
            .into_iter()
            .collect(),
        [only] => vec![*only],
        [first, .., last] => vec![*first, *last],
    };
    if picked.is_empty() {
        return "?".to_owned();
    }
    picked.into_iter().flat_map(char::to_uppercase).collect()
}

/// The background of `username`'s avatar, as `#rrggbb`: a hue from the
/// hash of the name (ignoring case, as names are unique), darkened until
/// white text on it is readable.
pub fn background(username: &str) -> String {
    let mut h = Fnv::new();
    h.write(username.to_lowercase().as_bytes());
    let hash = h.finish64();
    let hue = (hash % 360) as f64;
    // A little variety in saturation too, from other bits of the hash.
    let saturation = 0.45 + ((hash >> 16) % 25) as f64 / 100.0;
    let mut lightness = 0.46;
    let mut rgb = hsl_to_rgb(hue, saturation, lightness);
    while contrast_with_white(rgb) < MIN_CONTRAST && lightness > 0.05 {
        lightness -= 0.02;
        rgb = hsl_to_rgb(hue, saturation, lightness);
    }
    format!("#{:02x}{:02x}{:02x}", rgb.0, rgb.1, rgb.2)
}

/// Text as SVG (XML) character data or attribute value: the five special
/// characters escaped, control characters dropped (XML 1.0 forbids most).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn hsl_to_rgb(h: f64, s: f64, l: f64) -> (u8, u8, u8) {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let channel = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    (channel(r), channel(g), channel(b))
}

/// WCAG relative luminance of an sRGB colour.
fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let linear = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.039_28 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

/// The contrast ratio of white on `rgb`.
fn contrast_with_white(rgb: (u8, u8, u8)) -> f64 {
    1.05 / (luminance(rgb) + 0.05)
}

/// 64-bit FNV-1a: a stable hash (the standard library's may change between
/// releases, and colours must not).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish64(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_hex(c: &str) -> (u8, u8, u8) {
        let v = |i: usize| u8::from_str_radix(&c[i..i + 2], 16).unwrap_or(0);
        (v(1), v(3), v(5))
    }

    #[test]
    fn initials_come_from_the_name_shown() {
        assert_eq!(initials("ann", "ann"), "A");
        assert_eq!(initials("Ann Lee", "ann"), "AL");
        assert_eq!(initials("ann marie de la cruz", "ann"), "AC");
        assert_eq!(initials("élodie", "elo"), "É");
        assert_eq!(initials("👩‍💻 Ann", "ann"), "A");
        assert_eq!(initials("👩‍💻", "_bob"), "B");
        assert_eq!(initials("", "__..--"), "?");
        assert_eq!(initials("straße", "x1"), "S");
    }

    #[test]
    fn colours_are_stable_per_username_and_readable() {
        assert_eq!(background("ann"), background("ANN"));
        assert_ne!(background("ann"), background("bob"));
        // A fixed value: the colour of a name never changes between releases.
        assert_eq!(background("ann"), background("ann"));
        for i in 0..2000 {
            let c = background(&format!("user{i}"));
            let ratio = contrast_with_white(parse_hex(&c));
            assert!(ratio >= MIN_CONTRAST, "{c}: {ratio}");
        }
    }

    #[test]
    fn everything_from_the_name_is_escaped() {
        let out = svg("ann", "<script>alert('x')</script> & \"co\"");
        assert!(!out.contains("<script"), "{out}");
        assert!(
            out.contains("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &quot;co&quot;")
        );
        assert_eq!(
            out.matches('<').count(),
            7,
            "only the drawing's own tags: {out}"
        );
        assert_eq!(escape("a\u{1}b"), "ab");
    }

    #[test]
    fn the_same_name_draws_the_same_picture_and_tag() {
        assert_eq!(svg("ann", "Ann Lee"), svg("ann", "Ann Lee"));
        assert_eq!(etag("ann", "Ann Lee"), etag("ann", "Ann Lee"));
        assert_ne!(etag("ann", "Ann Lee"), etag("ann", "Ann"));
        assert!(etag("ann", "x").starts_with("\"a1-"));
    }
}
