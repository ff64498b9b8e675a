//! A logical line of configuration text that remembers, for every byte, the line and column
//! it came from, through continuation joins and parameter substitution.

use std::ops::Range;

/// A run of bytes of a [`Text`] that came from one place.
#[derive(Debug, Clone, Copy)]
struct Seg {
    /// Byte offset in the text where the run starts.
    start: usize,
    line: u32,
    col: u32,
    /// Literal runs map byte for byte (one column per character) onto the source; other runs
    /// (substituted values) all point at the place of the substitution.
    literal: bool,
}

/// Text with positions.
#[derive(Debug, Clone)]
pub(crate) struct Text {
    pub s: String,
    segs: Vec<Seg>,
}

impl Text {
    /// A source line as read, starting at column 1.
    pub fn source(s: &str, line: u32) -> Text {
        Text {
            s: s.to_string(),
            segs: vec![Seg {
                start: 0,
                line,
                col: 1,
                literal: true,
            }],
        }
    }

    /// Text that did not come from the source, attributed to one place.
    pub fn generated(s: &str, line: u32, col: u32) -> Text {
        Text {
            s: s.to_string(),
            segs: vec![Seg {
                start: 0,
                line,
                col,
                literal: false,
            }],
        }
    }

    /// Line and column of the byte at `at` (a character boundary).
    pub fn pos(&self, at: usize) -> (u32, u32) {
        let i = self
            .segs
            .partition_point(|s| s.start <= at)
            .saturating_sub(1);
        let Some(seg) = self.segs.get(i) else {
            return (0, 0);
        };
        if !seg.literal {
            return (seg.line, seg.col);
        }
        let from = seg.start.min(self.s.len());
        let to = at.min(self.s.len()).max(from);
        let chars = self.s.get(from..to).map_or(0, |t| t.chars().count());
        (seg.line, seg.col + chars as u32)
    }

    /// A cursor for looking up positions in increasing order, as splitting into words does.
    pub fn positions(&self) -> Positions<'_> {
        Positions {
            text: self,
            seg: usize::MAX,
            at: 0,
            chars: 0,
        }
    }

    /// The part of the text in `range`, with its positions.
    pub fn slice(&self, range: Range<usize>) -> Text {
        let mut segs = Vec::new();
        for (i, seg) in self.segs.iter().enumerate() {
            let end = self.segs.get(i + 1).map_or(usize::MAX, |n| n.start);
            if end <= range.start || seg.start >= range.end {
                continue;
            }
            let start = seg.start.max(range.start);
            let (line, col) = self.pos(start);
            segs.push(Seg {
                start: start - range.start,
                line,
                col,
                literal: seg.literal,
            });
        }
        if segs.is_empty() {
            let (line, col) = self.pos(range.start);
            segs.push(Seg {
                start: 0,
                line,
                col,
                literal: false,
            });
        }
        Text {
            s: self.s[range].to_string(),
            segs,
        }
    }

    /// Append another text (a continuation line), separated by one space.
    pub fn join(&mut self, other: Text) {
        let base = self.s.len() + 1;
        let (line, col) = other.pos(0);
        self.s.push(' ');
        // The joining space belongs to the start of the next line.
        self.segs.push(Seg {
            start: base - 1,
            line,
            col,
            literal: false,
        });
        self.s.push_str(&other.s);
        for seg in other.segs {
            self.segs.push(Seg {
                start: seg.start + base,
                ..seg
            });
        }
    }

    /// Replace `range` with `with`, attributing the new bytes to the start of `range`.
    pub fn replace(&mut self, range: Range<usize>, with: &str) {
        let (line, col) = self.pos(range.start);
        let (end_line, end_col) = self.pos(range.end);
        let end_literal = {
            let i = self
                .segs
                .partition_point(|s| s.start <= range.end)
                .saturating_sub(1);
            self.segs.get(i).is_some_and(|s| s.literal)
        };
        let delta = with.len() as isize - range.len() as isize;
        let mut segs: Vec<Seg> = self
            .segs
            .iter()
            .filter(|s| s.start < range.start)
            .copied()
            .collect();
        segs.push(Seg {
            start: range.start,
            line,
            col,
            literal: false,
        });
        if range.end < self.s.len() {
            segs.push(Seg {
                start: range.start + with.len(),
                line: end_line,
                col: end_col,
                literal: end_literal,
            });
        }
        for s in self.segs.iter().filter(|s| s.start > range.end) {
            segs.push(Seg {
                start: (s.start as isize + delta) as usize,
                ..*s
            });
        }
        self.s.replace_range(range, with);
        self.segs = segs;
    }

    /// Cut the text at `at` (comments).
    pub fn truncate(&mut self, at: usize) {
        self.s.truncate(at);
    }

    /// Drop leading whitespace.
    pub fn trim_start(&mut self) {
        let n = self.s.len() - self.s.trim_start().len();
        if n > 0 {
            *self = self.slice(n..self.s.len());
        }
    }

    pub fn trim_end(&mut self) {
        let n = self.s.trim_end().len();
        self.s.truncate(n);
    }
}

