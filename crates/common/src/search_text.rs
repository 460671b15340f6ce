//! What a message search query asks for, and how a hit is shown: the
//! parts of words to find inside others (Postgres's `websearch_to_tsquery`
//! reads the whole-word side itself), and a snippet of the message with
//! the words found marked, as safe HTML.

/// The most characters a search query may have.
pub const MAX_QUERY_CHARS: usize = 256;

/// Characters of a snippet, around the first match.
pub const SNIPPET_CHARS: usize = 200;

/// What the searcher typed, read for matching inside words and marking.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Terms {
    /// Every one must appear inside the text (partial words, URLs, ids):
    /// the query's words and quoted phrases, not the excluded ones. Empty
    /// when the query has `or` (parts of words then match nothing).
    pub parts: Vec<String>,
    /// Words and phrases left out (`-word`): no part-of-word match holds
    /// them either.
    pub excluded: Vec<String>,
    /// What to mark in a snippet: every word or phrase asked for.
    pub marks: Vec<String>,
}

/// Reads a query the way `websearch_to_tsquery` does: `"a phrase"`,
/// `-excluded`, `or` between alternatives, other words all required.
pub fn terms(query: &str) -> Terms {
    let mut t = Terms::default();
    let mut has_or = false;
    let mut rest = query.trim();
    while !rest.is_empty() {
        let (excluded, after) = match rest.strip_prefix('-') {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let (term, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(char::is_whitespace) {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        rest = next.trim_start();
        let term = term.trim();
        if term.is_empty() {
            continue;
        }
        if excluded {
            t.excluded.push(term.to_lowercase());
            continue;
        }
        if term.eq_ignore_ascii_case("or") {
            has_or = true;
            continue;
        }
        let term = term.to_lowercase();
        if !t.marks.contains(&term) {
            t.marks.push(term.clone());
            t.parts.push(term);
        }
    }
    if has_or {
        t.parts.clear();
    }
    t
}

/// A snippet of `text` (plain text) of about [`SNIPPET_CHARS`] characters
/// around the first of `marks` found (ignoring case), with every mark
/// found inside it wrapped in `<mark>`; everything else HTML-escaped.
pub fn snippet(text: &str, marks: &[String]) -> String {
    let (lower, origin) = lowered(text);
    let mut found: Vec<(usize, usize)> = Vec::new();
    for mark in marks.iter().filter(|m| !m.is_empty()) {
        let mut from = 0;
        while let Some(at) = lower[from..].find(mark.as_str()) {
            let start = from + at;
            let end = start + mark.len();
            found.push((origin[start], origin_end(&origin, end, text.len())));
            from = end;
        }
    }
    found.sort_unstable();
    // Overlapping or touching marks become one.
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in found {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let (from, to) = window(text, merged.first().map(|m| m.0));
    let mut out = String::with_capacity(to - from + 32);
    if from > 0 {
        out.push('…');
    }
    let mut at = from;
    for (s, e) in merged.into_iter().filter(|(s, e)| *s >= from && *e <= to) {
        escape_into(&mut out, &text[at..s]);
        out.push_str("<mark>");
        escape_into(&mut out, &text[s..e]);
        out.push_str("</mark>");
        at = e;
    }
    escape_into(&mut out, &text[at..to]);
    if to < text.len() {
        out.push('…');
    }
    out
}

/// `text` lowercased, with the byte offset in `text` of each byte of it
/// (a character may lowercase to more bytes).
fn lowered(text: &str) -> (String, Vec<usize>) {
    let mut lower = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        for l in c.to_lowercase() {
            let before = lower.len();
            lower.push(l);
            origin.extend(std::iter::repeat_n(i, lower.len() - before));
        }
    }
    (lower, origin)
}

/// The offset in the original text where a match ending at `end` of the
/// lowered text ends.
fn origin_end(origin: &[usize], end: usize, len: usize) -> usize {
    match origin.get(end) {
        Some(o) => *o,
        None => len,
    }
}

/// The byte range of about [`SNIPPET_CHARS`] characters to show: starting
/// a little before `first` (a word boundary when one is near).
fn window(text: &str, first: Option<usize>) -> (usize, usize) {
    let lead = SNIPPET_CHARS / 4;
    let start = match first {
        Some(first) => {
            let before: Vec<(usize, char)> = text[..first].char_indices().collect();
            if before.len() <= lead {
                0
            } else {
                let mut s = before[before.len() - lead].0;
                if let Some(space) = text[s..first].find(char::is_whitespace) {
                    s += space + 1;
                }
                s
            }
        }
        None => 0,
    };
    let end = text[start..]
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(text.len(), |(i, _)| start + i);
    (start, end)
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// The constant of reciprocal-rank fusion (Cormack et al.): a hit's score
/// is the sum over rankings of 1 / (K + its position).
const RRF_K: f64 = 60.0;

/// Reciprocal-rank fusion of rankings of message ids (best first), so the
/// search page and the assistant rank words and meaning the same way: each
/// id scores the sum over the rankings of 1 / (K + its position); best
/// first, then newest.
pub fn fuse(rankings: &[Vec<i64>]) -> Vec<(i64, f64)> {
    let mut scores: std::collections::HashMap<i64, f64> = std::collections::HashMap::new();
    for ranking in rankings {
        for (i, id) in ranking.iter().enumerate() {
            *scores.entry(*id).or_default() += 1.0 / (RRF_K + i as f64 + 1.0);
        }
    }
    let mut ranked: Vec<(i64, f64)> = scores.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_favours_what_both_rankings_found() {
        let fused = fuse(&[vec![1, 2, 3], vec![3, 4]]);
        let order: Vec<i64> = fused.iter().map(|(id, _)| *id).collect();
        assert_eq!(order, vec![3, 1, 4, 2]);
    }

    fn parts(q: &str) -> Vec<String> {
        terms(q).parts
    }

    #[test]
    fn queries_read_like_websearch() {
        assert_eq!(parts("Deploy  tonight"), vec!["deploy", "tonight"]);
        assert_eq!(parts("\"at noon\" -lunch"), vec!["at noon"]);
        assert_eq!(terms("a -b -\"c d\"").excluded, vec!["b", "c d"]);
        assert_eq!(parts("example.com/docs"), vec!["example.com/docs"]);
        assert_eq!(parts("INC-2041"), vec!["inc-2041"]);
        assert_eq!(parts("a or b"), Vec::<String>::new());
        assert_eq!(terms("a or b").marks, vec!["a", "b"]);
        assert_eq!(parts("\"unclosed phrase"), vec!["unclosed phrase"]);
        assert_eq!(parts("  -  \"\" "), Vec::<String>::new());
        assert_eq!(parts("Привет мир"), vec!["привет", "мир"]);
    }

    #[test]
    fn snippets_mark_matches_and_escape_the_rest() {
        let marks = vec!["deploy".to_owned()];
        assert_eq!(
            snippet("<b>Redeploying</b> & DEPLOY", &marks),
            "&lt;b&gt;Re<mark>deploy</mark>ing&lt;/b&gt; &amp; <mark>DEPLOY</mark>"
        );
        assert_eq!(
            snippet("<script>x</script>", &[]),
            "&lt;script&gt;x&lt;/script&gt;"
        );
        let cyrillic = vec!["привет".to_owned()];
        assert_eq!(
            snippet("ПРИВЕТ, мир", &cyrillic),
            "<mark>ПРИВЕТ</mark>, мир"
        );
    }

    #[test]
    fn a_long_text_is_cut_around_the_first_match() {
        let text = format!("{} needle {}", "word ".repeat(100), "tail ".repeat(100));
        let s = snippet(&text, &["needle".to_owned()]);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>needle</mark>"), "{s}");
        assert!(s.chars().count() < SNIPPET_CHARS + 30, "{s}");
    }

    #[test]
    fn overlapping_marks_merge() {
        let marks = vec!["abc".to_owned(), "bcd".to_owned()];
        assert_eq!(snippet("xabcdy", &marks), "x<mark>abcd</mark>y");
    }
}
