//! A message body's Markdown source rendered to the safe HTML of protocol.md
//! ("Room events"): paragraphs, emphasis, strong, strike, inline code, code
//! blocks, block quotes, lists, http/https/mailto links (autolinked bare URLs
//! included) and `@username` mentions of existing users.
//!
//! Two layers, so that a gap in one is not a hole: comrak parses, and a pass
//! over its syntax tree keeps only the subset (raw HTML becomes text, a
//! heading or thematic break becomes a paragraph of its text, an image a
//! link, a link with any other scheme its bare text); ammonia then sanitizes
//! the HTML against a strict allowlist, so no script, event handler, style or
//! foreign element gets through whatever the first layer emits.
//!
//! Mentions take two steps so a caller can look the names up in between:
//! [`mention_candidates`], then [`render`] with the users found.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::LazyLock;

use comrak::arena_tree::NodeEdge;
use comrak::nodes::{AstNode, NodeValue};
use comrak::{Arena, Options};

use crate::domain::Username;

/// At most this many distinct names are looked up for one message.
pub const MAX_MENTIONS: usize = 50;

/// The `rel` of every link, so none passes on referrer, opener or ranking.
pub const LINK_REL: &str = "nofollow noopener noreferrer";

/// A message's rendering: what goes in `html` and `mentions` on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// Sanitized HTML of the safe subset.
    pub html: String,
    /// Distinct ids of the users mentioned, in order of first appearance.
    pub mentions: Vec<i64>,
}

/// Parser and renderer settings, built once: GFM strikethrough and bare-URL
/// autolinks; tables, footnotes and the rest stay off (their text shows as
/// written). A newline is a line break, as people expect in a chat.
static OPTIONS: LazyLock<Options<'static>> = LazyLock::new(|| {
    let mut options = Options::default();
    options.extension.strikethrough = true;
    options.extension.autolink = true;
    options.render.hardbreaks = true;
    options
});

/// The tags of the subset: all ammonia lets through.
const TAGS: [&str; 12] = [
    "p",
    "br",
    "em",
    "strong",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
];

/// The attributes that may appear in the output (`rel` and `class` are
/// ammonia's own: set on every link, and limited to `mention`).
const ATTRIBUTES: [&str; 6] = ["href", "title", "data-user", "start", "rel", "class"];

/// The sanitizer, built once (building it costs more than a message).
static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(HashSet::from(TAGS))
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href", "title", "data-user"])),
            ("ol", HashSet::from(["start"])),
        ]))
        .generic_attributes(HashSet::new())
        .allowed_classes(HashMap::from([("a", HashSet::from(["mention"]))]))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(ammonia::UrlRelative::Custom(Box::new(internal_path)))
        .attribute_filter(filter_attribute)
        .link_rel(Some(LINK_REL))
        .strip_comments(true);
    builder
});

/// The only relative URLs allowed: a mention's `/users/{username}`, and a
/// link to a message, `/rooms/{id}?at={seq}#m{seq}` (the assistant's
/// citations, links people paste from search).
fn internal_path(url: &str) -> Option<Cow<'_, str>> {
    let profile = url.strip_prefix("/users/").is_some_and(is_username);
    (profile || is_message_path(url)).then_some(Cow::Borrowed(url))
}

/// `/rooms/{id}?at={seq}#m{seq}`, digits only.
fn is_message_path(url: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
    let Some(rest) = url.strip_prefix("/rooms/") else {
        return false;
    };
    let Some((room, rest)) = rest.split_once("?at=") else {
        return false;
    };
    let Some((at, anchor)) = rest.split_once("#m") else {
        return false;
    };
    digits(room) && digits(at) && at == anchor
}

/// `data-user` holds a user id, nothing else.
fn filter_attribute<'u>(_element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    if attribute == "data-user" && (value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(Cow::Borrowed(value))
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// A Parley username as a mention can name it: 3..=32 of `[A-Za-z0-9_.-]`,
/// not ending with `.` (a sentence's full stop).
fn is_username(name: &str) -> bool {
    (Username::MIN..=Username::MAX).contains(&name.len())
        && name.bytes().all(is_name_byte)
        && !name.ends_with('.')
}

/// The distinct lower-cased names `@mentioned` in `source` outside code and
/// link text, in order of first appearance, at most [`MAX_MENTIONS`]: the
/// names to look up before calling [`render`].
pub fn mention_candidates(source: &str) -> Vec<String> {
    if !source.contains('@') {
        return Vec::new();
    }
    let arena = Arena::new();
    let root = parse(&arena, source);
    let mut names: Vec<String> = Vec::new();
    for node in mentionable_texts(root) {
        let ast = node.data();
        let NodeValue::Text(text) = &ast.value else {
            continue;
        };
        for span in scan_mentions(text, char_before(node)) {
            let name = text[span.start + 1..span.end].to_ascii_lowercase();
            if !names.contains(&name) {
                names.push(name);
                if names.len() == MAX_MENTIONS {
                    return names;
                }
            }
        }
    }
    names
}