/// [`Text::pos`] for offsets asked in increasing order, each counted on from the last: the
/// words of one long line cost the length of the line, not its length per word.
#[derive(Debug)]
pub(crate) struct Positions<'a> {
    text: &'a Text,
    /// The segment counted in, and how far: `chars` characters from its start to `at`.
    seg: usize,
    at: usize,
    chars: u32,
}

impl Positions<'_> {
    /// Line and column of the byte at `at` (a character boundary); the same as
    /// [`Text::pos`], at any offset, but only fast going forwards.
    pub fn pos(&mut self, at: usize) -> (u32, u32) {
        let text = self.text;
        let i = text
            .segs
            .partition_point(|s| s.start <= at)
            .saturating_sub(1);
        let Some(seg) = text.segs.get(i) else {
            return (0, 0);
        };
        if !seg.literal {
            return (seg.line, seg.col);
        }
        let from = seg.start.min(text.s.len());
        if i != self.seg || at < self.at {
            self.seg = i;
            self.at = from;
            self.chars = 0;
        }
        let to = at.min(text.s.len()).max(self.at);
        self.chars += text.s.get(self.at..to).map_or(0, |t| t.chars().count()) as u32;
        self.at = to;
        (seg.line, seg.col + self.chars)
    }
}

/// Where an unquoted `#` or `!` starts a comment, if any. `\#` and `\!` do not; quotes
/// protect their content.
pub(crate) fn comment_start(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'\\' => i += 1,
                b'"' | b'\'' => quote = Some(c),
                b'#' | b'!' => return Some(i),
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// One word of a configuration line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text with quotes removed and escapes resolved.
    pub text: String,
    pub line: u32,
    pub col: u32,
    /// Characters of source the word covers (for carets).
    pub len: u32,
    /// Some part of it was quoted: a quoted `{` is text, not a block.
    pub quoted: bool,
}

/// Problems found while splitting a line into words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnterminatedQuote {
    pub line: u32,
    pub col: u32,
}

/// Split a line into words: whitespace separates, `"…"` and `'…'` group (quotes removed,
/// escapes resolved), `{` and `}` standing alone or ending/starting a word are their own words.
pub(crate) fn words(text: &Text) -> (Vec<Word>, Option<UnterminatedQuote>) {
    let mut positions = text.positions();
    let s = text.s.as_str();
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut problem = None;
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut word = String::new();
        let mut quoted = false;
        let mut quote: Option<u8> = None;
        let mut quote_at = 0;
        while i < b.len() {
            let c = b[i];
            if let Some(q) = quote {
                if c == q {
                    quote = None;
                    i += 1;
                } else if c == b'\\' {
                    i = unescape(s, i, &mut word);
                } else {
                    let ch_len = utf8_len(c);
                    word.push_str(&s[i..(i + ch_len).min(s.len())]);
                    i += ch_len;
                }
                continue;
            }
            if c.is_ascii_whitespace() {
                break;
            }
            match c {
                b'"' | b'\'' => {
                    quote = Some(c);
                    quote_at = i;
                    quoted = true;
                    i += 1;
                }
                b'\\' if matches!(b.get(i + 1), Some(b'#' | b'!')) => {
                    word.push(b[i + 1] as char);
                    i += 2;
                }
                _ => {
                    let ch_len = utf8_len(c);
                    word.push_str(&s[i..(i + ch_len).min(s.len())]);
                    i += ch_len;
                }
            }
        }
        if quote.is_some() && problem.is_none() {
            let (line, col) = positions.pos(quote_at);
            problem = Some(UnterminatedQuote { line, col });
        }
        push_word(&mut positions, start, i, word, quoted, &mut out);
    }
    (out, problem)
}

