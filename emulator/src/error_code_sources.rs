//! A check that every Cloudflare error code the emulator answers with carries its public source,
//! or the plain statement that it has none, in a comment of the file that produces it.
//!
//! The check reads every `.rs` file under `src` and finds the code at each site that produces one:
//! the code argument of `ApiError::new`, `ApiError::bad_request`, `ApiError::not_found`,
//! `ApiError::conflict` and `parse_json`; the R2 binding's `err` and `R2Error`; the upload's
//! `missing`; and a `"code": N` in a JSON literal. A code written as a number must appear as that
//! number in a comment (`//`, `///` or `//!`) of the same file. A code written as a constant must
//! name a `const …: u32` of the crate, and every such constant's number must appear in a comment
//! of the file that declares it (its doc comment, or the module's "Sources" paragraph). A code
//! passed on in a variable is checked where the number is written.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The sites that produce a code: the callee, written as it is called, and the position of the
/// code among its arguments.
const SITES: &[(&str, usize)] = &[
    ("ApiError::new(", 1),
    ("ApiError::bad_request(", 0),
    ("ApiError::not_found(", 0),
    ("ApiError::conflict(", 0),
    ("parse_json(", 1),
    ("R2Error(", 1),
    ("err(", 1),
    ("missing(", 0),
];

/// A source file split into its code (comments blanked, strings kept) and its comments' text.
struct Split {
    code: String,
    comments: String,
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits Rust source into code and comments. Strings, raw strings and character literals stay in
/// the code, so that `//` or `/*` inside them starts no comment; newlines are kept in the code so
/// that positions in it have the source's line numbers.
fn split(src: &str) -> Split {
    let c: Vec<char> = src.chars().collect();
    let (mut code, mut comments) = (String::new(), String::new());
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(k).copied();
        match c[i] {
            '/' if at(i + 1) == Some('/') => {
                while i < c.len() && c[i] != '\n' {
                    comments.push(c[i]);
                    i += 1;
                }
                comments.push('\n');
            }
            '/' if at(i + 1) == Some('*') => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && at(i + 1) == Some('*') {
                        depth += 1;
                        comments.push_str("/*");
                        i += 2;
                    } else if c[i] == '*' && at(i + 1) == Some('/') {
                        depth -= 1;
                        comments.push_str("*/");
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        comments.push(c[i]);
                        code.push(if c[i] == '\n' { '\n' } else { ' ' });
                        i += 1;
                    }
                }
                comments.push('\n');
            }
            'r' if (i == 0 || !is_ident(c[i - 1])) && matches!(at(i + 1), Some('"' | '#')) && {
                let mut k = i + 1;
                while at(k) == Some('#') {
                    k += 1;
                }
                at(k) == Some('"')
            } =>
            {
                let mut k = i + 1;
                let mut hashes = 0;
                while c[k] == '#' {
                    hashes += 1;
                    k += 1;
                }
                k += 1;
                while k < c.len() {
                    if c[k] == '"' && (1..=hashes).all(|h| at(k + h) == Some('#')) {
                        k += 1 + hashes;
                        break;
                    }
                    k += 1;
                }
                code.extend(&c[i..k.min(c.len())]);
                i = k;
            }
            '"' => {
                let mut k = i + 1;
                while k < c.len() && c[k] != '"' {
                    k += if c[k] == '\\' { 2 } else { 1 };
                }
                let end = (k + 1).min(c.len());
                code.extend(&c[i..end]);
                i = end;
            }
            '\'' => {
                // A character literal ('x', '\n', '\'', '\u{1F}') or a lifetime ('a).
                let end = if at(i + 1) == Some('\\') {
                    (i + 3..c.len()).find(|&k| c[k] == '\'').map(|k| k + 1)
                } else if at(i + 2) == Some('\'') {
                    Some(i + 3)
                } else {
                    None
                }
                .unwrap_or(i + 1);
                code.extend(&c[i..end]);
                i = end;
            }
            ch => {
                code.push(ch);
                i += 1;
            }
        }
    }
    Split { code, comments }
}