/// Renders `source` to the safe subset. `users` maps each lower-cased name of
/// [`mention_candidates`] that exists to `(id, username)`; those become
/// `<a class="mention" href="/users/{username}" data-user="{id}">@{username}</a>`,
/// any other `@name` stays text.
pub fn render(source: &str, users: &HashMap<String, (i64, String)>) -> Rendered {
    if let Some(html) = plain_paragraph(source) {
        return Rendered {
            html,
            mentions: Vec::new(),
        };
    }
    let arena = Arena::new();
    let root = parse(&arena, source);
    let mut mentions = Vec::new();
    if !users.is_empty() && source.contains('@') {
        link_mentions(&arena, root, users, &mut mentions);
    }
    let mut html = String::with_capacity(source.len() + source.len() / 2 + 16);
    if comrak::format_html(root, &OPTIONS, &mut html).is_err() {
        // Writing to a String cannot fail; show nothing rather than half.
        html.clear();
    }
    let mut html = SANITIZER.clean(&html).to_string();
    html.truncate(html.trim_end().len());
    Rendered { html, mentions }
}

/// Most chat messages are a line of plain words, which both layers would
/// turn into exactly `<p>` + the text + `</p>`: that is written directly,
/// skipping a parse and a sanitization per message. Only text no Markdown
/// rule, autolink or mention can touch qualifies: one line of ASCII letters,
/// digits, spaces and harmless punctuation, starting with a letter (no
/// list, heading or code block), not ending in a space, with no `www.`.
/// A test checks the equality against the full path.
fn plain_paragraph(source: &str) -> Option<String> {
    const PUNCTUATION: &[u8] = b" ,.;?!='%$+-/";
    let bytes = source.as_bytes();
    let safe = bytes.first()?.is_ascii_alphabetic()
        && !bytes.last()?.is_ascii_whitespace()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || PUNCTUATION.contains(b))
        && !bytes.windows(4).any(|w| w.eq_ignore_ascii_case(b"www."));
    safe.then(|| format!("<p>{source}</p>"))
}

/// What a quote of a message says: its [`excerpt`], or, for a message of
/// files alone (the only live message without text), that it sent files.
pub fn quote_of(body: &str, max_chars: usize) -> String {
    if body.trim().is_empty() {
        return FILES_ONLY.to_owned();
    }
    excerpt(body, max_chars)
}

/// The quote of a message that is files alone.
pub const FILES_ONLY: &str = "📎 Attachment";

/// A plain-text, one-line excerpt of `source` (for reply quotes): the text
/// the Markdown shows, markers dropped, whitespace collapsed, at most
/// `max_chars` characters including a final `…` when cut.
pub fn excerpt(source: &str, max_chars: usize) -> String {
    let mut out = Excerpt {
        text: String::with_capacity(source.len().min(max_chars.saturating_mul(4)) + 4),
        chars: 0,
        limit: max_chars.saturating_add(1),
        space: false,
    };
    if max_chars == 0 {
        return out.text;
    }
    let arena = Arena::new();
    let root = comrak::parse_document(&arena, source, &OPTIONS);
    for edge in root.traverse() {
        if out.chars >= out.limit {
            break;
        }
        match edge {
            NodeEdge::Start(node) => match &node.data().value {
                NodeValue::Text(t) => out.push(t),
                NodeValue::Code(c) => out.push(&c.literal),
                NodeValue::HtmlInline(t) => out.push(t),
                NodeValue::CodeBlock(c) => out.push(&c.literal),
                NodeValue::HtmlBlock(h) => out.push(&h.literal),
                NodeValue::SoftBreak | NodeValue::LineBreak | NodeValue::ThematicBreak => {
                    out.space = true;
                }
                _ => {}
            },
            NodeEdge::End(node) => {
                if node.data().value.block() {
                    out.space = true;
                }
            }
        }
    }
    if out.chars > max_chars {
        let keep = out
            .text
            .char_indices()
            .nth(max_chars - 1)
            .map_or(out.text.len(), |(i, _)| i);
        out.text.truncate(keep);
        out.text.truncate(out.text.trim_end().len());
        out.text.push('…');
    }
    out.text
}

/// Collects text for [`excerpt`], collapsing whitespace and stopping one
/// character past the limit (so it knows whether to cut).
struct Excerpt {
    text: String,
    chars: usize,
    limit: usize,
    space: bool,
}

impl Excerpt {
    fn push(&mut self, s: &str) {
        for c in s.chars() {
            if self.chars >= self.limit {
                return;
            }
            if c.is_whitespace() || c.is_control() {
                self.space = true;
                continue;
            }
            if self.space && self.chars > 0 {
                self.text.push(' ');
                self.chars += 1;
                if self.chars >= self.limit {
                    return;
                }
            }
            self.space = false;
            self.text.push(c);
            self.chars += 1;
        }
    }
}

/// Parses and reduces the tree to the subset (see the module comment).
fn parse<'a>(arena: &'a Arena<'a>, source: &str) -> &'a AstNode<'a> {
    let root = comrak::parse_document(arena, source, &OPTIONS);
    // Pre-order with depths, collected first: the pass moves and replaces
    // nodes.
    let mut nodes = Vec::new();
    let mut depth = 0usize;
    for edge in root.traverse() {
        match edge {
            NodeEdge::Start(node) => {
                nodes.push((node, depth));
                depth += 1;
            }
            NodeEdge::End(_) => depth = depth.saturating_sub(1),
        }
    }
    for (node, depth) in nodes {
        if too_deep(&node.data().value, depth) {
            unwrap(node);
        } else {
            restrict(arena, source, node);
        }
    }
    root
}

