//! Server-sent events, as far as chat completions use them: the `data` of
//! each event, in order. Lines end in `\n`, `\r\n` or `\r` (also when split
//! across chunks); `data:` lines of one event are joined with `\n`; comments
//! (`:`) and other fields (`event`, `id`, `retry`) are ignored. Our own ~60
//! lines rather than `eventsource-stream` (unmaintained since 2022, pulls
//! in `nom`), and with a size limit it lacks.

/// The longest line or event accepted; a provider sending more without a
/// line end is not speaking SSE.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Turns bytes, as they arrive, into the `data` of complete events.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Option<String>,
    after_cr: bool,
}

impl SseParser {
    /// Feeds `bytes`, appending the data of every event they complete to
    /// `events`. An error (a line too long, not UTF-8) leaves the events
    /// found before it in `events`.
    pub fn feed(&mut self, bytes: &[u8], events: &mut Vec<String>) -> Result<(), String> {
        for &byte in bytes {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\n' => self.end_line(events)?,
                b'\r' => {
                    self.end_line(events)?;
                    self.after_cr = true;
                }
                _ if self.line.len() >= MAX_EVENT_BYTES => {
                    return Err(format!(
                        "an event line is longer than {MAX_EVENT_BYTES} bytes"
                    ));
                }
                _ => self.line.push(byte),
            }
        }
        Ok(())
    }

    fn end_line(&mut self, events: &mut Vec<String>) -> Result<(), String> {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            if let Some(data) = self.data.take().filter(|d| !d.is_empty()) {
                events.push(data);
            }
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let line = String::from_utf8(line).map_err(|_| "an event line is not UTF-8".to_owned())?;
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        if field == "data" {
            let data = self.data.get_or_insert_with(String::new);
            if data.len() + value.len() >= MAX_EVENT_BYTES {
                return Err(format!("an event is longer than {MAX_EVENT_BYTES} bytes"));
            }
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Vec<String> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in chunks {
            if let Err(e) = parser.feed(chunk, &mut events) {
                panic!("{e}");
            }
        }
        events
    }

    #[test]
    fn events_end_at_blank_lines_in_any_line_ending() {
        assert_eq!(
            parse(&[b"data: a\n\ndata: b\r\n\r\ndata:c\r\rdata: d"]),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn chunks_may_split_anywhere_even_a_crlf_or_a_character() {
        let whole = "data: é1\r\n\r\ndata: 2\r\n\r\n".as_bytes();
        for cut in 0..whole.len() {
            assert_eq!(
                parse(&[&whole[..cut], &whole[cut..]]),
                ["é1", "2"],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn multi_line_data_comments_and_other_fields() {
        let events =
            parse(&[b": keep-alive\n\nevent: x\nid: 7\ndata: one\ndata:  two\nretry: 5\n\n"]);
        assert_eq!(events, ["one\n two"]);
    }

    #[test]
    fn empty_data_is_no_event() {
        assert_eq!(parse(&[b"data:\n\n\n\ndata: [DONE]\n\n"]), ["[DONE]"]);
    }

    #[test]
    fn an_endless_line_is_an_error() {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        let long = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert!(parser.feed(&long, &mut events).is_err());
    }
}