/// The whole numbers a comment text names (`10_001` reads as 10001; the digits of a word such as
/// `v4code` are no number).
fn numbers(text: &str) -> BTreeSet<u64> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = BTreeSet::new();
    let mut k = 0;
    while k < chars.len() {
        let starts = chars[k].is_ascii_digit() && (k == 0 || !is_ident(chars[k - 1]));
        if !starts {
            k += 1;
            continue;
        }
        let mut digits = String::new();
        while k < chars.len() {
            if chars[k].is_ascii_digit() {
                digits.push(chars[k]);
            } else if !(chars[k] == '_' && chars.get(k + 1).is_some_and(char::is_ascii_digit)) {
                break;
            }
            k += 1;
        }
        let ends = k == chars.len() || !is_ident(chars[k]);
        if ends && let Ok(n) = digits.parse() {
            out.insert(n);
        }
    }
    out
}

/// The arguments of the call whose `(` is just before `code[start..]`, split at top-level commas.
fn arguments(code: &str, start: usize) -> Vec<String> {
    let mut args = vec![String::new()];
    let mut depth = 0usize;
    let mut chars = code[start..].chars();
    while let Some(ch) = chars.next() {
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => break,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                args.push(String::new());
                continue;
            }
            '"' => {
                let last = args.last_mut().expect("one argument at least");
                last.push('"');
                while let Some(s) = chars.next() {
                    last.push(s);
                    match s {
                        '\\' => last.extend(chars.next()),
                        '"' => break,
                        _ => {}
                    }
                }
                continue;
            }
            _ => {}
        }
        args.last_mut().expect("one argument at least").push(ch);
    }
    args
}

/// What a code argument is.
#[derive(Debug, PartialEq)]
enum Code {
    /// A number written at the site.
    Literal(u64),
    /// A constant, by its name (the last segment of its path).
    Constant(String),
    /// Anything else (a variable, a field): the code is checked where its number is written.
    Forwarded,
}

fn classify(arg: &str) -> Code {
    let arg = arg.trim();
    let digits: String = arg
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .chars()
        .filter(|&c| c != '_')
        .collect();
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return digits.parse().map_or(Code::Forwarded, Code::Literal);
    }
    let last = arg.rsplit("::").next().unwrap_or(arg);
    let path_ok = arg
        .split("::")
        .all(|seg| !seg.is_empty() && seg.chars().all(is_ident));
    let constant = last.starts_with(|c: char| c.is_ascii_uppercase())
        && last
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if path_ok && constant {
        Code::Constant(last.to_owned())
    } else {
        Code::Forwarded
    }
}

/// One code found at a site: the file, its line, the code and how the site wrote it.
#[derive(Debug)]
struct Found {
    line: usize,
    code: Code,
    text: String,
}

fn line_of(code: &str, at: usize) -> usize {
    code[..at].matches('\n').count() + 1
}

/// The codes produced in one file's code text.
fn codes_in(code: &str) -> Vec<Found> {
    let mut out = Vec::new();
    for &(callee, index) in SITES {
        for (at, _) in code.match_indices(callee) {
            let bare_name = !callee.starts_with("ApiError::");
            if bare_name && code[..at].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let args = arguments(code, at + callee.len());
            if let Some(arg) = args.get(index) {
                out.push(Found {
                    line: line_of(code, at),
                    code: classify(arg),
                    text: format!("{callee}{}", arg.trim()),
                });
            }
        }
    }
    for (at, _) in code.match_indices("\"code\":") {
        let rest = code[at + "\"code\":".len()..].trim_start();
        let number: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = number.parse() {
            out.push(Found {
                line: line_of(code, at),
                code: Code::Literal(n),
                text: format!("\"code\": {number}"),
            });
        }
    }
    out
}