/// Containers nested deeper than this are flattened into their ancestor at
/// this depth: no chat message needs more, and html5ever (inside ammonia)
/// takes time quadratic in the depth (4,000 nested quotes: over a second).
const MAX_DEPTH: usize = 16;

/// Whether `value`, `depth` levels below the document, is a container to
/// flatten. A list goes one level earlier than its items, so an item is
/// never left in a list that was kept.
fn too_deep(value: &NodeValue, depth: usize) -> bool {
    match value {
        NodeValue::List(_) => depth >= MAX_DEPTH,
        NodeValue::BlockQuote
        | NodeValue::Item(_)
        | NodeValue::Emph
        | NodeValue::Strong
        | NodeValue::Strikethrough
        | NodeValue::Link(_) => depth > MAX_DEPTH,
        _ => false,
    }
}

/// Replaces a node with its children.
fn unwrap<'a>(node: &'a AstNode<'a>) {
    while let Some(child) = node.first_child() {
        node.insert_before(child);
    }
    node.detach();
}

fn new_node<'a>(arena: &'a Arena<'a>, value: NodeValue) -> &'a AstNode<'a> {
    arena.alloc(AstNode::from(value))
}

fn text_node<'a>(arena: &'a Arena<'a>, text: impl Into<Cow<'static, str>>) -> &'a AstNode<'a> {
    new_node(arena, NodeValue::Text(text.into()))
}

fn restrict<'a>(arena: &'a Arena<'a>, source: &str, node: &'a AstNode<'a>) {
    let mut ast = node.data_mut();
    match &mut ast.value {
        NodeValue::HtmlInline(literal) => {
            let literal = std::mem::take(literal);
            ast.value = NodeValue::Text(literal.into());
        }
        NodeValue::HtmlBlock(block) => {
            let literal = std::mem::take(&mut block.literal);
            ast.value = NodeValue::Paragraph;
            drop(ast);
            append_lines(arena, node, &literal);
        }
        NodeValue::Heading(heading) => {
            // `# hi` shows as `# hi`; a setext heading shows its text.
            let marker = (!heading.setext).then(|| {
                let mut m = "#".repeat(usize::from(heading.level));
                m.push(' ');
                m
            });
            ast.value = NodeValue::Paragraph;
            drop(ast);
            if let Some(marker) = marker {
                node.prepend(text_node(arena, marker));
            }
        }
        NodeValue::ThematicBreak => {
            let pos = ast.sourcepos;
            ast.value = NodeValue::Paragraph;
            drop(ast);
            let line = source.lines().nth(pos.start.line.saturating_sub(1));
            let text = line
                .and_then(|l| l.get(pos.start.column.saturating_sub(1)..pos.end.column))
                .or(line)
                .map_or("---", str::trim);
            node.append(text_node(arena, text.to_owned()));
        }
        NodeValue::CodeBlock(block) => {
            // The info string would become a `class`; highlighting is not ours.
            block.info.clear();
        }
        NodeValue::Image(link) => {
            let link = std::mem::take(link);
            drop(ast);
            let alt = flat_text(node);
            while let Some(child) = node.first_child() {
                child.detach();
            }
            if is_allowed_url(&link.url) {
                let label = if alt.trim().is_empty() {
                    link.url.clone()
                } else {
                    alt
                };
                node.data_mut().value = NodeValue::Link(link);
                node.append(text_node(arena, label));
            } else {
                node.data_mut().value = NodeValue::Text(alt.into());
            }
        }
        NodeValue::Link(link) if !is_allowed_url(&link.url) => {
            drop(ast);
            unwrap(node);
        }
        _ => {}
    }
}

/// Fills a paragraph with the lines of a raw HTML block, as text.
fn append_lines<'a>(arena: &'a Arena<'a>, paragraph: &'a AstNode<'a>, literal: &str) {
    for (i, line) in literal.trim_end().lines().enumerate() {
        if i > 0 {
            paragraph.append(new_node(arena, NodeValue::SoftBreak));
        }
        paragraph.append(text_node(arena, line.to_owned()));
    }
}

/// The text of a node's descendants (an image's alt text).
fn flat_text<'a>(node: &'a AstNode<'a>) -> String {
    let mut s = String::new();
    for d in node.descendants() {
        match &d.data().value {
            NodeValue::Text(t) => s.push_str(t),
            NodeValue::Code(c) => s.push_str(&c.literal),
            NodeValue::HtmlInline(t) => s.push_str(t),
            NodeValue::SoftBreak | NodeValue::LineBreak => s.push(' '),
            _ => {}
        }
    }
    s
}

/// Links keep only valid http, https and mailto URLs (checked on the decoded
/// URL, so `&#106;` and the like are already resolved, with the WHATWG parser
/// ammonia uses) and links to a message (`/rooms/{id}?at={seq}#m{seq}`);
/// anything else, other relative URLs included, keeps its text and loses
/// the link. Ammonia checks again.
fn is_allowed_url(url: &str) -> bool {
    is_message_path(url)
        || ammonia::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https" | "mailto"))
}

