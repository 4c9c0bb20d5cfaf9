//! Text for a person: escaping what a terminal would act on, cutting cells
//! that would swamp a table, and drawing tables.
//!
//! A config is data from anywhere: an id can hold an escape sequence that
//! recolours or clears the operator's terminal, or a bidi override that
//! makes one id look like another. Everything printed as text goes through
//! [`escape`]; JSON output is escaped by serde_json and never cut.

use std::{
    borrow::Cow,
    fmt::Write as _,
    io::{self, Write},
};

use unicode_width::UnicodeWidthStr;

/// The most characters a table cell shows. Real ids, addresses and replica
/// lists are far shorter; a longer cell is cut, so that one hostile value
/// cannot widen every row of a table (each row is padded to the widest
/// cell: a 4 MiB node id made `show` print 16 rows of 4 MiB each).
pub(crate) const MAX_CELL_CHARS: usize = 100;

/// Whether `c` would be acted on or hidden by a terminal rather than shown:
/// control characters (ESC starts escape sequences), bidi embeddings,
/// overrides and isolates, zero-width and invisible format characters, line
/// and paragraph separators, and tag characters.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{180E}' | '\u{FEFF}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

/// `text` with every hidden character written as an escape (`\n`, `\t`,
/// `\u{1b}`), as Rust's `escape_debug` writes them; everything else,
/// non-ASCII letters included, unchanged.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hidden(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`escape`], then cut to [`MAX_CELL_CHARS`] characters with a note of how
/// many bytes of the value were left out.
pub(crate) fn cell(text: &str, style: Style) -> String {
    let mut out = String::new();
    for (shown, (at, c)) in text.char_indices().enumerate() {
        if shown >= MAX_CELL_CHARS {
            let ellipsis = if style == Style::Ascii { "..." } else { "…" };
            let _ = write!(out, "{ellipsis}({} more bytes)", text.len() - at);
            return out;
        }
        if is_hidden(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// How tables are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// Box-drawing characters, for a terminal.
    Unicode,
    /// `+ - = |`, for pipes, files and terminals without Unicode.
    Ascii,
}

/// The characters of one style: (left, fill, cross, right) for the top
/// rule, the rule under the header and the bottom rule, then the outer and
/// inner column separators.
struct Glyphs {
    top: [&'static str; 4],
    header: [&'static str; 4],
    bottom: [&'static str; 4],
    outer: &'static str,
    inner: &'static str,
}

const UNICODE: Glyphs = Glyphs {
    top: ["┌", "─", "┬", "┐"],
    header: ["╞", "═", "╪", "╡"],
    bottom: ["└", "─", "┴", "┘"],
    outer: "│",
    inner: "┆",
};

const ASCII: Glyphs = Glyphs {
    top: ["+", "-", "+", "+"],
    header: ["+", "=", "+", "+"],
    bottom: ["+", "-", "+", "+"],
    outer: "|",
    inner: "|",
};

/// A table with a header row; each column is as wide as its widest cell,
/// which [`cell`] bounds.
#[derive(Debug)]
pub(crate) struct Table {
    style: Style,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    right: Vec<bool>,
}

impl Table {
    pub(crate) fn new(style: Style, header: &[&str]) -> Table {
        Table {
            style,
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            right: vec![false; header.len()],
        }
    }

    /// Right-aligns these columns (numbers).
    pub(crate) fn right_align(&mut self, columns: &[usize]) {
        for &c in columns {
            if let Some(right) = self.right.get_mut(c) {
                *right = true;
            }
        }
    }

    /// Adds a row; each cell is escaped and cut ([`cell`]).
    pub(crate) fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = cells
            .into_iter()
            .map(|c| cell(c.as_ref(), self.style))
            .collect();
        row.resize(self.header.len(), String::new());
        self.rows.push(row);
    }

    /// Writes the table, one line at a time.
    pub(crate) fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let glyphs = match self.style {
            Style::Unicode => &UNICODE,
            Style::Ascii => &ASCII,
        };
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.width());
            }
        }
        let mut line = String::new();
        let rule = |line: &mut String, [left, fill, cross, right]: [&str; 4]| {
            line.clear();
            line.push_str(left);
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    line.push_str(cross);
                }
                for _ in 0..w + 2 {
                    line.push_str(fill);
                }
            }
            line.push_str(right);
            line.push('\n');
        };
        let cells = |line: &mut String, row: &[String]| {
            line.clear();
            line.push_str(glyphs.outer);
            for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str(glyphs.inner);
                }
                let pad = w - c.width();
                line.push(' ');
                if self.right[i] {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(c);
                } else {
                    line.push_str(c);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                line.push(' ');
            }
            line.push_str(glyphs.outer);
            line.push('\n');
        };
        rule(&mut line, glyphs.top);
        out.write_all(line.as_bytes())?;
        cells(&mut line, &self.header);
        out.write_all(line.as_bytes())?;
        rule(&mut line, glyphs.header);
        out.write_all(line.as_bytes())?;
        for row in &self.rows {
            cells(&mut line, row);
            out.write_all(line.as_bytes())?;
        }
        rule(&mut line, glyphs.bottom);
        out.write_all(line.as_bytes())
    }
}