/// The `u32` constants declared in one file's code text: name, line and value (a number, or
/// another constant).
fn u32_constants(code: &str) -> Vec<(String, usize, Code)> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("const ") {
        if code[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let rest = &code[at + "const ".len()..];
        let Some((name, after)) = rest.split_once(':') else {
            continue;
        };
        let Some(value) = after.trim_start().strip_prefix("u32") else {
            continue;
        };
        let Some(value) = value.trim_start().strip_prefix('=') else {
            continue;
        };
        let value = value.split(';').next().unwrap_or("");
        out.push((name.trim().to_owned(), line_of(code, at), classify(value)));
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The problems of a set of files (name, source): codes with no comment naming them, and
/// constants the check cannot find. Also how many sites and constants it saw.
fn check(files: &[(String, String)]) -> (Vec<String>, usize, usize) {
    let mut problems = Vec::new();
    let mut constants = BTreeSet::new();
    let mut sites = Vec::new();
    let mut declared = 0;
    for (name, src) in files {
        let Split { code, comments } = split(src);
        let named = numbers(&comments);
        for (constant, line, value) in u32_constants(&code) {
            constants.insert(constant.clone());
            if let Code::Literal(n) = value {
                declared += 1;
                if !named.contains(&n) {
                    problems.push(format!(
                        "{name}:{line}: constant {constant} = {n} has no comment naming {n} and its source"
                    ));
                }
            }
        }
        for found in codes_in(&code) {
            if let Code::Literal(n) = found.code
                && !named.contains(&n)
            {
                problems.push(format!(
                    "{name}:{}: code {n} (`{}`) has no comment naming {n} and its source",
                    found.line, found.text
                ));
            }
            sites.push((name.clone(), found));
        }
    }
    let counted = sites
        .iter()
        .filter(|(_, f)| f.code != Code::Forwarded)
        .count();
    for (name, found) in sites {
        if let Code::Constant(c) = &found.code
            && !constants.contains(c)
        {
            problems.push(format!(
                "{name}:{}: code `{}` is not a `const …: u32` the check can read",
                found.line, found.text
            ));
        }
    }
    (problems, counted, declared)
}

#[test]
fn every_error_code_names_its_source_in_a_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&root, &mut paths);
    let files: Vec<(String, String)> = paths
        .iter()
        // This file's own fixtures are strings that read like code sites.
        .filter(|p| !p.ends_with("error_code_sources.rs"))
        .map(|p| {
            let name = p.strip_prefix(&root).unwrap_or(p).display().to_string();
            let src = std::fs::read_to_string(p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            (name, src)
        })
        .collect();
    let (problems, sites, constants) = check(&files);
    // A scanner that found nothing would pass anything: the emulator has well over this many.
    assert!(sites >= 100, "only {sites} code sites found");
    assert!(constants >= 30, "only {constants} code constants found");
    assert!(
        problems.is_empty(),
        "every error code needs its public source (or \"no public source\") in a comment of its \
         file:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_refuses_a_code_without_a_comment() {
    let with = |src: &str| check(&[("x.rs".to_owned(), src.to_owned())]).0;
    // Named in a comment: fine, literal or constant.
    assert!(
        with(
            "// 10001: KV's bad request (§1.5).\nfn f() { ApiError::bad_request(10_001, \"m\"); }"
        )
        .is_empty()
    );
    assert!(
        with("/// 10059: no CORS policy.\nconst NO_CORS: u32 = 10059;\nfn f() { ApiError::not_found(NO_CORS, \"m\"); }")
            .is_empty()
    );
    // Not named: refused, wherever the number hides (a string, another number).
    assert_eq!(
        with("// 100010\nfn f() { ApiError::new(StatusCode::CONFLICT, 10001, \"10001\"); }").len(),
        1
    );
    assert_eq!(with("const X: u32 = 7003;").len(), 1);
    assert_eq!(with("fn f() { json!({\"code\": 971}); }").len(), 1);
    assert_eq!(with("fn f() { err(400, 10022, \"m\"); }").len(), 1);
    // A constant the check cannot read, and a forwarded variable (checked where it is written).
    assert_eq!(
        with("fn f() { ApiError::conflict(code::GONE, \"m\"); }").len(),
        1
    );
    assert!(
        with("fn f(code: u32) { ApiError::bad_request(code, \"m\"); map_err(1, 2); }").is_empty()
    );
    // `//` inside a string is not a comment.
    assert_eq!(
        with("fn f() { ApiError::bad_request(10001, \"see https://x // 10001\"); }").len(),
        1
    );
}

#[test]
fn comments_and_code_are_told_apart() {
    let s = split("let a = '\"'; // one 1\nlet b = r#\"// not\"#; /* two\n2 */ let c = 'x';");
    assert!(s.comments.contains("one 1") && s.comments.contains("two\n2"));
    assert!(!s.comments.contains("not"));
    assert_eq!(s.code.matches('\n').count(), 2);
    assert_eq!(
        numbers("codes 10_001, 7003 (§1.5), not v4code nor 12ab"),
        [1, 5, 7003, 10001].into()
    );
    assert_eq!(
        classify("crate::queue_rules::code::QUEUE_NOT_FOUND"),
        Code::Constant("QUEUE_NOT_FOUND".into())
    );
    assert_eq!(classify(" 100_119 "), Code::Literal(100_119));
    assert_eq!(classify("e.code"), Code::Forwarded);
}