/// The text nodes where a mention counts: not in code (code is not a text
/// node) and not inside a link or an image.
fn mentionable_texts<'a>(root: &'a AstNode<'a>) -> impl Iterator<Item = &'a AstNode<'a>> {
    root.descendants().filter(|node| {
        matches!(node.data().value, NodeValue::Text(ref t) if t.contains('@'))
            && !node
                .ancestors()
                .any(|a| matches!(a.data().value, NodeValue::Link(_) | NodeValue::Image(_)))
    })
}

/// The last character of the text just before `node`, when that is text too
/// (comrak may split a run of text at `@`).
fn char_before<'a>(node: &'a AstNode<'a>) -> Option<char> {
    let prev = node.previous_sibling()?;
    let ast = prev.data();
    match &ast.value {
        NodeValue::Text(t) => t.chars().next_back(),
        _ => None,
    }
}

/// Byte ranges of `@name` mentions in `text` (from the `@` to the end of the
/// name). The `@` must not follow a word character, `.`, `-`, `/` or `@`
/// (so `ann@example.com` is no mention), and the name must not run on into
/// a letter, `@` or more name characters beyond 32; a trailing `.` is
/// punctuation, not part of the name.
fn scan_mentions(text: &str, before: Option<char>) -> impl Iterator<Item = Range<usize>> + '_ {
    let bytes = text.as_bytes();
    text.match_indices('@').filter_map(move |(at, _)| {
        let prev = match text.get(..at) {
            Some("") | None => before,
            Some(head) => head.chars().next_back(),
        };
        if prev.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | '@')) {
            return None;
        }
        let start = at + 1;
        let run = bytes
            .get(start..)?
            .iter()
            .take_while(|b| is_name_byte(**b))
            .count();
        let after = text.get(start + run..)?.chars().next();
        if after.is_some_and(|c| c.is_alphanumeric() || c == '@') {
            return None;
        }
        let name = text.get(start..start + run)?.trim_end_matches('.');
        is_username(name).then(|| at..start + name.len())
    })
}

/// Replaces each known `@name` in the mentionable text with a mention link.
fn link_mentions<'a>(
    arena: &'a Arena<'a>,
    root: &'a AstNode<'a>,
    users: &HashMap<String, (i64, String)>,
    mentions: &mut Vec<i64>,
) {
    let texts: Vec<_> = mentionable_texts(root).collect();
    for node in texts {
        let before = char_before(node);
        let text = match &node.data().value {
            NodeValue::Text(t) => t.to_string(),
            _ => continue,
        };
        let mut last = 0;
        let mut lower = String::new();
        for span in scan_mentions(&text, before) {
            let name = &text[span.start + 1..span.end];
            lower.clear();
            lower.push_str(name);
            lower.make_ascii_lowercase();
            let Some((id, username)) = users.get(&lower) else {
                continue;
            };
            if !is_username(username) {
                continue;
            }
            if last < span.start {
                node.insert_before(text_node(arena, text[last..span.start].to_owned()));
            }
            let mut html = String::with_capacity(64 + 2 * username.len());
            // Cannot fail: writing to a String.
            let _ = write!(
                html,
                r#"<a class="mention" href="/users/{username}" data-user="{id}">@{username}</a>"#
            );
            node.insert_before(new_node(arena, NodeValue::Raw(html)));
            if !mentions.contains(id) {
                mentions.push(*id);
            }
            last = span.end;
        }
        if last > 0 {
            if last < text.len() {
                node.insert_before(text_node(arena, text[last..].to_owned()));
            }
            node.detach();
        }
    }
}

/// Why `html` is not safe output of [`render`], if it is not: it must come
/// back unchanged from the same sanitizer, use only the subset's tags and
/// attributes, no `on*` handler, and links only to http, https, mailto or a
/// `/users/` page. For tests in this and other crates.
#[doc(hidden)]
pub fn unsafe_html_reason(html: &str) -> Option<String> {
    let again = SANITIZER.clean(html).to_string();
    if again.trim_end() != html {
        return Some(format!("re-sanitizing changes it: {again:?}"));
    }
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<script", "<svg", "<math", "<img", "<iframe", "<style", "<!--",
    ] {
        if lower.contains(bad) {
            return Some(format!("contains {bad}"));
        }
    }
    let mut rest = lower.as_str();
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let body = rest.strip_prefix('/').unwrap_or(rest);
        let name_len = body.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let name = &body[..name_len];
        if !TAGS.contains(&name) {
            return Some(format!("tag {name:?} outside the allowlist"));
        }
        let mut attrs = &body[name_len..];
        loop {
            attrs = attrs.trim_start();
            if attrs.starts_with('>') || attrs.starts_with("/>") || attrs.is_empty() {
                break;
            }
            let attr_len = attrs
                .find(|c: char| c.is_whitespace() || matches!(c, '=' | '>' | '/'))
                .unwrap_or(attrs.len());
            let attr = &attrs[..attr_len];
            attrs = &attrs[attr_len..];
            let mut value = "";
            if let Some(v) = attrs.strip_prefix("=\"") {
                let end = v.find('"').unwrap_or(v.len());
                value = &v[..end];
                attrs = v.get(end + 1..).unwrap_or("");
            } else if let Some(v) = attrs.strip_prefix('=') {
                return Some(format!("unquoted value of {attr}: {v:?}"));
            } else if attr_len == 0 {
                return Some(format!("cannot read the attributes of <{name}>"));
            }
            if attr.starts_with("on") || !ATTRIBUTES.contains(&attr) {
                return Some(format!("attribute {attr:?} outside the allowlist"));
            }
            if attr == "class" && value != "mention" {
                return Some(format!("class {value:?}"));
            }
            let url_ok = ["http://", "https://", "mailto:", "/users/"]
                .iter()
                .any(|p| value.starts_with(p));
            if attr == "href" && !url_ok {
                return Some(format!("href {value:?}"));
            }
        }
        rest = attrs;
    }
    None
}

