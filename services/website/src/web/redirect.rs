//! Where a `next` parameter may send the browser: only to a path of this
//! site, never to another host (open-redirect protection).

/// `raw` if it is a same-site path, like `/rooms/7?x=1`; `None` otherwise
/// (absolute URLs, `//host`, `/\host`, control characters, over 512 bytes).
pub fn safe_next(raw: &str) -> Option<String> {
    let ok = raw.starts_with('/')
        && !raw.starts_with("//")
        && raw.len() <= 512
        && !raw.contains('\\')
        && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then(|| raw.to_owned())
}

/// Percent-encodes a query component (keeps `/` readable).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_site_paths_are_safe() {
        assert_eq!(safe_next("/rooms/7?x=1").as_deref(), Some("/rooms/7?x=1"));
        assert_eq!(safe_next("/").as_deref(), Some("/"));
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil",
            "evil.example",
            "/rooms\n",
            "/a b",
            "",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
        assert_eq!(safe_next(&format!("/{}", "a".repeat(600))), None);
    }

    #[test]
    fn components_are_encoded() {
        assert_eq!(encode_component("/rooms?q=a b&c"), "/rooms%3Fq%3Da%20b%26c");
    }
}
