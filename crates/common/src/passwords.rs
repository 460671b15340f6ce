//! Whether a new password is too easy to guess: on a list of leaked
//! passwords attackers try first (shipped in `data/`), or scored weak by
//! zxcvbn. Both cost CPU (the list is unpacked at first use, zxcvbn walks
//! its dictionaries): call [`PasswordPolicy::check`] off the executor.

use std::sync::LazyLock;

use crate::error::{Code, Error, Result};

/// The list, lower-cased, 6 characters or more, sorted (see `data/README.md`).
const COMMON_GZ: &[u8] = include_bytes!("../data/common-passwords.txt.gz");

/// zxcvbn slows down sharply on long input; this many characters decide.
const SCORED_CHARS: usize = 64;

/// Entries shorter than this are not matched against a password's core
/// (its letters without the digits and symbols around them): "Password1!"
/// is "password", but "2024love!" is not refused for "love".
const MIN_CORE_CHARS: usize = 6;

/// What a new password must be: the settings `PASSWORD_MIN_LENGTH` and
/// `PASSWORD_MIN_SCORE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (at least 8, NIST SP 800-63B).
    pub min_length: usize,
    /// Lowest zxcvbn score (0-4) accepted.
    pub min_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            min_score: 3,
        }
    }
}

impl PasswordPolicy {
    /// Refuses a password that is short, common, or weak given what else the
    /// account is called (`user_inputs`: its username and e-mail).
    pub fn check(&self, password: &str, user_inputs: &[&str]) -> Result<()> {
        if password.chars().count() < self.min_length {
            return Err(Error::invalid(
                "password",
                Code::PasswordLength,
                format!(
                    "A password is at least {} characters long.",
                    self.min_length
                ),
            ));
        }
        if is_common(password) {
            return Err(Error::invalid(
                "password",
                Code::PasswordCommon,
                "This password is on a list of leaked passwords that attackers try first. \
                 Choose another.",
            ));
        }
        let scored: String = password.chars().take(SCORED_CHARS).collect();
        let entropy = zxcvbn::zxcvbn(&scored, user_inputs);
        if u8::from(entropy.score()) < self.min_score {
            let why = entropy
                .feedback()
                .and_then(|f| f.warning())
                .map_or_else(String::new, |w| format!(" {w}."));
            return Err(Error::invalid(
                "password",
                Code::PasswordWeak,
                format!(
                    "This password is easy to guess.{why} A few unrelated words make a strong one."
                ),
            ));
        }
        Ok(())
    }
}

/// On the list as typed (ignoring case), or by its core.
fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    if COMMON.contains(&lower) {
        return true;
    }
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    core.len() != lower.len() && core.chars().count() >= MIN_CORE_CHARS && COMMON.contains(core)
}

static COMMON: LazyLock<SortedLines> = LazyLock::new(SortedLines::unpack);

/// The list as one string and the start of each line: about 4 MB, where a
/// set of 371,035 strings would take several times that.
struct SortedLines {
    text: String,
    starts: Vec<u32>,
}

impl SortedLines {
    fn unpack() -> Self {
        use std::io::Read;
        let mut text = String::new();
        if let Err(e) = flate2::read::GzDecoder::new(COMMON_GZ).read_to_string(&mut text) {
            // Compiled in and tested: only a broken build gets here.
            tracing::error!(error = %e, "the common-password list does not unpack");
            text.clear();
        }
        let mut starts = Vec::with_capacity(text.len() / 9);
        let mut at = 0;
        for line in text.split_inclusive('\n') {
            starts.push(at as u32);
            at += line.len();
        }
        Self { text, starts }
    }

    fn line(&self, i: usize) -> &str {
        let start = self.starts[i] as usize;
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.text.len(), |&s| s as usize);
        self.text[start..end].trim_end_matches('\n')
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    fn contains(&self, s: &str) -> bool {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.line(mid).cmp(s) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(policy: PasswordPolicy, password: &str) -> Error {
        match policy.check(password, &[]) {
            Ok(()) => panic!("{password} passed"),
            Err(e) => e,
        }
    }

    fn code(password: &str, inputs: &[&str]) -> &'static str {
        match PasswordPolicy::default().check(password, inputs) {
            Ok(()) => "ok",
            Err(e) => e.code().map_or("other", |c| c.as_str()),
        }
    }

    #[test]
    fn the_shipped_list_unpacks_whole_and_sorted() {
        assert_eq!(COMMON.len(), 371_035);
        assert!((1..COMMON.len()).all(|i| COMMON.line(i - 1) < COMMON.line(i)));
        assert!(COMMON.contains("password") && COMMON.contains("12345678"));
        assert!(!COMMON.contains("correct horse"));
    }

    #[test]
    fn common_passwords_are_refused_by_their_text_or_core() {
        assert_eq!(code("12345678", &[]), "password_common");
        assert_eq!(code("Password123", &[]), "password_common");
        assert_eq!(code("PASSWORD", &[]), "password_common");
        assert_eq!(code("!!Dragon2024", &[]), "password_common");
        assert_eq!(code("iloveyou", &[]), "password_common");
    }

    #[test]
    fn weak_passwords_are_refused_with_zxcvbns_reason() {
        assert_eq!(code("xkxkxkxkxkxk", &[]), "password_weak");
        assert_eq!(
            code("zebulon.q", &["zebulon.q", "z@example.com"]),
            "password_weak"
        );
        let e = refusal(PasswordPolicy::default(), "xkxkxkxkxkxk");
        assert!(e.to_string().contains("Repeats"), "{e}");
    }

    #[test]
    fn strong_passwords_pass() {
        assert_eq!(code("correct horse", &[]), "ok");
        assert_eq!(code("violet tractor ninety", &[]), "ok");
    }

    #[test]
    fn the_minimum_length_is_a_setting() {
        let policy = PasswordPolicy {
            min_length: 16,
            min_score: 0,
        };
        let e = refusal(policy, "correct horse");
        assert_eq!(e.code(), Some(Code::PasswordLength));
        assert!(e.to_string().contains("16"));
        assert!(policy.check("correct horse battery", &[]).is_ok());
    }

    #[test]
    fn the_minimum_score_is_a_setting() {
        let lax = PasswordPolicy {
            min_length: 8,
            min_score: 0,
        };
        assert!(lax.check("xkxkxkxkxkxk", &[]).is_ok());
    }
}