/// Push a word, splitting structural braces off its ends.
fn push_word(
    text: &mut Positions<'_>,
    start: usize,
    end: usize,
    word: String,
    quoted: bool,
    out: &mut Vec<Word>,
) {
    let mut make = |from: usize, to: usize, t: String, quoted: bool| {
        let (line, col) = text.pos(from);
        let (end_line, end_col) = text.pos(to);
        let len = if end_line == line && end_col > col {
            end_col - col
        } else {
            t.chars().count() as u32
        };
        Word {
            text: t,
            line,
            col,
            len: len.max(1),
            quoted,
        }
    };
    if quoted || word.len() <= 1 || word.contains("${") {
        out.push(make(start, end, word, quoted));
        return;
    }
    // Leading `}` and a trailing `{`/`}` are structure when unquoted: `}else`, `group{`.
    let mut from = start;
    let mut w = word.as_str();
    while w.len() > 1 && w.starts_with('}') {
        out.push(make(from, from + 1, "}".to_string(), false));
        from += 1;
        w = &w[1..];
    }
    if w.len() > 1 && (w.ends_with('{') || w.ends_with('}')) {
        let cut = w.len() - 1;
        out.push(make(from, from + cut, w[..cut].to_string(), false));
        out.push(make(
            from + cut,
            from + cut + 1,
            w[cut..].to_string(),
            false,
        ));
    } else {
        out.push(make(from, end, w.to_string(), false));
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// Resolve one escape inside quotes starting at the backslash at `i`; returns the index after
/// it. Shell-like: `\a \b \E \f \n \r \t \v \nnn \xXX \cC`, any other `\C` is `C`.
fn unescape(s: &str, i: usize, out: &mut String) -> usize {
    let b = s.as_bytes();
    let Some(&c) = b.get(i + 1) else {
        out.push('\\');
        return i + 1;
    };
    let simple = match c {
        b'a' => Some('\x07'),
        b'b' => Some('\x08'),
        b'E' => Some('\x1b'),
        b'f' => Some('\x0c'),
        b'n' => Some('\n'),
        b'r' => Some('\r'),
        b't' => Some('\t'),
        b'v' => Some('\x0b'),
        _ => None,
    };
    if let Some(ch) = simple {
        out.push(ch);
        return i + 2;
    }
    match c {
        b'0'..=b'7' => {
            let mut v: u32 = 0;
            let mut j = i + 1;
            while j < b.len() && j < i + 4 && (b'0'..=b'7').contains(&b[j]) {
                v = v * 8 + u32::from(b[j] - b'0');
                j += 1;
            }
            out.push(char::from_u32(v & 0xff).unwrap_or('?'));
            j
        }
        b'x' => {
            let mut v: u32 = 0;
            let mut j = i + 2;
            while j < b.len() && j < i + 4 && b[j].is_ascii_hexdigit() {
                v = v * 16 + (b[j] as char).to_digit(16).unwrap_or(0);
                j += 1;
            }
            if j == i + 2 {
                out.push('x');
            } else {
                out.push(char::from_u32(v).unwrap_or('?'));
            }
            j
        }
        b'c' => match b.get(i + 2) {
            Some(&ctl) if ctl.is_ascii() => {
                out.push(char::from(ctl.to_ascii_uppercase() ^ 0x40));
                i + 3
            }
            _ => {
                out.push('c');
                i + 2
            }
        },
        _ => {
            let n = utf8_len(c);
            out.push_str(s.get(i + 1..i + 1 + n).unwrap_or(""));
            i + 1 + n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        words(&Text::source(line, 1))
            .0
            .into_iter()
            .map(|w| w.text)
            .collect()
    }

    #[test]
    fn quotes_group_and_vanish() {
        assert_eq!(
            texts(r#"abcd" efg h jkl "mnop"#),
            vec!["abcd efg h jkl mnop"]
        );
        assert_eq!(
            texts(r#"abcd "efg h jkl" mnop"#),
            vec!["abcd", "efg h jkl", "mnop"]
        );
        assert_eq!(texts("'a b' c"), vec!["a b", "c"]);
    }

    #[test]
    fn escapes_resolve_inside_quotes() {
        assert_eq!(
            texts(r#""a\tb\x41\101\cA\\ \"q\"""#),
            vec!["a\tbAA\x01\\ \"q\""]
        );
        assert_eq!(texts(r"\#x"), vec!["#x"]);
    }

    #[test]
    fn braces_split_off_words() {
        assert_eq!(texts("group{"), vec!["group", "{"]);
        assert_eq!(texts("}x"), vec!["}", "x"]);
        assert_eq!(texts("a }"), vec!["a", "}"]);
        assert_eq!(texts(r#""{""#), vec!["{"]);
        assert_eq!(texts("${UNDEF}"), vec!["${UNDEF}"]);
    }

    #[test]
    fn comments_start_outside_quotes_only() {
        assert_eq!(comment_start("a # b"), Some(2));
        assert_eq!(comment_start("a \"# b\" ! c"), Some(8));
        assert_eq!(comment_start(r"a \# b"), None);
        assert_eq!(comment_start("interval 2 # 每2秒检测一次"), Some(11));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let t = Text::source("中文 abc", 4);
        let (ws, _) = words(&t);
        assert_eq!((ws[1].line, ws[1].col, ws[1].len), (4, 4, 3));
    }

    #[test]
    fn replace_keeps_positions_after_the_replacement() {
        let mut t = Text::source("priority $P 7", 2);
        t.replace(9..11, "200");
        assert_eq!(t.s, "priority 200 7");
        let (ws, _) = words(&t);
        assert_eq!((ws[1].text.as_str(), ws[1].col), ("200", 10));
        assert_eq!((ws[2].text.as_str(), ws[2].col), ("7", 13));
    }

    #[test]
    fn joined_lines_keep_their_own_line_numbers() {
        let mut t = Text::source("lvs_sync_daemon eth0", 1);
        let mut next = Text::source("    inst VI_1", 2);
        next.trim_start();
        t.join(next);
        let (ws, _) = words(&t);
        assert_eq!((ws[2].text.as_str(), ws[2].line, ws[2].col), ("inst", 2, 5));
    }

    #[test]
    fn unterminated_quote_is_reported_at_the_quote() {
        let (ws, p) = words(&Text::source(r#"script "abc"#, 3));
        assert_eq!(ws[1].text, "abc");
        assert_eq!(p, Some(UnterminatedQuote { line: 3, col: 8 }));
    }

    #[test]
    fn the_cursor_agrees_with_pos_forwards_and_backwards() {
        let mut t = Text::source("ab  中文 cd", 4);
        t.replace(4..10, "xyz");
        t.join(Text::source("  more é words", 5));
        let offsets: Vec<usize> = (0..=t.s.len())
            .filter(|&i| t.s.is_char_boundary(i))
            .collect();
        let mut c = t.positions();
        for &at in &offsets {
            assert_eq!(c.pos(at), t.pos(at), "at {at}");
        }
        for &at in offsets.iter().rev() {
            assert_eq!(c.pos(at), t.pos(at), "back at {at}");
        }
    }

    #[test]
    fn a_long_line_of_words_splits_in_linear_time() {
        // 200,000 words on one line: counting each word's column from the start of the line
        // took minutes.
        let line = "ab ".repeat(200_000);
        let started = std::time::Instant::now();
        let (ws, _) = words(&Text::source(&line, 1));
        assert_eq!(ws.len(), 200_000);
        assert_eq!(ws[199_999].col, 599_998);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
