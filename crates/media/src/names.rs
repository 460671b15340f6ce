//! A file name fit to show and to put in `Content-Disposition`: no path,
//! nothing invisible, nothing that reorders text, not too long.

use crate::MediaError;

/// The longest name kept, in characters (the extension is kept whole).
pub const MAX_NAME_CHARS: usize = 120;

/// The longest extension kept whole when a name is shortened (longer
/// "extensions" are just part of the name).
const MAX_EXT_CHARS: usize = 16;

/// The name to show and to send back in `Content-Disposition` for what a
/// client called a file: only the last path component (a browser or a
/// script may send `C:\Users\me\x.png` or `../../etc/passwd`); without
/// control characters and invisible or direction-changing characters
/// (U+202E makes `exe.png` of `gnp.exe`); trimmed; at most
/// [`MAX_NAME_CHARS`] characters with the extension kept. A name that is
/// empty or only dots after this is refused. The caller still encodes it
/// for the header (RFC 6266 `filename*`).
pub fn safe_file_name(raw: &str) -> Result<String, MediaError> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|&c| !is_hidden(c)).collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        return Err(MediaError::BadFileName("is empty"));
    }
    if trimmed.chars().all(|c| c == '.') {
        return Err(MediaError::BadFileName("is only dots"));
    }
    Ok(shorten(trimmed))
}

/// Characters that do not show, or change how the rest shows: controls
/// (C0, DEL, C1), bidirectional embeddings, overrides and isolates,
/// zero-width characters and the byte-order mark.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

fn shorten(name: &str) -> String {
    if name.chars().count() <= MAX_NAME_CHARS {
        return name.to_owned();
    }
    let ext = name
        .rsplit_once('.')
        .map(|(stem, ext)| (stem, ext.chars().count()))
        .filter(|(stem, len)| !stem.is_empty() && *len <= MAX_EXT_CHARS)
        .map(|(stem, _)| &name[stem.len()..]);
    match ext {
        Some(ext) => {
            let keep = MAX_NAME_CHARS - ext.chars().count();
            let stem: String = name.chars().take(keep).collect();
            format!("{}{ext}", stem.trim_end())
        }
        None => name
            .chars()
            .take(MAX_NAME_CHARS)
            .collect::<String>()
            .trim_end()
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        match safe_file_name(raw) {
            Ok(name) => name,
            Err(e) => panic!("{raw:?} refused: {e}"),
        }
    }

    #[test]
    fn keeps_the_last_path_component_of_either_separator() {
        assert_eq!(ok("../../etc/passwd"), "passwd");
        assert_eq!(ok(r"C:\Users\me\Desktop\cat.png"), "cat.png");
        assert_eq!(ok(r"a/b\c/d.txt"), "d.txt");
        assert_eq!(ok("report.pdf"), "report.pdf");
        assert_eq!(ok(".bashrc"), ".bashrc");
    }

    #[test]
    fn drops_controls_and_bidi_tricks() {
        assert_eq!(ok("invoice\u{202E}gnp.exe"), "invoicegnp.exe");
        assert_eq!(ok("a\u{0}b\r\n\tc.txt"), "abc.txt");
        assert_eq!(ok("\u{FEFF}\u{200B}note\u{2066}.md\u{2069}"), "note.md");
        assert_eq!(ok("x\u{7F}\u{85}y"), "xy");
        assert_eq!(ok("  spaced out.txt  "), "spaced out.txt");
        assert_eq!(ok("Привет мир.txt"), "Привет мир.txt");
        assert_eq!(ok("😀.png"), "😀.png");
    }

    #[test]
    fn refuses_empty_and_dot_names() {
        for raw in [
            "",
            "   ",
            ".",
            "..",
            "...",
            "dir/",
            "a/..",
            "\u{202E}",
            "\u{0}\u{1}",
            r"x\.",
        ] {
            match safe_file_name(raw) {
                Err(e) => assert_eq!(e.status_hint(), 422, "{raw:?}"),
                Ok(name) => panic!("{raw:?} became {name:?}"),
            }
        }
    }

    #[test]
    fn long_names_keep_their_extension() {
        let long = format!("{}.jpeg", "a".repeat(300));
        let short = ok(&long);
        assert_eq!(short.chars().count(), MAX_NAME_CHARS);
        assert!(short.ends_with("a.jpeg"), "{short}");
        let multibyte = format!("{}.txt", "é".repeat(200));
        let short = ok(&multibyte);
        assert_eq!(short.chars().count(), MAX_NAME_CHARS);
        assert!(short.ends_with(".txt"));
        let no_ext = "b".repeat(500);
        assert_eq!(ok(&no_ext).chars().count(), MAX_NAME_CHARS);
        let silly_ext = format!("x.{}", "y".repeat(300));
        assert_eq!(ok(&silly_ext).chars().count(), MAX_NAME_CHARS);
    }
}
