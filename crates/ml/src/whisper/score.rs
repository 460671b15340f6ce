//! How a transcript is scored against what was said: the word error rate,
//! after the normalisation speech-recognition papers use (case,
//! punctuation, and numbers up to twenty as words, so "10" is "ten").
//! Shared by the tests of the model and of the worker, and by measurements.

const NUMBERS: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

/// The words of `text` as they are compared: lower case, no punctuation,
/// numbers as words.
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .map(|w| match w.parse::<usize>() {
            Ok(n) if n < NUMBERS.len() => NUMBERS[n].to_owned(),
            _ => w,
        })
        .collect()
}

/// Word-level Levenshtein distance: substitutions, insertions, deletions.
pub fn edits(reference: &[String], hypothesis: &[String]) -> usize {
    let mut row: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, h) in hypothesis.iter().enumerate() {
            let substitution = diagonal + usize::from(r != h);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[hypothesis.len()]
}

/// The edits from `reference` to `heard` over the reference's words.
pub fn word_error_rate(reference: &str, heard: &str) -> f64 {
    let (r, h) = (words(reference), words(heard));
    edits(&r, &h) as f64 / r.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_edits_count_right() {
        let w = |s: &str| words(s);
        assert_eq!(w("At 10, in the Morning!"), w("at ten in the morning"));
        assert_eq!(edits(&w("a b c d"), &w("a b c d")), 0);
        assert_eq!(edits(&w("a b c d"), &w("a x c")), 2);
        assert_eq!(edits(&w("a b"), &w("")), 2);
        assert_eq!(edits(&w(""), &w("a b c")), 3);
        assert_eq!(edits(&w("the cat sat"), &w("cat sat on")), 2);
        assert!((word_error_rate("a b c d", "a x c") - 0.5).abs() < 1e-9);
        assert_eq!(word_error_rate("Thursday at ten.", "thursday at 10"), 0.0);
    }
}