/// Hostile inputs every rendering must neutralize; shared with other crates'
/// tests through [`unsafe_html_reason`].
#[doc(hidden)]
pub const XSS_PAYLOADS: &[&str] = &[
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//x.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert(1)\">",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math href=\"javascript:alert(1)\">click</math>",
    "[x](javascript:alert(1))",
    "<javascript:alert(1)>",
    "[x](JaVaScRiPt:alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript&#x3A;alert(1))",
    "[x](javascript&colon;alert(1))",
    "[a](<javascript:x>)",
    "[x]( javascript:alert(1) )",
    "[x](\\javascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<data:text/html,<script>alert(1)</script>>",
    "[x](vbscript:msgbox(1))",
    "[x](file:///etc/passwd)",
    "[x](//evil.example/x)",
    "[x](/users/../../admin)",
    "![x](javascript:alert(1))",
    "![x](http://a.example/i.png\" onerror=\"alert(1))",
    "![[a](javascript:alert(1))](http://a.example/i.png)",
    "[x][1]\n\n[1]: javascript:alert(1)",
    "[x][1]\n\n[1]: http://a.example \"t\\\" onmouseover=\\\"alert(1)\"",
    "[x](http://a.com\" onmouseover=\"alert(1))",
    "[x](<http://a.com\" onmouseover=\"alert(1)>)",
    "[x](http://a.com 'a\" onmouseover=\"alert(1)')",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<p style=\"background:url(javascript:alert(1))\">x</p>",
    "<a href=\"http://a.example\" onclick=\"alert(1)\">x</a>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<!-- <script>alert(1)</script> -->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<form><button formaction=javascript:alert(1)>x</button></form>",
    "<details open ontoggle=alert(1)>",
    "<base href=\"javascript:alert(1)//\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<template><script>alert(1)</script></template>",
    "<div>\n<script>alert(1)</script>\n</div>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<input autofocus onfocus=alert(1)>",
    "<body onload=alert(1)>",
    "<link rel=stylesheet href=javascript:alert(1)>",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "```\" onmouseover=\"alert(1)\n```",
    "> <script>alert(1)</script>",
    "* <img src=x onerror=alert(1)>",
    "**<svg/onload=alert(1)>**",
    "@<script>alert(1)</script>",
    "@bob\"onclick=alert(1)",
    "@bob<img src=x onerror=alert(1)>",
    "[@bob](javascript:alert(1))",
    "www.example.com/\"onmouseover=\"alert(1)",
    "http://a.example/<script>alert(1)</script>",
    "<a href=\"&#x6A;avascript:alert(1)\">x</a>",
    "\u{0}<script>alert(1)</script>",
    "<x onmouseover=alert(1)>hover</x>",
    "<table><tr><td background=\"javascript:alert(1)\">x</td></tr></table>",
    "# <script>alert(1)</script>",
];

#[cfg(test)]
mod tests {
    /// The full path, for comparing the plain-text shortcut with.
    fn rendered_in_full(source: &str) -> String {
        let arena = Arena::new();
        let root = parse(&arena, source);
        let mut html = String::new();
        assert!(comrak::format_html(root, &OPTIONS, &mut html).is_ok());
        let mut html = SANITIZER.clean(&html).to_string();
        html.truncate(html.trim_end().len());
        html
    }