/// Shard ids as ranges, `0-7, 9, 12-15`: a list of 262,144 shards stays one
/// short line when it is a run.
pub(crate) fn ranges(ids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        let mut end = start;
        while i + 1 < ids.len() && end.checked_add(1) == Some(ids[i + 1]) {
            i += 1;
            end = ids[i];
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        let _ = if start == end {
            write!(out, "{start}")
        } else {
            write!(out, "{start}-{end}")
        };
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_shows_what_a_terminal_would_act_on() {
        assert_eq!(escape("node1"), "node1");
        assert_eq!(escape("zoné-東京"), "zoné-東京");
        assert_eq!(escape("a\u{1b}[31mred"), "a\\u{1b}[31mred");
        assert_eq!(escape("a\nb\tc\r"), "a\\nb\\tc\\r");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape("zero\u{200b}width"), "zero\\u{200b}width");
        assert_eq!(escape("\u{7f}\u{9b}"), "\\u{7f}\\u{9b}");
    }

    #[test]
    fn long_cells_are_cut_with_the_bytes_left_out() {
        let id = "x".repeat(1 << 20);
        let shown = cell(&id, Style::Unicode);
        assert!(shown.starts_with(&"x".repeat(MAX_CELL_CHARS)));
        assert!(shown.ends_with(&format!("…({} more bytes)", (1 << 20) - MAX_CELL_CHARS)));
        assert!(cell(&id, Style::Ascii).ends_with("...(1048476 more bytes)"));
        let exact = "y".repeat(MAX_CELL_CHARS);
        assert_eq!(cell(&exact, Style::Ascii), exact);
        // Cut at characters, never inside one.
        let wide = "é".repeat(MAX_CELL_CHARS + 1);
        assert!(cell(&wide, Style::Ascii).ends_with("é...(2 more bytes)"));
    }

    #[test]
    fn tables_align_by_display_width() {
        let mut table = Table::new(Style::Ascii, &["node", "n"]);
        table.right_align(&[1]);
        table.row(["東京", "1"]);
        table.row(["a\u{1b}", "10"]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "+---------+----+\n\
             | node    |  n |\n\
             +=========+====+\n\
             | 東京    |  1 |\n\
             | a\\u{1b} | 10 |\n\
             +---------+----+\n"
        );
        let mut table = Table::new(Style::Unicode, &["a", "b"]);
        table.row(["1", "2"]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "┌───┬───┐\n│ a ┆ b │\n╞═══╪═══╡\n│ 1 ┆ 2 │\n└───┴───┘\n"
        );
    }

    #[test]
    fn ranges_collapse_runs() {
        assert_eq!(ranges(&[]), "");
        assert_eq!(ranges(&[3]), "3");
        assert_eq!(ranges(&[0, 1, 2, 3, 5, 7, 8]), "0-3, 5, 7-8");
        assert_eq!(ranges(&[u32::MAX - 1, u32::MAX]), "4294967294-4294967295");
    }
}
