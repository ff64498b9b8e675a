//! The block structure of keepalived.conf: statements (a keyword and its arguments on one
//! line) and `{ … }` blocks, with `{` on the keyword's line or alone on the next one. What the
//! keywords mean is the business of `parse`.

use std::sync::Arc;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::Span;
use crate::preprocess::Line;

/// One word, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub text: String,
    pub span: Span,
    /// Characters of source it covers.
    pub len: u32,
}

/// `keyword args… [{ … }]`.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    /// The keyword and its arguments; never empty.
    pub words: Vec<Token>,
    pub block: Option<Block>,
}

impl Stmt {
    pub fn keyword(&self) -> &Token {
        &self.words[0]
    }

    pub fn args(&self) -> &[Token] {
        &self.words[1..]
    }
}

/// The statements between `{` and `}`.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub open: Span,
    pub stmts: Vec<Stmt>,
}

/// How deep blocks may nest; keepalived's own grammar needs four levels.
const MAX_NESTING: usize = 32;

struct Reader<'a> {
    lines: &'a [Line],
    line: usize,
    word: usize,
    diags: &'a mut Diagnostics,
}

enum Next {
    Open(Token),
    Close(Token),
    Word(Token),
}

impl Reader<'_> {
    fn token_at(&self, line: usize, word: usize) -> Option<(Token, bool)> {
        let l = self.lines.get(line)?;
        let w = l.words.get(word)?;
        let structural = !w.quoted && (w.text == "{" || w.text == "}");
        Some((
            Token {
                text: w.text.clone(),
                span: Span {
                    file: Arc::clone(&l.file),
                    line: w.line,
                    col: w.col,
                },
                len: w.len,
            },
            structural,
        ))
    }

    /// The next word anywhere, moving past line ends.
    fn next(&mut self) -> Option<Next> {
        loop {
            let l = self.lines.get(self.line)?;
            if self.word < l.words.len() {
                break;
            }
            self.line += 1;
            self.word = 0;
        }
        let (tok, structural) = self.token_at(self.line, self.word)?;
        self.word += 1;
        Some(match (structural, tok.text.as_str()) {
            (true, "{") => Next::Open(tok),
            (true, _) => Next::Close(tok),
            _ => Next::Word(tok),
        })
    }

    /// The next word if it is on the current line.
    fn peek_same_line(&self) -> Option<(Token, bool)> {
        self.token_at(self.line, self.word)
    }

    /// Statements up to a `}` (returned) or the end of input (`None`).
    fn stmts(&mut self, depth: usize) -> (Vec<Stmt>, Option<Token>) {
        let mut stmts: Vec<Stmt> = Vec::new();
        loop {
            let Some(next) = self.next() else {
                return (stmts, None);
            };
            match next {
                Next::Close(tok) => return (stmts, Some(tok)),
                Next::Open(tok) => {
                    let block = self.block(tok.clone(), depth);
                    match stmts.last_mut() {
                        Some(prev) if prev.block.is_none() => prev.block = Some(block),
                        _ => self.diags.push(
                            Diagnostic::new(
                                Code::UnexpectedBlock,
                                tok.span,
                                "a block with no keyword before it; ignored",
                            )
                            .with_len(tok.len),
                        ),
                    }
                }
                Next::Word(first) => {
                    let mut words = vec![first];
                    let mut block = None;
                    while let Some((tok, structural)) = self.peek_same_line() {
                        if structural {
                            if tok.text == "{" {
                                self.word += 1;
                                block = Some(self.block(tok, depth));
                            }
                            break;
                        }
                        self.word += 1;
                        words.push(tok);
                    }
                    stmts.push(Stmt { words, block });
                }
            }
        }
    }

    fn block(&mut self, open: Token, depth: usize) -> Block {
        if depth >= MAX_NESTING {
            self.diags.push(
                Diagnostic::new(
                    Code::UnexpectedBlock,
                    open.span.clone(),
                    format!("blocks nest deeper than {MAX_NESTING}; contents ignored"),
                )
                .with_len(open.len),
            );
            self.skip_balanced();
            return Block {
                open: open.span,
                stmts: Vec::new(),
            };
        }
        let (stmts, close) = self.stmts(depth + 1);
        if close.is_none() {
            self.diags.push(
                Diagnostic::new(
                    Code::UnclosedBlock,
                    open.span.clone(),
                    "this '{' is never closed",
                )
                .with_len(open.len),
            );
        }
        Block {
            open: open.span,
            stmts,
        }
    }

    /// Skip to the `}` matching an already consumed `{`, without recursion.
    fn skip_balanced(&mut self) {
        let mut depth = 1usize;
        while let Some(next) = self.next() {
            match next {
                Next::Open(_) => depth += 1,
                Next::Close(_) => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                Next::Word(_) => {}
            }
        }
    }
}

/// The statements of a whole configuration.
pub(crate) fn parse(lines: &[Line], diags: &mut Diagnostics) -> Vec<Stmt> {
    let mut r = Reader {
        lines,
        line: 0,
        word: 0,
        diags,
    };
    let mut all = Vec::new();
    loop {
        let (stmts, close) = r.stmts(0);
        all.extend(stmts);
        match close {
            None => return all,
            Some(tok) => r.diags.push(
                Diagnostic::new(Code::UnmatchedBrace, tok.span, "'}' closes no block")
                    .with_len(tok.len),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::text::{Text, words};

    fn lines(src: &str) -> Vec<Line> {
        src.lines()
            .enumerate()
            .map(|(i, l)| Line {
                file: Arc::from("t.conf"),
                words: words(&Text::source(l, i as u32 + 1)).0,
            })
            .filter(|l| !l.words.is_empty())
            .collect()
    }

    fn shape(stmts: &[Stmt]) -> String {
        stmts
            .iter()
            .map(|s| {
                let words: Vec<&str> = s.words.iter().map(|w| w.text.as_str()).collect();
                match &s.block {
                    Some(b) => format!("{}[{}]", words.join(" "), shape(&b.stmts)),
                    None => words.join(" "),
                }
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    fn parsed(src: &str) -> (String, Vec<Code>) {
        let mut d = Diagnostics::default();
        let s = parse(&lines(src), &mut d);
        (shape(&s), d.iter().map(|d| d.code).collect())
    }

    #[test]
    fn blocks_open_on_the_same_or_the_next_line() {
        assert_eq!(parsed("a {\n b 1\n}\nc\n{\n d\n}\n").0, "a[b 1];c[d]");
    }

    #[test]
    fn one_line_blocks() {
        assert_eq!(
            parsed("track_script { chk }\nvirtual_ipaddress { 1.2.3.4 }\n").0,
            "track_script[chk];virtual_ipaddress[1.2.3.4]"
        );
        assert_eq!(parsed("a { b { c } d }").0, "a[b[c];d]");
    }

    #[test]
    fn unbalanced_braces_are_reported() {
        assert_eq!(parsed("a {\n b\n").1, vec![Code::UnclosedBlock]);
        let (s, codes) = parsed("a\n}\nb\n");
        assert_eq!(s, "a;b");
        assert_eq!(codes, vec![Code::UnmatchedBrace]);
        assert_eq!(parsed("{\n x\n}\n").1, vec![Code::UnexpectedBlock]);
    }

    #[test]
    fn deep_nesting_does_not_recurse_without_bound() {
        let src = format!("{}{}", "a {\n".repeat(10_000), "}\n".repeat(10_000));
        let (_, codes) = parsed(&src);
        assert!(codes.contains(&Code::UnexpectedBlock));
    }
}
