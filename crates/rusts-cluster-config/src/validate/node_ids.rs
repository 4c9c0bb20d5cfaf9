//! Node ids: present, unique, and not look-alikes of other text.

use std::collections::HashMap;

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use super::{Errors, LookAlike, Position, ValidationErrorKind};
use crate::ClusterConfig;

pub(super) fn check(config: &ClusterConfig, errors: &mut Errors) {
    // Count per id, remembering the first appearance so the report follows
    // the file's order, and the second, where the repeat is.
    let mut counts: HashMap<&str, (usize, usize, usize)> =
        HashMap::with_capacity(config.nodes.len());
    for (index, node) in config.nodes.iter().enumerate() {
        if node.id.is_empty() {
            errors.at(Position::node(index), || ValidationErrorKind::EmptyNodeId {
                index,
            });
            continue;
        }
        if let Some(problem) = look_alike(&node.id) {
            errors.at(Position::node(index), || {
                ValidationErrorKind::LookAlikeNodeId {
                    id: node.id.clone(),
                    problem,
                }
            });
        }
        let (_, count, second) = counts.entry(&node.id).or_insert((index, 0, index));
        *count += 1;
        if *count == 2 {
            *second = index;
        }
    }
    let mut repeated: Vec<_> = counts
        .into_iter()
        .filter(|(_, (_, count, _))| *count > 1)
        .collect();
    repeated.sort_by_key(|(_, (first, _, _))| *first);
    for (id, (_, count, second)) in repeated {
        errors.at(Position::node(second), || {
            ValidationErrorKind::DuplicateNodeId {
                id: id.to_owned(),
                count,
            }
        });
    }
}

/// Why `id` would look like another id: the first of a space at either
/// end, a character that shows nothing (a format character such as a soft
/// hyphen or a zero-width space, or a space other than U+0020), and text
/// not in Unicode's composed form (NFC), where `é` written as `e` and a
/// combining accent is another id than `é` written as one character.
/// Control characters are left alone: they are not look-alikes of
/// printable text, and the CLI shows them escaped.
pub(crate) fn look_alike(id: &str) -> Option<LookAlike> {
    if id.starts_with(char::is_whitespace) || id.ends_with(char::is_whitespace) {
        return Some(LookAlike::EdgeWhitespace);
    }
    if let Some(ch) = id.chars().find(|&c| invisible(c)) {
        return Some(LookAlike::Invisible { ch });
    }
    let nfc = match is_nfc_quick(id.chars()) {
        IsNormalized::Yes => false,
        _ => id.nfc().ne(id.chars()),
    };
    nfc.then(|| LookAlike::NotNfc {
        nfc: id.nfc().collect(),
    })
}

/// Characters that show nothing, or a space, where an id is read: Unicode's
/// format characters (general category Cf) as of Unicode 15, the
/// variation selectors, the combining grapheme joiner, the Hangul fillers,
/// and every space but U+0020.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
            | '\u{e0100}'..='\u{e01ef}'
    ) || (c.is_whitespace() && c != ' ' && !c.is_ascii_control())
}

/// The scripts whose letters look alike (Latin `a`, Cyrillic `а`, Greek
/// `α`), by Unicode block: an id with letters of two of them is likely a
/// look-alike of an id in one (`ValidationWarning::MixedScripts`).
pub(crate) fn confusable_scripts(id: &str) -> Option<[&'static str; 2]> {
    let mut first: Option<&'static str> = None;
    for c in id.chars().filter(|c| c.is_alphabetic()) {
        let script = match c {
            'a'..='z' | 'A'..='Z' | '\u{c0}'..='\u{24f}' | '\u{1e00}'..='\u{1eff}' => "Latin",
            '\u{370}'..='\u{3ff}' | '\u{1f00}'..='\u{1fff}' => "Greek",
            '\u{400}'..='\u{52f}'
            | '\u{1c80}'..='\u{1c8f}'
            | '\u{2de0}'..='\u{2dff}'
            | '\u{a640}'..='\u{a69f}' => "Cyrillic",
            _ => continue,
        };
        match first {
            None => first = Some(script),
            Some(f) if f != script => return Some([f, script]),
            Some(_) => {}
        }
    }
    None
}

/// `id` with every character but printable ASCII written as `\u{XXXX}`,
/// so that an invisible or combining one shows in a message.
pub(crate) fn escaped(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        match c {
            ' '..='~' if c != '"' && c != '\\' => out.push(c),
            _ => out.push_str(&format!("\\u{{{:04X}}}", u32::from(c))),
        }
    }
    out
}