    #[test]
    fn plain_text_written_directly_is_what_the_full_path_makes() {
        // Deterministic pseudo-random lines over an alphabet of safe and
        // unsafe characters: whenever the shortcut applies, it must agree.
        let safe: Vec<char> = "aZw9 .,;?!='%$+-/1W".chars().collect();
        let unsafe_: Vec<char> = "*_`~[]()<>&#:@\\|\"\n\té".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut applied = 0;
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let line: String = (0..len)
                .map(|_| {
                    let from = if next() % 20 == 0 { &unsafe_ } else { &safe };
                    from[(next() % from.len() as u64) as usize]
                })
                .collect();
            if let Some(html) = plain_paragraph(&line) {
                applied += 1;
                assert_eq!(html, rendered_in_full(&line), "{line:?}");
            }
        }
        assert!(
            applied > 1_000,
            "the shortcut was tried {applied} times only"
        );
        for line in [
            "t=1234 xxxxxxxx",
            "hello, world!",
            "a - b + c = 4%",
            "see www.example.com",
            "1. first",
            "4 spaces",
            "ends with space ",
        ] {
            if let Some(html) = plain_paragraph(line) {
                assert_eq!(html, rendered_in_full(line), "{line:?}");
            }
        }
        assert_eq!(
            plain_paragraph("hello there").as_deref(),
            Some("<p>hello there</p>")
        );
        assert_eq!(plain_paragraph("see www.example.com"), None);
        assert_eq!(plain_paragraph("1. first"), None);
        assert_eq!(plain_paragraph("*bold*"), None);
    }

    use super::*;

    fn users() -> HashMap<String, (i64, String)> {
        HashMap::from([
            ("bob".to_owned(), (5, "Bob".to_owned())),
            ("ann.lee".to_owned(), (3, "ann.lee".to_owned())),
        ])
    }

    #[test]
    fn links_to_messages_stay_and_other_relative_links_go() {
        let kept = html("[see](/rooms/12?at=40#m40)");
        assert!(kept.contains("href=\"/rooms/12?at=40#m40\""), "{kept}");
        for gone in [
            "[x](/rooms/12?at=40#m41)",
            "[x](/rooms/12/members)",
            "[x](/rooms/1x?at=4#m4)",
            "[x](/logout)",
        ] {
            assert!(!html(gone).contains("href"), "{gone}: {}", html(gone));
        }
    }

    fn html(source: &str) -> String {
        render(source, &HashMap::new()).html
    }

    fn mention(id: i64, name: &str) -> String {
        format!(
            r#"<a class="mention" href="/users/{name}" data-user="{id}" rel="{LINK_REL}">@{name}</a>"#
        )
    }

    #[test]
    fn paragraph() {
        assert_eq!(html("hello"), "<p>hello</p>");
    }

    #[test]
    fn emphasis() {
        assert_eq!(html("*a* _b_"), "<p><em>a</em> <em>b</em></p>");
    }

    #[test]
    fn strong() {
        assert_eq!(html("**a**"), "<p><strong>a</strong></p>");
    }

    #[test]
    fn strike() {
        assert_eq!(html("~~a~~"), "<p><del>a</del></p>");
    }

    #[test]
    fn inline_code_is_escaped() {
        assert_eq!(html("`a<b>`"), "<p><code>a&lt;b&gt;</code></p>");
    }

    #[test]
    fn code_block_drops_its_language() {
        assert_eq!(
            html("```rust\nfn f() {}\n```"),
            "<pre><code>fn f() {}\n</code></pre>"
        );
    }

    #[test]
    fn block_quote() {
        assert_eq!(html("> q"), "<blockquote>\n<p>q</p>\n</blockquote>");
    }

    #[test]
    fn unordered_list() {
        assert_eq!(html("- a\n- b"), "<ul>\n<li>a</li>\n<li>b</li>\n</ul>");
    }

    #[test]
    fn ordered_list_keeps_its_start() {
        assert_eq!(
            html("3. a\n4. b"),
            "<ol start=\"3\">\n<li>a</li>\n<li>b</li>\n</ol>"
        );
    }

    #[test]
    fn newline_is_a_line_break() {
        assert_eq!(html("a\nb"), "<p>a<br>\nb</p>");
    }

    #[test]
    fn link_gets_rel() {
        assert_eq!(
            html("[x](https://example.com/a?b=1&c=2 \"t\")"),
            format!(
                "<p><a href=\"https://example.com/a?b=1&amp;c=2\" title=\"t\" rel=\"{LINK_REL}\">x</a></p>"
            )
        );
    }

    #[test]
    fn bare_url_is_autolinked() {
        assert_eq!(
            html("see https://example.com/x."),
            format!(
                "<p>see <a href=\"https://example.com/x\" rel=\"{LINK_REL}\">https://example.com/x</a>.</p>"
            )
        );
    }

    #[test]
    fn bare_www_is_autolinked_over_http() {
        assert_eq!(
            html("www.example.com"),
            format!(
                "<p><a href=\"http://www.example.com\" rel=\"{LINK_REL}\">www.example.com</a></p>"
            )
        );
    }

    #[test]
    fn mailto_link_is_kept() {
        assert_eq!(
            html("[mail](mailto:a@example.com)"),
            format!("<p><a href=\"mailto:a@example.com\" rel=\"{LINK_REL}\">mail</a></p>")
        );
    }

    #[test]
    fn other_schemes_keep_only_the_text() {
        assert_eq!(html("[x](javascript:alert(1))"), "<p>x</p>");
        assert_eq!(html("[x](ftp://a.example)"), "<p>x</p>");
        assert_eq!(html("[x](/relative)"), "<p>x</p>");
        assert_eq!(html("[x](#top)"), "<p>x</p>");
        assert_eq!(html("[x](<http://a.com\" onclick=\"y>)"), "<p>x</p>");
    }

    #[test]
    fn raw_html_is_text() {
        assert_eq!(html("a <b>x</b>"), "<p>a &lt;b&gt;x&lt;/b&gt;</p>");
    }

    #[test]
    fn raw_html_block_is_a_paragraph_of_text() {
        assert_eq!(
            html("<div>\nhi\n</div>"),
            "<p>&lt;div&gt;<br>\nhi<br>\n&lt;/div&gt;</p>"
        );
    }

    #[test]
    fn image_becomes_a_link_with_its_alt_text() {
        assert_eq!(
            html("![a cat](https://example.com/c.png)"),
            format!("<p><a href=\"https://example.com/c.png\" rel=\"{LINK_REL}\">a cat</a></p>")
        );
    }

    #[test]
    fn image_with_a_bad_url_becomes_its_alt_text() {
        assert_eq!(html("![a cat](javascript:x)"), "<p>a cat</p>");
    }

    #[test]
    fn heading_is_a_paragraph_with_its_marker() {
        assert_eq!(html("## hi *there*"), "<p>## hi <em>there</em></p>");
    }

    #[test]
    fn setext_heading_is_a_paragraph() {
        assert_eq!(html("hi\n==="), "<p>hi</p>");
    }

    #[test]
    fn thematic_break_is_its_text() {
        assert_eq!(html("a\n\n***\n\nb"), "<p>a</p>\n<p>***</p>\n<p>b</p>");
        assert_eq!(
            html("> - - - -"),
            "<blockquote>\n<p>- - - -</p>\n</blockquote>"
        );
    }

    #[test]
    fn table_is_text() {
        assert_eq!(
            html("| a | b |\n|---|---|\n| c | d |"),
            "<p>| a | b |<br>\n|---|---|<br>\n| c | d |</p>"
        );
    }

    #[test]
    fn footnote_is_text() {
        assert_eq!(html("a[^1]"), "<p>a[^1]</p>");
    }

    #[test]
    fn footnote_definition_is_a_link_reference_definition() {
        // Plain CommonMark: `[^1]: b` defines the label `^1` (invisible) and
        // `[^1]` links to the relative URL `b`, which keeps only its text.
        assert_eq!(html("a[^1]\n\n[^1]: b"), "<p>a^1</p>");
    }

    #[test]
    fn empty_source_is_empty_html() {
        assert_eq!(html(""), "");
        assert_eq!(html("  \n "), "");
    }

    #[test]
    fn known_mention_is_a_profile_link() {
        let r = render("hi @bob", &users());
        assert_eq!(r.html, format!("<p>hi {}</p>", mention(5, "Bob")));
        assert_eq!(r.mentions, [5]);
    }

    #[test]
    fn mention_ignores_case() {
        assert_eq!(render("@BOB", &users()).mentions, [5]);
    }

    #[test]
    fn unknown_mention_is_text() {
        let r = render("hi @carol", &users());
        assert_eq!(r.html, "<p>hi @carol</p>");
        assert!(r.mentions.is_empty());
    }

    #[test]
    fn mention_in_code_is_not_a_mention() {
        let r = render("`@bob`\n\n```\n@bob\n```\n\n    @bob", &users());
        assert!(r.mentions.is_empty(), "{r:?}");
        assert!(!r.html.contains("mention"));
    }

    #[test]
    fn mention_in_link_text_or_url_is_not_a_mention() {
        let r = render(
            "[@bob](https://example.com) https://example.com/@bob",
            &users(),
        );
        assert!(r.mentions.is_empty(), "{r:?}");
    }

    #[test]
    fn email_is_not_a_mention() {
        let r = render("write bob@example.com or x@bob.com", &users());
        assert!(r.mentions.is_empty(), "{r:?}");
        assert!(mention_candidates("bob@localhost").is_empty());
    }

    #[test]
    fn mention_before_a_comma() {
        let r = render("@bob, hi", &users());
        assert_eq!(r.html, format!("<p>{}, hi</p>", mention(5, "Bob")));
    }

    #[test]
    fn mention_before_a_full_stop() {
        let r = render("thanks @bob.", &users());
        assert_eq!(r.html, format!("<p>thanks {}.</p>", mention(5, "Bob")));
    }

    #[test]
    fn mention_with_a_dot_inside() {
        let r = render("@ann.lee.", &users());
        assert_eq!(r.html, format!("<p>{}.</p>", mention(3, "ann.lee")));
    }

    #[test]
    fn mention_inside_markup() {
        let r = render("**@bob** (@ann.lee)", &users());
        assert_eq!(
            r.html,
            format!(
                "<p><strong>{}</strong> ({})</p>",
                mention(5, "Bob"),
                mention(3, "ann.lee")
            )
        );
    }

    #[test]
    fn mentions_are_distinct_in_order() {
        assert_eq!(
            render("@ann.lee @bob @Ann.Lee @bob", &users()).mentions,
            [3, 5]
        );
    }

    #[test]
    fn too_short_or_too_long_is_not_a_mention() {
        assert!(mention_candidates("@ab").is_empty());
        assert!(mention_candidates(&format!("@{}", "a".repeat(33))).is_empty());
        assert_eq!(
            mention_candidates(&format!("@{}", "a".repeat(32))),
            ["a".repeat(32)]
        );
    }

    #[test]
    fn candidates_are_lower_cased_distinct_and_outside_code() {
        assert_eq!(
            mention_candidates("@Bob `@ann` @bob, @carol. @dave_9-x"),
            ["bob", "carol", "dave_9-x"]
        );
    }

    #[test]
    fn candidates_stop_at_the_limit() {
        let source: String = (0..60).map(|i| format!("@user{i} ")).collect();
        let names = mention_candidates(&source);
        assert_eq!(names.len(), MAX_MENTIONS);
        assert_eq!(names[0], "user0");
    }

    #[test]
    fn a_user_with_an_odd_stored_name_is_not_linked() {
        let users = HashMap::from([("bob".to_owned(), (5, "b\"ob".to_owned()))]);
        assert_eq!(render("@bob", &users).html, "<p>@bob</p>");
    }

    #[test]
    fn excerpt_strips_markers_and_collapses_whitespace() {
        assert_eq!(
            excerpt("# Title\n\n**bold**  and `code`\n> quote\n\n- a\n- b", 100),
            "Title bold and code quote a b"
        );
    }

    #[test]
    fn excerpt_keeps_link_text_and_image_alt() {
        assert_eq!(
            excerpt("[site](https://x.example) ![cat](c.png)", 100),
            "site cat"
        );
    }

    #[test]
    fn excerpt_cuts_with_an_ellipsis() {
        assert_eq!(excerpt("hello wonderful world", 11), "hello wond…");
        assert_eq!(excerpt("hello wonderful world", 7), "hello…");
        assert_eq!(excerpt("hello", 5), "hello");
        assert_eq!(excerpt("hello", 0), "");
        assert_eq!(excerpt("ééééé", 3).chars().count(), 3);
    }

    #[test]
    fn xss_payloads_are_neutralized() {
        assert!(XSS_PAYLOADS.len() >= 40);
        let users = users();
        for payload in XSS_PAYLOADS {
            let out = render(payload, &users).html;
            if let Some(reason) = unsafe_html_reason(&out) {
                panic!("{payload:?} -> {out:?}: {reason}");
            }
        }
    }

    #[test]
    fn the_checker_catches_unsafe_html() {
        for bad in [
            "<script>x</script>",
            "<a href=\"javascript:x\">x</a>",
            "<p onclick=\"x\">x</p>",
            "<img src=x>",
            "<a class=\"x\">x</a>",
            "<p style=\"color:red\">x</p>",
        ] {
            assert!(unsafe_html_reason(bad).is_some(), "{bad}");
        }
        assert_eq!(
            unsafe_html_reason(&format!("<p>{}</p>", mention(5, "Bob"))),
            None
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        for source in [
            format!("{} x", ">".repeat(4000)),
            "- ".repeat(2000),
            format!("{}x{}", "*".repeat(2000), "*".repeat(2000)),
            format!(
                "{}x{}",
                "[".repeat(2000),
                "](http://a.example)".repeat(2000)
            ),
            "<div>".repeat(800),
            "1. ".repeat(1300),
        ] {
            let out = render(&source, &users()).html;
            assert!(out.matches("<blockquote>").count() <= MAX_DEPTH);
            assert_eq!(unsafe_html_reason(&out), None);
            let _ = excerpt(&source, 100);
        }
    }

    #[test]
    #[ignore = "timing; run with --release --ignored --nocapture"]
    fn render_speed() {
        let typical = "Hey @bob, the **deploy** is done: see https://example.com/runs/42 and `cargo test` ~~later~~ now.";
        let users = users();
        let time = |source: &str, n: u32| {
            let t = std::time::Instant::now();
            for _ in 0..n {
                let names = mention_candidates(std::hint::black_box(source));
                let r = render(std::hint::black_box(source), &users);
                std::hint::black_box((names, r));
            }
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        };
        println!(
            "typical {} chars: {:.1} µs per message (mention_candidates + render); plain text: {:.1} µs",
            typical.len(),
            time(typical, 20_000),
            time(
                "just a short plain message, nothing fancy in it at all",
                20_000
            ),
        );
        for (name, source) in [
            ("4000 nested quotes", format!("{} x", ">".repeat(4000))),
            (
                "2000 `*`",
                format!("{}x{}", "*".repeat(2000), "*".repeat(2000)),
            ),
            (
                "2000 `[`",
                format!(
                    "{}x{}",
                    "[".repeat(2000),
                    "](http://a.example)".repeat(2000)
                ),
            ),
            ("800 `<div>`", "<div>".repeat(800)),
            ("800 mentions", "@bob ".repeat(800)),
            ("4000 backticks", "`".repeat(4000)),
            ("1000 `*a`", "*a".repeat(1000)),
            ("1000 `[x](`", "[x](".repeat(1000)),
            ("400 bare URLs", "www.a.com ".repeat(400)),
            ("4000 `<`", "<".repeat(4000)),
        ] {
            println!("{name}: {:.0} µs", time(&source, 20));
        }
    }

    #[test]
    fn a_message_of_files_alone_is_quoted_as_such() {
        assert_eq!(super::quote_of("", 140), super::FILES_ONLY);
        assert_eq!(super::quote_of("**hi**", 140), "hi");
    }
}
