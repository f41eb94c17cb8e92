//! Reading src/ for tests/architecture.rs: the files, their module paths,
//! and per file the `crate::` paths it names, the types it defines and
//! the modules it declares, test code told apart.
//!
//! A small lexer of our own (comments, strings and char literals blanked,
//! then words, `::` and punctuation) is enough for these rules and needs
//! no dependency; the scan tracks `mod`, `impl` and `trait` blocks, so an
//! associated type is not taken for a type definition and `super::` is
//! resolved from the module it is written in.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

pub fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every .rs file under src/, sorted, as paths relative to src/.
pub fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), &mut files);
    let mut files: Vec<PathBuf> = files
        .into_iter()
        .map(|p| p.strip_prefix(src()).unwrap().to_path_buf())
        .collect();
    files.sort();
    files
}

pub fn shown(file: &Path) -> String {
    format!("src/{}", file.display())
}

/// The module path of a file: src/net/wire/ipv4.rs -> [net, wire, ipv4],
/// src/net/mod.rs -> [net], src/lib.rs -> [].
fn module_path(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if parts.is_empty() && stem == "lib" {
        return parts;
    }
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// `text` with comments, string and char literals blanked (newlines
/// kept, so line numbers hold); lifetimes are left as they are.
fn blank(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let keep_lines = |out: &mut String, s: &[char]| {
        out.extend(s.iter().map(|&ch| if ch == '\n' { '\n' } else { ' ' }));
    };
    let is_word = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let prev_word = i > 0 && is_word(c[i - 1]);
        // Line comment.
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            let end = c[i..]
                .iter()
                .position(|&ch| ch == '\n')
                .map_or(c.len(), |n| i + n);
            keep_lines(&mut out, &c[i..end]);
            i = end;
            continue;
        }
        // Block comment, nested.
        if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let (mut depth, mut j) = (0, i);
            while j < c.len() {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if c[j] == '*' && c.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            keep_lines(&mut out, &c[i..j.min(c.len())]);
            i = j;
            continue;
        }
        // Raw string: r"..", r#".."#, br#".."#.
        let raw_at = if c[i] == 'r' && !prev_word {
            Some(i + 1)
        } else if c[i] == 'b' && c.get(i + 1) == Some(&'r') && !prev_word {
            Some(i + 2)
        } else {
            None
        };
        if let Some(mut j) = raw_at {
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) == Some(&'"') {
                let mut k = j + 1;
                loop {
                    if k >= c.len() {
                        break;
                    }
                    if c[k] == '"' && (0..hashes).all(|h| c.get(k + 1 + h) == Some(&'#')) {
                        k += 1 + hashes;
                        break;
                    }
                    k += 1;
                }
                out.push_str("\"\"");
                keep_lines(&mut out, &c[i + 2.min(k - i)..k]);
                i = k;
                continue;
            }
        }
        // String (and byte string: its `b` stays a word before it).
        if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(c.len());
            out.push_str("\"\"");
            keep_lines(&mut out, &c[(i + 2).min(end)..end]);
            i = end;
            continue;
        }
        // Char literal ('x', '\n', '\u{1F600}'), not a lifetime ('a).
        if c[i] == '\'' && !prev_word {
            let end = if c.get(i + 1) == Some(&'\\') {
                c[i + 2..]
                    .iter()
                    .position(|&ch| ch == '\'')
                    .map(|n| i + 2 + n + 1)
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            if let Some(end) = end {
                out.push_str("' '");
                keep_lines(&mut out, &c[(i + 3).min(end)..end]);
                i = end;
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    PathSep,
    Punct(char),
}

/// Words, `::` and single punctuation, each with its line (1-based).
fn tokens(blanked: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = blanked.chars().collect();
    let (mut out, mut line, mut i) = (Vec::new(), 1, 0);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Word(c[start..i].iter().collect()), line));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

fn word(t: Option<&(Tok, usize)>) -> Option<&str> {
    match t {
        Some((Tok::Word(w), _)) => Some(w),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ScopeKind {
    Mod,
    Impl,
    Trait,
    Other,
}

/// One scope the scan is in: what opened it, its name if a `mod`, and
/// whether it is test code.
#[derive(Debug, Clone)]
struct Scope {
    kind: ScopeKind,
    name: Option<String>,
    test: bool,
}

/// What one file says, as the rules need it.
#[derive(Debug, Default)]
pub struct Scan {
    /// (top-level module named, line, is test code)
    pub uses: Vec<(String, usize, bool)>,
    /// (type name, line, is test code)
    pub types: Vec<(String, usize, bool)>,
    /// Out-of-line modules declared: (path relative to the file's module,
    /// is under `#[cfg(test)]`).
    pub declared: Vec<(Vec<String>, bool)>,
}

/// Does the item header (tokens since the last `;`, `{` or `}`) carry
/// `#[cfg(test)]` (or a `cfg(all(test, ..))`)?
fn has_cfg_test(header: &[Tok]) -> bool {
    header.windows(3).enumerate().any(|(at, w)| {
        w[0] == Tok::Punct('#') && w[1] == Tok::Punct('[') && w[2] == Tok::Word("cfg".into()) && {
            let attr: Vec<&Tok> = header[at + 3..]
                .iter()
                .take_while(|t| **t != Tok::Punct(']'))
                .collect();
            attr.contains(&&Tok::Word("test".into())) && !attr.contains(&&Tok::Word("not".into()))
        }
    })
}

/// The header's item keyword after attributes and visibility: `mod`,
/// `impl`, `trait`, ... and the word after it.
fn item_of(header: &[Tok]) -> (Option<&str>, Option<&str>) {
    let mut i = 0;
    while i < header.len() {
        match &header[i] {
            Tok::Punct('#') => {
                // Skip the attribute's brackets.
                let mut depth = 0;
                i += 1;
                while i < header.len() {
                    match header[i] {
                        Tok::Punct('[') => depth += 1,
                        Tok::Punct(']') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
            }
            Tok::Word(w) if w == "pub" => {
                i += 1;
                if header.get(i) == Some(&Tok::Punct('(')) {
                    while i < header.len() && header[i] != Tok::Punct(')') {
                        i += 1;
                    }
                    i += 1;
                }
            }
            Tok::Word(w) if w == "unsafe" || w == "default" => i += 1,
            Tok::Word(w) => {
                let next = match header.get(i + 1) {
                    Some(Tok::Word(n)) => Some(n.as_str()),
                    _ => None,
                };
                return (Some(w), next);
            }
            _ => return (None, None),
        }
    }
    (None, None)
}

pub fn scan(file: &Path, text: &str) -> Scan {
    let toks = tokens(&blank(text));
    let file_path = module_path(file);
    let mut scan = Scan::default();
    let mut scopes: Vec<Scope> = Vec::new();
    let mut header: Vec<Tok> = Vec::new();
    let in_test = |scopes: &[Scope]| scopes.last().is_some_and(|s| s.test);
    // The module path where the scan is: the file's, plus inline `mod`s.
    let here = |scopes: &[Scope]| -> Vec<String> {
        let mut path = file_path.clone();
        path.extend(scopes.iter().filter_map(|s| s.name.clone()));
        path
    };
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = (&toks[i].0, toks[i].1);
        match tok {
            Tok::Punct('{') => {
                let test = in_test(&scopes);
                let (kind, name) = match item_of(&header) {
                    (Some("mod"), Some(name)) => (ScopeKind::Mod, Some(name.to_string())),
                    (Some("impl"), _) => (ScopeKind::Impl, None),
                    (Some("trait"), _) => (ScopeKind::Trait, None),
                    _ => (ScopeKind::Other, None),
                };
                let test = test || (kind == ScopeKind::Mod && has_cfg_test(&header));
                scopes.push(Scope { kind, name, test });
                header.clear();
            }
            Tok::Punct('}') => {
                scopes.pop();
                header.clear();
            }
            Tok::Punct(';') => {
                if let (Some("mod"), Some(name)) = item_of(&header) {
                    let mut path: Vec<String> =
                        scopes.iter().filter_map(|s| s.name.clone()).collect();
                    path.push(name.to_string());
                    scan.declared
                        .push((path, in_test(&scopes) || has_cfg_test(&header)));
                }
                header.clear();
            }
            _ => header.push(tok.clone()),
        }
        // Type definitions; `type` inside an impl or trait is associated.
        if let Tok::Word(w) = tok {
            let kind_ok = match w.as_str() {
                "struct" | "enum" | "union" | "trait" => true,
                "type" => !matches!(
                    scopes.last().map(|s| s.kind),
                    Some(ScopeKind::Impl | ScopeKind::Trait)
                ),
                _ => false,
            };
            // `union` is only a keyword before a name and a `{` or `<`.
            let is_item =
                w != "union" || matches!(toks.get(i + 2), Some((Tok::Punct('{' | '<'), _)));
            if kind_ok && is_item {
                if let Some(name) = word(toks.get(i + 1)) {
                    scan.types.push((name.to_string(), line, in_test(&scopes)));
                }
            }
        }
        // Paths out of this top-level module: crate::x (also $crate::x),
        // and super:: chains that climb to the root.
        let root_path_at = match tok {
            Tok::Word(w)
                if w == "crate" && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::PathSep) =>
            {
                Some(i + 2)
            }
            Tok::Word(w)
                if w == "super"
                    && !matches!(i.checked_sub(1).map(|p| &toks[p].0), Some(Tok::PathSep)) =>
            {
                let mut j = i;
                let mut ups = 0;
                while word(toks.get(j)) == Some("super")
                    && toks.get(j + 1).map(|t| &t.0) == Some(&Tok::PathSep)
                {
                    ups += 1;
                    j += 2;
                }
                (ups >= here(&scopes).len()).then_some(j)
            }
            _ => None,
        };
        if let Some(at) = root_path_at {
            let test = in_test(&scopes);
            match toks.get(at) {
                Some((Tok::Word(m), l)) => scan.uses.push((m.clone(), *l, test)),
                Some((Tok::Punct('{'), _)) => {
                    // use crate::{a::b, c}: the first word of each element.
                    let mut depth = 0;
                    let mut first = true;
                    for (t, l) in &toks[at..] {
                        match t {
                            Tok::Punct('{') => depth += 1,
                            Tok::Punct('}') => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Tok::Punct(',') if depth == 1 => first = true,
                            Tok::Word(m) if depth == 1 && first => {
                                scan.uses.push((m.clone(), *l, test));
                                first = false;
                            }
                            _ if depth == 1 => first = false,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    scan
}

/// Every file's scan, and which files are test code (declared under
/// `#[cfg(test)]`, or by a file that is).
pub fn scan_all() -> (BTreeMap<PathBuf, Scan>, BTreeSet<PathBuf>) {
    let files = sources();
    let scans: BTreeMap<PathBuf, Scan> = files
        .iter()
        .map(|f| {
            (
                f.clone(),
                scan(f, &fs::read_to_string(src().join(f)).unwrap()),
            )
        })
        .collect();
    let file_of = |module: &[String]| -> Option<PathBuf> {
        let base: PathBuf = module.iter().collect();
        [base.with_extension("rs"), base.join("mod.rs")]
            .into_iter()
            .find(|p| scans.contains_key(p))
    };
    let mut test_files = BTreeSet::new();
    loop {
        let before = test_files.len();
        for (file, scan) in &scans {
            let parent_test = test_files.contains(file);
            for (rel, test) in &scan.declared {
                let mut module = module_path(file);
                module.extend(rel.iter().cloned());
                if *test || parent_test {
                    if let Some(child) = file_of(&module) {
                        test_files.insert(child);
                    }
                }
            }
        }
        if test_files.len() == before {
            break;
        }
    }
    (scans, test_files)
}

pub fn top_module(file: &Path) -> String {
    match module_path(file).first() {
        Some(m) => m.clone(),
        None => "lib".to_string(),
    }
}

#[test]
fn the_lexer_sees_what_the_rules_need() {
    let text = r##"
//! use crate::checks; in a comment
use crate::{net::path, failure::Failure};
use super::super::transport::Thing;
const S: &str = "crate::cli::x { struct Fake";
const R: &str = r#"crate::cli"#;
const C: char = '{';
fn f<'a>(x: &'a str) -> &'a str { x }
pub struct Real<'a>(&'a str);
impl std::ops::Add for Real<'_> { type Output = u8; }
#[cfg(test)]
mod tests {
    struct Scaffold;
    use crate::checks::x;
}
mod inner;
#[cfg(test)]
mod tests_file;
"##;
    let s = scan(Path::new("net/conn.rs"), text);
    let uses: Vec<(&str, bool)> = s.uses.iter().map(|(m, _, t)| (m.as_str(), *t)).collect();
    // From net/conn.rs, super::super climbs to the root: `transport`.
    assert_eq!(
        uses,
        [
            ("net", false),
            ("failure", false),
            ("transport", false),
            ("checks", true)
        ]
    );
    let types: Vec<(&str, bool)> = s.types.iter().map(|(n, _, t)| (n.as_str(), *t)).collect();
    assert_eq!(types, [("Real", false), ("Scaffold", true)]);
    assert_eq!(
        s.declared,
        [
            (vec!["inner".to_string()], false),
            (vec!["tests_file".to_string()], true)
        ]
    );
}
