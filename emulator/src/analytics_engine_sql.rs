//! The language of the Analytics Engine SQL API, as far as the emulator runs it: a statement's
//! text in, a plan over `store::analytics_engine`'s table out (SQLite text with bound
//! parameters), and the rows rendered in the format the statement asks for.
//!
//! Cloudflare answers with ClickHouse underneath, and so does this module's output: the JSON
//! format is `{meta: [{name, type}], data: [{…}], rows, rows_before_limit_at_least}` with
//! ClickHouse's type names (`String`, `DateTime`, `UInt32`, `UInt64`, `Float64`), 64-bit integers
//! written as strings (ClickHouse's `output_format_json_quote_64bit_integers`), a DateTime as
//! `YYYY-MM-DD hh:mm:ss` in UTC, NaN as `null`, and an expression without an alias named as
//! ClickHouse names it (`count()`, `sum(double1)`, `multiply(double1, 2)`).
//!
//! What runs:
//! - `SHOW TABLES [FORMAT f]`: the datasets written to, in a column `dataset`;
//! - `SELECT [DISTINCT] items [FROM dataset] [WHERE e] [GROUP BY e, …] [HAVING e]
//!   [ORDER BY e [ASC|DESC], …] [LIMIT n | LIMIT ALL | LIMIT n OFFSET m | LIMIT m, n] [OFFSET m]
//!   [FORMAT JSON|JSONEachRow|TabSeparated]`;
//! - items and conditions over the columns (`dataset`, `timestamp`, `_sample_interval`, `index1`,
//!   `blob1`…`blob20`, `double1`…`double20`), `*`, aliases (usable in every clause, as in
//!   ClickHouse), string and number literals, `+ - * /`, comparisons, `AND`/`OR`/`NOT`, `IN`,
//!   `BETWEEN`, the aggregates `count()`/`count(*)`/`count(e)`, `sum`, `avg`, `min`, `max`, and
//!   `now()` with `INTERVAL 'n' SECOND|MINUTE|HOUR|DAY|WEEK` (a DateTime also compares with a
//!   `'YYYY-MM-DD hh:mm:ss'` literal).
//!
//! A refusal is [`SqlError::Invalid`] when Cloudflare would refuse the statement too (a syntax
//! error, an unknown column, a column outside `GROUP BY`, mismatched types), and
//! [`SqlError::Unsupported`] when it is Analytics Engine SQL outside the subset above (another
//! function, a subquery, `JOIN`, `CASE`, `LIKE`, …); the message names what it met.

use std::collections::HashMap;
use std::fmt::Write as _;

use rusqlite::types::Value as SqlValue;
use serde_json::{Map, Value, json};

use crate::store::analytics_engine::{MAX_FIELDS, TABLE};

/// Why a statement does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqlError {
    /// Not a statement Cloudflare would run: a syntax error, an unknown column, a type mismatch.
    Invalid(String),
    /// Analytics Engine SQL outside the subset the emulator runs; the message names the construct.
    Unsupported(String),
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlError::Invalid(m) | SqlError::Unsupported(m) => f.write_str(m),
        }
    }
}

type Result<T> = std::result::Result<T, SqlError>;

fn invalid<T>(message: impl Into<String>) -> Result<T> {
    Err(SqlError::Invalid(message.into()))
}

fn unsupported<T>(what: impl std::fmt::Display) -> Result<T> {
    Err(SqlError::Unsupported(format!(
        "{what} is not supported by the emulator's Analytics Engine SQL (it runs SHOW TABLES and SELECT with columns, literals, + - * /, comparisons, AND/OR/NOT, IN, BETWEEN, count/sum/avg/min/max, now() and INTERVAL, over one dataset, with WHERE, GROUP BY, HAVING, ORDER BY, LIMIT, OFFSET and FORMAT)"
    )))
}

/// How the answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// One JSON object with `meta`, `data`, `rows` and `rows_before_limit_at_least` (the default).
    Json,
    /// One JSON object per row, one per line.
    JsonEachRow,
    /// One line per row, values separated by tabs, no header.
    TabSeparated,
}

/// A statement, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Statement {
    /// `SHOW TABLES`: the account's datasets.
    ShowTables(Format),
    /// A `SELECT`.
    Select(Plan),
}

/// A `SELECT` compiled for SQLite.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// The dataset of `FROM`, when there is one; it must exist.
    pub dataset: Option<String>,
    /// The answer's columns: name and type.
    pub columns: Vec<(String, Ty)>,
    /// The SQLite text, without LIMIT or OFFSET; parameters are `?N`.
    pub sql: String,
    pub params: Vec<SqlValue>,
    pub limit: Option<u64>,
    pub offset: u64,
    pub format: Format,
}

/// A value's type, by ClickHouse's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    String,
    DateTime,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Int64,
    Float64,
    /// An `INTERVAL`, in seconds: only added to or subtracted from a DateTime.
    Interval,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::String => "String",
            Ty::DateTime => "DateTime",
            Ty::UInt8 => "UInt8",
            Ty::UInt16 => "UInt16",
            Ty::UInt32 => "UInt32",
            Ty::UInt64 => "UInt64",
            Ty::Int64 => "Int64",
            Ty::Float64 => "Float64",
            Ty::Interval => "IntervalSecond",
        }
    }

    fn is_numeric(self) -> bool {
        matches!(
            self,
            Ty::UInt8 | Ty::UInt16 | Ty::UInt32 | Ty::UInt64 | Ty::Int64 | Ty::Float64
        )
    }

    fn is_unsigned(self) -> bool {
        matches!(self, Ty::UInt8 | Ty::UInt16 | Ty::UInt32 | Ty::UInt64)
    }
}

/// A column of a dataset's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Dataset,
    Timestamp,
    SampleInterval,
    Index1,
    Blob(usize),
    Double(usize),
}

impl Col {
    fn parse(name: &str) -> Option<Col> {
        let numbered = |prefix: &str| {
            name.strip_prefix(prefix)
                .filter(|n| !n.starts_with('0'))
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| (1..=MAX_FIELDS).contains(n))
        };
        match name {
            "dataset" => Some(Col::Dataset),
            "timestamp" => Some(Col::Timestamp),
            "_sample_interval" => Some(Col::SampleInterval),
            "index1" => Some(Col::Index1),
            _ => numbered("blob")
                .map(Col::Blob)
                .or_else(|| numbered("double").map(Col::Double)),
        }
    }

    /// Every column, in the table's order.
    fn all() -> Vec<Col> {
        let mut out = vec![
            Col::Dataset,
            Col::Timestamp,
            Col::SampleInterval,
            Col::Index1,
        ];
        out.extend((1..=MAX_FIELDS).map(Col::Blob));
        out.extend((1..=MAX_FIELDS).map(Col::Double));
        out
    }

    fn name(self) -> String {
        match self {
            Col::Dataset => "dataset".into(),
            Col::Timestamp => "timestamp".into(),
            Col::SampleInterval => "_sample_interval".into(),
            Col::Index1 => "index1".into(),
            Col::Blob(i) => format!("blob{i}"),
            Col::Double(i) => format!("double{i}"),
        }
    }

    fn ty(self) -> Ty {
        match self {
            Col::Dataset | Col::Index1 | Col::Blob(_) => Ty::String,
            Col::Timestamp => Ty::DateTime,
            Col::SampleInterval => Ty::UInt32,
            Col::Double(_) => Ty::Float64,
        }
    }

    /// The column in the table: `timestamp` is whole seconds of the stored milliseconds.
    fn sql(self) -> String {
        match self {
            Col::Timestamp => "(ts_ms / 1000)".into(),
            Col::SampleInterval => "sample_interval".into(),
            other => other.name(),
        }
    }
}

const COLUMN_LIST: &str =
    "dataset, timestamp, _sample_interval, index1, blob1…blob20, double1…double20";

/// Reads `text` into a statement over `account`'s datasets; `now` (seconds since the epoch) is
/// what `now()` returns.
pub(crate) fn parse(text: &str, account: &str, now: i64) -> Result<Statement> {
    let mut parser = Parser {
        toks: lex(text)?,
        pos: 0,
    };
    if parser.toks.is_empty() {
        return invalid("the request body holds no SQL statement");
    }
    match parser.statement()? {
        Parsed::ShowTables(format) => Ok(Statement::ShowTables(format)),
        Parsed::Select(select) => Ok(Statement::Select(compile(*select, account, now)?)),
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Num(String),
    Sym(&'static str),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => w.clone(),
            Tok::Quoted(q) => format!("\"{q}\""),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Num(n) => n.clone(),
            Tok::Sym(s) => (*s).to_owned(),
        }
    }
}

const SYMBOLS: [&str; 19] = [
    "<=", ">=", "!=", "<>", "==", "::", "(", ")", ",", "*", "+", "-", "/", "%", "=", "<", ">", ";",
    ".",
];

fn lex(text: &str) -> Result<Vec<Tok>> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && at(i + 1) == Some('-') {
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == Some('*') {
            let end = (i + 2..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == '*' && chars[j + 1] == '/');
            match end {
                Some(j) => i = j + 2,
                None => return invalid("a /* comment is not closed"),
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while at(i).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                i += 1;
            }
            out.push(Tok::Word(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() || (c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while at(i).is_some_and(|c| c.is_ascii_digit() || c == '.') {
                i += 1;
            }
            if at(i).is_some_and(|c| c == 'e' || c == 'E') {
                let sign = usize::from(at(i + 1).is_some_and(|c| c == '+' || c == '-'));
                if at(i + 1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                    i += 1 + sign;
                    while at(i).is_some_and(|c| c.is_ascii_digit()) {
                        i += 1;
                    }
                }
            }
            if at(i).is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
                return invalid(format!(
                    "malformed number starting {:?}",
                    chars[start..=i].iter().collect::<String>()
                ));
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c == '\'' {
            let (s, next) = quoted(&chars, i, '\'', true)?;
            out.push(Tok::Str(s));
            i = next;
        } else if c == '"' || c == '`' {
            let (s, next) = quoted(&chars, i, c, false)?;
            out.push(Tok::Quoted(s));
            i = next;
        } else if let Some(sym) = SYMBOLS
            .iter()
            .find(|s| s.chars().enumerate().all(|(k, sc)| at(i + k) == Some(sc)))
        {
            out.push(Tok::Sym(sym));
            i += sym.chars().count();
        } else {
            return invalid(format!("unexpected character {c:?} in the query"));
        }
    }
    Ok(out)
}

/// A quoted string or identifier starting at `chars[start]` (the quote): its text and the index
/// after it. The quote doubled stands for itself; in strings, backslash escapes too.
fn quoted(chars: &[char], start: usize, quote: char, escapes: bool) -> Result<(String, usize)> {
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                let what = if escapes {
                    "string literal"
                } else {
                    "quoted name"
                };
                return invalid(format!("a {what} is not closed"));
            }
            Some(&c) if c == quote => {
                if chars.get(i + 1) == Some(&quote) {
                    out.push(quote);
                    i += 2;
                } else {
                    return Ok((out, i + 1));
                }
            }
            Some('\\') if escapes => {
                let escaped = match chars.get(i + 1) {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some('0') => '\0',
                    Some(&other) => other,
                    None => return invalid("a string literal ends with a backslash"),
                };
                out.push(escaped);
                i += 2;
            }
            Some(&c) => {
                out.push(c);
                i += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    /// A name: a column or an alias (resolved before compiling).
    Ident(String),
    Col(Col),
    Str(String),
    Int(u64),
    Float(f64),
    /// An interval in seconds, with ClickHouse's name for it (`toIntervalDay(1)`).
    Interval(i64, String),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Expr>, bool),
    /// A function call: its name as written, its arguments, and whether it was `f(*)`.
    Call(String, Vec<Expr>, bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl Op {
    /// ClickHouse's function for the operator (how an unaliased column is named).
    fn function(self) -> &'static str {
        match self {
            Op::Add => "plus",
            Op::Sub => "minus",
            Op::Mul => "multiply",
            Op::Div => "divide",
            Op::Eq => "equals",
            Op::Ne => "notEquals",
            Op::Lt => "less",
            Op::Le => "lessOrEquals",
            Op::Gt => "greater",
            Op::Ge => "greaterOrEquals",
            Op::And => "and",
            Op::Or => "or",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::And => "AND",
            Op::Or => "OR",
        }
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Star,
    Expr(Expr, Option<String>),
}

#[derive(Debug, Clone, PartialEq)]
struct Select {
    distinct: bool,
    items: Vec<Item>,
    from: Option<String>,
    filter: Option<Expr>,
    group: Vec<Expr>,
    having: Option<Expr>,
    order: Vec<(Expr, bool)>,
    limit: Option<u64>,
    offset: u64,
    format: Format,
}

enum Parsed {
    ShowTables(Format),
    Select(Box<Select>),
}

/// Words that end an expression, and so are never an alias without `AS`.
const RESERVED: [&str; 27] = [
    "FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "FORMAT", "AS", "AND", "OR",
    "NOT", "IN", "BETWEEN", "LIKE", "ILIKE", "IS", "ASC", "DESC", "UNION", "JOIN", "SETTINGS",
    "SAMPLE", "PREWHERE", "ARRAY", "WINDOW", "BY",
];

fn reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn peek_at(&self, ahead: usize) -> Option<&Tok> {
        self.toks.get(self.pos + ahead)
    }

    fn bump(&mut self) -> Option<Tok> {
        let tok = self.toks.get(self.pos).cloned();
        self.pos += usize::from(tok.is_some());
        tok
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let found = self.is_kw(kw);
        self.pos += usize::from(found);
        found
    }

    fn expect_kw(&mut self, kw: &str) -> Result<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            invalid(format!("expected {kw}, found {}", self.found()))
        }
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        let found = matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym);
        self.pos += usize::from(found);
        found
    }

    fn expect_sym(&mut self, sym: &str) -> Result<()> {
        if self.eat_sym(sym) {
            Ok(())
        } else {
            invalid(format!("expected {sym}, found {}", self.found()))
        }
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the query".to_owned(), Tok::describe)
    }

    fn statement(&mut self) -> Result<Parsed> {
        if self.eat_kw("SHOW") {
            if !self.eat_kw("TABLES") {
                return unsupported(format!("SHOW {}", self.found()));
            }
            let format = self.format()?;
            self.end()?;
            return Ok(Parsed::ShowTables(format));
        }
        if self.is_kw("WITH") {
            return unsupported("WITH");
        }
        if !self.eat_kw("SELECT") {
            return invalid(format!(
                "the Analytics Engine SQL API runs SELECT and SHOW statements only, found {}",
                self.found()
            ));
        }
        let distinct = self.eat_kw("DISTINCT");
        let mut items = Vec::new();
        loop {
            if self.eat_sym("*") {
                items.push(Item::Star);
            } else {
                let expr = self.expr()?;
                let alias = if self.eat_kw("AS") {
                    Some(self.name("an alias after AS")?)
                } else {
                    match self.peek() {
                        Some(Tok::Word(w)) if !reserved(w) => Some(self.name("an alias")?),
                        Some(Tok::Quoted(_)) => Some(self.name("an alias")?),
                        _ => None,
                    }
                };
                items.push(Item::Expr(expr, alias));
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        let mut select = Select {
            distinct,
            items,
            from: None,
            filter: None,
            group: Vec::new(),
            having: None,
            order: Vec::new(),
            limit: None,
            offset: 0,
            format: Format::Json,
        };
        if self.eat_kw("FROM") {
            if self.eat_sym("(") {
                return unsupported("a subquery in FROM");
            }
            select.from = Some(self.name("a dataset name after FROM")?);
            if self.eat_sym(".") {
                return unsupported("a table name with a database (db.table)");
            }
            for join in [
                "JOIN", "ARRAY", "LEFT", "RIGHT", "INNER", "FULL", "CROSS", "ANY", "ALL",
            ] {
                if self.is_kw(join) {
                    return unsupported("JOIN");
                }
            }
            if self.is_kw("FINAL") || self.is_kw("SAMPLE") {
                return unsupported(self.found());
            }
            if self.eat_sym(",") {
                return unsupported("more than one table in FROM");
            }
        }
        if self.is_kw("PREWHERE") {
            return unsupported("PREWHERE");
        }
        if self.eat_kw("WHERE") {
            select.filter = Some(self.expr()?);
        }
        if self.eat_kw("GROUP") {
            self.expect_kw("BY")?;
            select.group = self.expr_list()?;
            if self.is_kw("WITH") {
                return unsupported("GROUP BY … WITH (ROLLUP, CUBE, TOTALS)");
            }
        }
        if self.eat_kw("HAVING") {
            select.having = Some(self.expr()?);
        }
        if self.is_kw("WINDOW") || self.is_kw("QUALIFY") {
            return unsupported(self.found());
        }
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            loop {
                let expr = self.expr()?;
                let desc = if self.eat_kw("DESC") || self.eat_kw("DESCENDING") {
                    true
                } else {
                    let _ = self.eat_kw("ASC") || self.eat_kw("ASCENDING");
                    false
                };
                if self.is_kw("NULLS") || self.is_kw("COLLATE") || self.is_kw("WITH") {
                    return unsupported(format!("ORDER BY … {}", self.found()));
                }
                select.order.push((expr, desc));
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        if self.eat_kw("LIMIT") && !self.eat_kw("ALL") {
            let first = self.count("LIMIT")?;
            if self.eat_sym(",") {
                select.offset = first;
                select.limit = Some(self.count("LIMIT")?);
            } else {
                select.limit = Some(first);
            }
            if self.is_kw("BY") {
                return unsupported("LIMIT … BY");
            }
            if self.is_kw("WITH") {
                return unsupported("LIMIT … WITH TIES");
            }
        }
        if self.eat_kw("OFFSET") {
            select.offset = self.count("OFFSET")?;
            let _ = self.eat_kw("ROWS") || self.eat_kw("ROW");
        }
        if self.is_kw("UNION") || self.is_kw("INTERSECT") || self.is_kw("EXCEPT") {
            return unsupported(self.found());
        }
        if self.is_kw("SETTINGS") {
            return unsupported("SETTINGS");
        }
        select.format = self.format()?;
        self.end()?;
        Ok(Parsed::Select(Box::new(select)))
    }

    /// `FORMAT name`, when present.
    fn format(&mut self) -> Result<Format> {
        if !self.eat_kw("FORMAT") {
            return Ok(Format::Json);
        }
        match self.bump() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("JSON") => Ok(Format::Json),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("JSONEachRow") => Ok(Format::JsonEachRow),
            Some(Tok::Word(w))
                if w.eq_ignore_ascii_case("TabSeparated") || w.eq_ignore_ascii_case("TSV") =>
            {
                Ok(Format::TabSeparated)
            }
            Some(Tok::Word(w)) => unsupported(format!("FORMAT {w}")),
            other => invalid(format!(
                "expected a format name after FORMAT, found {}",
                other.map_or_else(|| "the end of the query".to_owned(), |t| t.describe())
            )),
        }
    }

    /// The end of the statement (one `;` allowed).
    fn end(&mut self) -> Result<()> {
        let _ = self.eat_sym(";");
        match self.peek() {
            None => Ok(()),
            Some(_) => invalid(format!(
                "unexpected {} where the statement should end",
                self.found()
            )),
        }
    }

    /// A name: a word or a quoted identifier.
    fn name(&mut self, what: &str) -> Result<String> {
        match self.bump() {
            Some(Tok::Word(w)) if !reserved(&w) => Ok(w),
            Some(Tok::Quoted(q)) => Ok(q),
            other => invalid(format!(
                "expected {what}, found {}",
                other.map_or_else(|| "the end of the query".to_owned(), |t| t.describe())
            )),
        }
    }

    /// A non-negative integer (LIMIT, OFFSET).
    fn count(&mut self, clause: &str) -> Result<u64> {
        match self.bump() {
            Some(Tok::Num(n)) => n
                .parse::<u64>()
                .or_else(|_| invalid(format!("{clause} needs a whole number, found {n}"))),
            other => invalid(format!(
                "{clause} needs a whole number, found {}",
                other.map_or_else(|| "the end of the query".to_owned(), |t| t.describe())
            )),
        }
    }

    fn expr_list(&mut self) -> Result<Vec<Expr>> {
        let mut out = vec![self.expr()?];
        while self.eat_sym(",") {
            out.push(self.expr()?);
        }
        Ok(out)
    }

    fn expr(&mut self) -> Result<Expr> {
        let mut left = self.and()?;
        while self.eat_kw("OR") {
            let right = self.and()?;
            left = Expr::Bin(Op::Or, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr> {
        let mut left = self.not()?;
        while self.eat_kw("AND") {
            let right = self.not()?;
            left = Expr::Bin(Op::And, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr> {
        if self.eat_kw("NOT") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr> {
        let left = self.additive()?;
        let op = match self.peek() {
            Some(Tok::Sym("=" | "==")) => Some(Op::Eq),
            Some(Tok::Sym("!=" | "<>")) => Some(Op::Ne),
            Some(Tok::Sym("<")) => Some(Op::Lt),
            Some(Tok::Sym("<=")) => Some(Op::Le),
            Some(Tok::Sym(">")) => Some(Op::Gt),
            Some(Tok::Sym(">=")) => Some(Op::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.pos += 1;
            let right = self.additive()?;
            return Ok(Expr::Bin(op, Box::new(left), Box::new(right)));
        }
        let negated = self.is_kw("NOT")
            && matches!(self.peek_at(1), Some(Tok::Word(w)) if ["IN", "BETWEEN", "LIKE", "ILIKE"].iter().any(|k| k.eq_ignore_ascii_case(w)));
        if negated {
            self.pos += 1;
        }
        if self.eat_kw("IN") {
            self.expect_sym("(")?;
            if self.is_kw("SELECT") {
                return unsupported("a subquery in IN");
            }
            let list = self.expr_list()?;
            self.expect_sym(")")?;
            return Ok(Expr::In(Box::new(left), list, negated));
        }
        if self.eat_kw("BETWEEN") {
            let low = self.additive()?;
            self.expect_kw("AND")?;
            let high = self.additive()?;
            let range = Expr::Bin(
                Op::And,
                Box::new(Expr::Bin(Op::Ge, Box::new(left.clone()), Box::new(low))),
                Box::new(Expr::Bin(Op::Le, Box::new(left), Box::new(high))),
            );
            return Ok(if negated {
                Expr::Not(Box::new(range))
            } else {
                range
            });
        }
        for op in ["LIKE", "ILIKE", "IS", "GLOBAL"] {
            if self.is_kw(op) {
                return unsupported(op);
            }
        }
        if negated {
            return unsupported(format!("NOT {}", self.found()));
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr> {
        let mut left = self.multiplicative()?;
        loop {
            let op = if self.eat_sym("+") {
                Op::Add
            } else if self.eat_sym("-") {
                Op::Sub
            } else {
                return Ok(left);
            };
            let right = self.multiplicative()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat_sym("*") {
                Op::Mul
            } else if self.eat_sym("/") {
                Op::Div
            } else if matches!(self.peek(), Some(Tok::Sym("%"))) {
                return unsupported("the % operator");
            } else {
                return Ok(left);
            };
            let right = self.unary()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr> {
        if self.eat_sym("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        let expr = self.primary()?;
        if matches!(self.peek(), Some(Tok::Sym("::"))) {
            return unsupported("a :: cast");
        }
        if matches!(self.peek(), Some(Tok::Sym("."))) {
            return unsupported("a qualified name (x.y)");
        }
        Ok(expr)
    }

    fn primary(&mut self) -> Result<Expr> {
        match self.bump() {
            Some(Tok::Num(n)) => {
                if n.contains(['.', 'e', 'E']) {
                    n.parse::<f64>()
                        .map(Expr::Float)
                        .or_else(|_| invalid(format!("malformed number {n}")))
                } else {
                    n.parse::<u64>()
                        .map(Expr::Int)
                        .or_else(|_| invalid(format!("the number {n} is too large")))
                }
            }
            Some(Tok::Str(s)) => Ok(Expr::Str(s)),
            Some(Tok::Quoted(q)) => Ok(Expr::Ident(q)),
            Some(Tok::Sym("(")) => {
                if self.is_kw("SELECT") {
                    return unsupported("a subquery");
                }
                let inner = self.expr()?;
                if self.eat_sym(",") {
                    return unsupported("a tuple");
                }
                self.expect_sym(")")?;
                Ok(inner)
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("INTERVAL") => self.interval(),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("TRUE") => Ok(Expr::Int(1)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("FALSE") => Ok(Expr::Int(0)),
            Some(Tok::Word(w))
                if w.eq_ignore_ascii_case("CASE")
                    || w.eq_ignore_ascii_case("NULL")
                    || w.eq_ignore_ascii_case("CAST")
                    || w.eq_ignore_ascii_case("EXTRACT") =>
            {
                unsupported(w.to_ascii_uppercase())
            }
            Some(Tok::Word(w)) if matches!(self.peek(), Some(Tok::Sym("("))) => {
                self.pos += 1;
                self.call(w)
            }
            Some(Tok::Word(w)) if !reserved(&w) => Ok(Expr::Ident(w)),
            other => invalid(format!(
                "expected an expression, found {}",
                other.map_or_else(|| "the end of the query".to_owned(), |t| t.describe())
            )),
        }
    }

    /// The arguments of `name(`, the parenthesis read.
    fn call(&mut self, name: String) -> Result<Expr> {
        if self.is_kw("DISTINCT") {
            return unsupported(format!("{name}(DISTINCT …)"));
        }
        let (args, star) = if self.eat_sym(")") {
            (Vec::new(), false)
        } else if self.eat_sym("*") {
            self.expect_sym(")")?;
            (Vec::new(), true)
        } else {
            let args = self.expr_list()?;
            self.expect_sym(")")?;
            (args, false)
        };
        if matches!(self.peek(), Some(Tok::Sym("("))) {
            return unsupported(format!("the parametric function {name}(…)(…)"));
        }
        if self.is_kw("OVER") {
            return unsupported("window functions (OVER)");
        }
        Ok(Expr::Call(name, args, star))
    }

    /// `INTERVAL 'n' UNIT` or `INTERVAL n UNIT`, INTERVAL read.
    fn interval(&mut self) -> Result<Expr> {
        let amount = match self.bump() {
            Some(Tok::Str(s)) | Some(Tok::Num(s)) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        let Some(amount) = amount else {
            return invalid("INTERVAL needs a whole number of units, as in INTERVAL '1' DAY");
        };
        let unit = match self.bump() {
            Some(Tok::Word(w)) => w.to_ascii_uppercase(),
            other => {
                return invalid(format!(
                    "INTERVAL needs a unit, found {}",
                    other.map_or_else(|| "the end of the query".to_owned(), |t| t.describe())
                ));
            }
        };
        let (seconds, name) = match unit.trim_end_matches('S') {
            "SECOND" => (1, "Second"),
            "MINUTE" => (60, "Minute"),
            "HOUR" => (3_600, "Hour"),
            "DAY" => (86_400, "Day"),
            "WEEK" => (604_800, "Week"),
            "MONTH" | "QUARTER" | "YEAR" => {
                return unsupported(format!("INTERVAL … {unit}"));
            }
            _ => return invalid(format!("unknown INTERVAL unit {unit}")),
        };
        Ok(Expr::Interval(
            amount.saturating_mul(seconds),
            format!("toInterval{name}({amount})"),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Meaning: names, aggregates, types, and the SQLite text

const AGGREGATES: [&str; 5] = ["count", "sum", "avg", "min", "max"];

fn is_aggregate(name: &str) -> bool {
    AGGREGATES.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// How ClickHouse names an expression that has no alias.
fn column_name(e: &Expr) -> String {
    match e {
        Expr::Ident(n) => n.clone(),
        Expr::Col(c) => c.name(),
        Expr::Str(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Expr::Int(n) => n.to_string(),
        Expr::Float(f) => f.to_string(),
        Expr::Interval(_, name) => name.clone(),
        Expr::Neg(x) => format!("negate({})", column_name(x)),
        Expr::Not(x) => format!("not({})", column_name(x)),
        Expr::Bin(op, a, b) => format!("{}({}, {})", op.function(), column_name(a), column_name(b)),
        Expr::In(x, list, negated) => format!(
            "{}({}, ({}))",
            if *negated { "notIn" } else { "in" },
            column_name(x),
            list.iter().map(column_name).collect::<Vec<_>>().join(", ")
        ),
        Expr::Call(name, args, _) => format!(
            "{name}({})",
            args.iter().map(column_name).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Whether `e` holds an aggregate function.
fn has_aggregate(e: &Expr) -> bool {
    match e {
        Expr::Call(name, args, _) => is_aggregate(name) || args.iter().any(has_aggregate),
        Expr::Neg(x) | Expr::Not(x) => has_aggregate(x),
        Expr::Bin(_, a, b) => has_aggregate(a) || has_aggregate(b),
        Expr::In(x, list, _) => has_aggregate(x) || list.iter().any(has_aggregate),
        _ => false,
    }
}

/// The first column of `e` that is neither inside an aggregate nor part of a `GROUP BY`
/// expression.
fn ungrouped(e: &Expr, groups: &[Expr]) -> Option<String> {
    if groups.contains(e) {
        return None;
    }
    match e {
        Expr::Col(c) => Some(c.name()),
        Expr::Call(name, _, _) if is_aggregate(name) => None,
        Expr::Call(_, args, _) => args.iter().find_map(|a| ungrouped(a, groups)),
        Expr::Neg(x) | Expr::Not(x) => ungrouped(x, groups),
        Expr::Bin(_, a, b) => ungrouped(a, groups).or_else(|| ungrouped(b, groups)),
        Expr::In(x, list, _) => {
            ungrouped(x, groups).or_else(|| list.iter().find_map(|l| ungrouped(l, groups)))
        }
        _ => None,
    }
}

/// Where an expression stands, for the rules on aggregates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clause {
    Select,
    Where,
    GroupBy,
    Having,
    OrderBy,
}

impl Clause {
    fn name(self) -> &'static str {
        match self {
            Clause::Select => "SELECT",
            Clause::Where => "WHERE",
            Clause::GroupBy => "GROUP BY",
            Clause::Having => "HAVING",
            Clause::OrderBy => "ORDER BY",
        }
    }
}

struct Compiler<'a> {
    aliases: HashMap<&'a str, &'a Expr>,
    has_table: bool,
    params: Vec<SqlValue>,
    now: i64,
}

impl Compiler<'_> {
    fn param(&mut self, value: SqlValue) -> String {
        self.params.push(value);
        format!("?{}", self.params.len())
    }

    /// `e` with its names resolved: an alias stands for its expression (an alias wins over a
    /// column of the same name, except inside its own definition), a column for the column.
    fn resolve(&self, e: &Expr, resolving: &mut Vec<String>) -> Result<Expr> {
        let mut inner = |x: &Expr| self.resolve(x, resolving);
        Ok(match e {
            Expr::Ident(name) => {
                if let Some(target) = self.aliases.get(name.as_str())
                    && !resolving.contains(name)
                {
                    resolving.push(name.clone());
                    let out = self.resolve(target, resolving);
                    resolving.pop();
                    return out;
                }
                match Col::parse(name) {
                    Some(c) if self.has_table => Expr::Col(c),
                    Some(_) => {
                        return invalid(format!(
                            "Missing column {name:?}: the query has no FROM, so it reads no dataset"
                        ));
                    }
                    None => {
                        return invalid(format!(
                            "Unknown column {name:?}: a dataset's columns are {COLUMN_LIST}"
                        ));
                    }
                }
            }
            Expr::Neg(x) => Expr::Neg(Box::new(inner(x)?)),
            Expr::Not(x) => Expr::Not(Box::new(inner(x)?)),
            Expr::Bin(op, a, b) => Expr::Bin(*op, Box::new(inner(a)?), Box::new(inner(b)?)),
            Expr::In(x, list, negated) => Expr::In(
                Box::new(inner(x)?),
                list.iter().map(&mut inner).collect::<Result<_>>()?,
                *negated,
            ),
            Expr::Call(name, args, star) => Expr::Call(
                name.clone(),
                args.iter().map(&mut inner).collect::<Result<_>>()?,
                *star,
            ),
            other => other.clone(),
        })
    }

    /// The SQLite text and type of a resolved expression.
    fn compile(&mut self, e: &Expr, clause: Clause, in_aggregate: bool) -> Result<(String, Ty)> {
        match e {
            Expr::Col(c) => Ok((c.sql(), c.ty())),
            Expr::Ident(name) => invalid(format!("Unknown column {name:?}")),
            Expr::Str(s) => Ok((self.param(SqlValue::Text(s.clone())), Ty::String)),
            Expr::Int(n) => {
                let Ok(value) = i64::try_from(*n) else {
                    return unsupported(format!("the integer {n}, above 2^63 - 1,"));
                };
                let ty = match *n {
                    0..=0xff => Ty::UInt8,
                    0x100..=0xffff => Ty::UInt16,
                    0x1_0000..=0xffff_ffff => Ty::UInt32,
                    _ => Ty::UInt64,
                };
                Ok((self.param(SqlValue::Integer(value)), ty))
            }
            Expr::Float(f) => Ok((self.param(SqlValue::Real(*f)), Ty::Float64)),
            Expr::Interval(seconds, _) => {
                Ok((self.param(SqlValue::Integer(*seconds)), Ty::Interval))
            }
            Expr::Neg(x) => {
                let (sql, ty) = self.compile(x, clause, in_aggregate)?;
                if !ty.is_numeric() {
                    return invalid(format!(
                        "Illegal type {} of argument of function negate",
                        ty.name()
                    ));
                }
                let ty = if ty == Ty::Float64 { ty } else { Ty::Int64 };
                Ok((format!("(-{sql})"), ty))
            }
            Expr::Not(x) => {
                let (sql, _) = self.compile(x, clause, in_aggregate)?;
                Ok((format!("(NOT {sql})"), Ty::UInt8))
            }
            Expr::Bin(op, a, b) => self.binary(*op, a, b, clause, in_aggregate),
            Expr::In(x, list, negated) => {
                let (sql, ty) = self.compile(x, clause, in_aggregate)?;
                let mut items = Vec::new();
                for item in list {
                    items.push(self.operand_like(ty, item, "in", clause, in_aggregate)?);
                }
                let not = if *negated { "NOT " } else { "" };
                Ok((format!("({sql} {not}IN ({}))", items.join(", ")), Ty::UInt8))
            }
            Expr::Call(name, args, star) => self.call(name, args, *star, clause, in_aggregate),
        }
    }

    /// An operand compared with a value of type `ty`: a string literal next to a DateTime is a
    /// date and time, as ClickHouse reads it.
    fn operand_like(
        &mut self,
        ty: Ty,
        e: &Expr,
        function: &str,
        clause: Clause,
        in_aggregate: bool,
    ) -> Result<String> {
        if ty == Ty::DateTime
            && let Expr::Str(s) = e
        {
            let Some(secs) = parse_datetime(s) else {
                return invalid(format!(
                    "Cannot parse {s:?} as a DateTime: expected 'YYYY-MM-DD hh:mm:ss' or 'YYYY-MM-DD'"
                ));
            };
            return Ok(self.param(SqlValue::Integer(secs)));
        }
        let (sql, other) = self.compile(e, clause, in_aggregate)?;
        comparable(ty, other, function)?;
        Ok(sql)
    }

    fn binary(
        &mut self,
        op: Op,
        a: &Expr,
        b: &Expr,
        clause: Clause,
        in_aggregate: bool,
    ) -> Result<(String, Ty)> {
        if op.is_comparison() {
            // A DateTime against a string literal, on either side.
            let (left, right) = if matches!(a, Expr::Str(_)) && !matches!(b, Expr::Str(_)) {
                let (right, ty) = self.compile(b, clause, in_aggregate)?;
                (
                    self.operand_like(ty, a, op.function(), clause, in_aggregate)?,
                    right,
                )
            } else {
                let (left, ty) = self.compile(a, clause, in_aggregate)?;
                let right = self.operand_like(ty, b, op.function(), clause, in_aggregate)?;
                (left, right)
            };
            return Ok((format!("({left} {} {right})", op.sql()), Ty::UInt8));
        }
        let (left, lt) = self.compile(a, clause, in_aggregate)?;
        let (right, rt) = self.compile(b, clause, in_aggregate)?;
        let illegal = || {
            invalid(format!(
                "Illegal types {} and {} of arguments of function {}",
                lt.name(),
                rt.name(),
                op.function()
            ))
        };
        let ty = match op {
            Op::And | Op::Or => Ty::UInt8,
            Op::Add | Op::Sub if lt == Ty::DateTime && rt == Ty::Interval => Ty::DateTime,
            Op::Add if lt == Ty::Interval && rt == Ty::DateTime => Ty::DateTime,
            Op::Sub if lt == Ty::DateTime && rt == Ty::DateTime => Ty::Int64,
            _ if !lt.is_numeric() || !rt.is_numeric() => return illegal(),
            Op::Div => {
                return Ok((format!("(CAST({left} AS REAL) / {right})"), Ty::Float64));
            }
            _ if lt == Ty::Float64 || rt == Ty::Float64 => Ty::Float64,
            Op::Sub => Ty::Int64,
            _ if lt.is_unsigned() && rt.is_unsigned() => Ty::UInt64,
            _ => Ty::Int64,
        };
        Ok((format!("({left} {} {right})", op.sql()), ty))
    }

    fn call(
        &mut self,
        name: &str,
        args: &[Expr],
        star: bool,
        clause: Clause,
        in_aggregate: bool,
    ) -> Result<(String, Ty)> {
        let lower = name.to_ascii_lowercase();
        if lower == "now" {
            if !args.is_empty() || star {
                return unsupported("now() with a time zone");
            }
            return Ok((self.param(SqlValue::Integer(self.now)), Ty::DateTime));
        }
        if !is_aggregate(&lower) {
            return unsupported(format!("the function {name}()"));
        }
        if in_aggregate {
            return invalid(format!(
                "Aggregate function {name}() is found inside another aggregate function"
            ));
        }
        if matches!(clause, Clause::Where | Clause::GroupBy) {
            return invalid(format!(
                "Aggregate function {name}() is found in {}",
                clause.name()
            ));
        }
        if lower == "count" {
            return match args {
                [] => Ok(("COUNT(*)".into(), Ty::UInt64)),
                [arg] => {
                    let (sql, _) = self.compile(arg, clause, true)?;
                    Ok((format!("COUNT({sql})"), Ty::UInt64))
                }
                _ => invalid(format!("Function {name} takes at most one argument")),
            };
        }
        let [arg] = args else {
            return invalid(format!("Function {name} takes exactly one argument"));
        };
        if star {
            return invalid(format!("Function {name} does not take *"));
        }
        let (sql, ty) = self.compile(arg, clause, true)?;
        match lower.as_str() {
            "sum" | "avg" if !ty.is_numeric() => invalid(format!(
                "Illegal type {} of argument for aggregate function {name}",
                ty.name()
            )),
            "sum" if ty == Ty::Float64 => Ok((format!("COALESCE(SUM({sql}), 0.0)"), Ty::Float64)),
            "sum" if ty.is_unsigned() => Ok((format!("COALESCE(SUM({sql}), 0)"), Ty::UInt64)),
            "sum" => Ok((format!("COALESCE(SUM({sql}), 0)"), Ty::Int64)),
            "avg" => Ok((format!("AVG({sql})"), Ty::Float64)),
            _ if ty == Ty::Interval => invalid(format!(
                "Illegal type {} of argument for aggregate function {name}",
                ty.name()
            )),
            "min" => Ok((format!("MIN({sql})"), ty)),
            _ => Ok((format!("MAX({sql})"), ty)),
        }
    }
}

/// Whether values of types `a` and `b` compare, as ClickHouse allows: strings with strings,
/// numbers and date-times with each other.
fn comparable(a: Ty, b: Ty, function: &str) -> Result<()> {
    let number_like = |t: Ty| t.is_numeric() || t == Ty::DateTime;
    if (a == Ty::String && b == Ty::String) || (number_like(a) && number_like(b)) {
        Ok(())
    } else {
        invalid(format!(
            "Illegal types of arguments ({}, {}) of function {function}",
            a.name(),
            b.name()
        ))
    }
}

/// `YYYY-MM-DD hh:mm:ss` (or with `T`, a trailing `Z`, or the date alone) as seconds since the
/// epoch, in UTC.
fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches('Z');
    let (date, time) = match text.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut d = date.split('-');
    let (y, m, day) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some() || y.len() != 4 || m.len() != 2 || day.len() != 2 {
        return None;
    }
    let (y, m, day): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, day.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut secs = crate::clock::days_from_civil(y, m, day) * 86_400;
    if let Some(time) = time {
        let mut t = time.split(':');
        let (h, min, s) = (t.next()?, t.next()?, t.next().unwrap_or("0"));
        if t.next().is_some() {
            return None;
        }
        let (h, min, s): (i64, i64, i64) = (h.parse().ok()?, min.parse().ok()?, s.parse().ok()?);
        if h > 23 || min > 59 || s > 59 {
            return None;
        }
        secs += h * 3_600 + min * 60 + s;
    }
    Some(secs)
}

fn compile(select: Select, account: &str, now: i64) -> Result<Plan> {
    let aliases: HashMap<&str, &Expr> = select
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Expr(e, Some(alias)) => Some((alias.as_str(), e)),
            _ => None,
        })
        .collect();
    let mut c = Compiler {
        aliases,
        has_table: select.from.is_some(),
        params: Vec::new(),
        now,
    };
    let resolve = |e: &Expr| c.resolve(e, &mut Vec::new());

    // The answer's columns, resolved.
    let mut outputs: Vec<(String, Expr)> = Vec::new();
    for item in &select.items {
        match item {
            Item::Star if select.from.is_none() => {
                return invalid("SELECT * needs a dataset: add FROM <dataset>");
            }
            Item::Star => outputs.extend(Col::all().into_iter().map(|k| (k.name(), Expr::Col(k)))),
            Item::Expr(e, alias) => {
                let name = alias.clone().unwrap_or_else(|| column_name(e));
                // Inside its own definition, an alias's name is the column's.
                let mut resolving: Vec<String> = alias.iter().cloned().collect();
                outputs.push((name, c.resolve(e, &mut resolving)?));
            }
        }
    }
    let filter = select.filter.as_ref().map(resolve).transpose()?;
    let groups: Vec<Expr> = select.group.iter().map(resolve).collect::<Result<_>>()?;
    let having = select.having.as_ref().map(resolve).transpose()?;
    let order: Vec<(Expr, bool)> = select
        .order
        .iter()
        .map(|(e, desc)| Ok((resolve(e)?, *desc)))
        .collect::<Result<_>>()?;

    // An aggregating query: every column outside an aggregate must be grouped.
    let aggregating = !groups.is_empty()
        || outputs.iter().any(|(_, e)| has_aggregate(e))
        || having.as_ref().is_some_and(has_aggregate)
        || order.iter().any(|(e, _)| has_aggregate(e));
    if having.is_some() && !aggregating {
        return invalid("HAVING needs GROUP BY or an aggregate function");
    }
    if aggregating {
        let checked = outputs
            .iter()
            .map(|(_, e)| e)
            .chain(having.as_ref())
            .chain(order.iter().map(|(e, _)| e));
        for e in checked {
            if let Some(column) = ungrouped(e, &groups) {
                return invalid(format!(
                    "Column {column} is not under aggregate function and not in GROUP BY"
                ));
            }
        }
    }

    let mut sql = String::from("SELECT ");
    if select.distinct {
        sql.push_str("DISTINCT ");
    }
    let mut columns = Vec::new();
    for (i, (name, e)) in outputs.iter().enumerate() {
        let (text, ty) = c.compile(e, Clause::Select, false)?;
        if ty == Ty::Interval {
            return unsupported("an INTERVAL as a result column");
        }
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "{text} AS c{i}");
        columns.push((name.clone(), ty));
    }
    if let Some(dataset) = &select.from {
        let account = c.param(SqlValue::Text(account.to_owned()));
        let dataset = c.param(SqlValue::Text(dataset.clone()));
        let _ = write!(
            sql,
            " FROM {TABLE} WHERE account_id = {account} AND dataset = {dataset}"
        );
        if let Some(filter) = &filter {
            let (text, _) = c.compile(filter, Clause::Where, false)?;
            let _ = write!(sql, " AND {text}");
        }
    } else if let Some(filter) = &filter {
        let (text, _) = c.compile(filter, Clause::Where, false)?;
        let _ = write!(sql, " WHERE {text}");
    }
    if !groups.is_empty() {
        let mut parts = Vec::new();
        for g in &groups {
            parts.push(c.compile(g, Clause::GroupBy, false)?.0);
        }
        let _ = write!(sql, " GROUP BY {}", parts.join(", "));
    }
    if let Some(having) = &having {
        let (text, _) = c.compile(having, Clause::Having, false)?;
        let _ = write!(sql, " HAVING {text}");
    }
    if !order.is_empty() {
        let mut parts = Vec::new();
        for (e, desc) in &order {
            let (text, _) = c.compile(e, Clause::OrderBy, false)?;
            parts.push(format!("{text} {}", if *desc { "DESC" } else { "ASC" }));
        }
        let _ = write!(sql, " ORDER BY {}", parts.join(", "));
    }
    Ok(Plan {
        dataset: select.from,
        columns,
        sql,
        params: c.params,
        limit: select.limit,
        offset: select.offset,
        format: select.format,
    })
}

// ---------------------------------------------------------------------------------------------
// Answers

/// An answer's body and content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub content_type: &'static str,
    pub body: String,
}

/// The rows of a query, written in `format`.
pub(crate) fn render(
    columns: &[(String, Ty)],
    rows: &[Vec<SqlValue>],
    before_limit: u64,
    format: Format,
) -> Rendered {
    let objects = || {
        rows.iter().map(|row| {
            let mut object = Map::new();
            for ((name, ty), value) in columns.iter().zip(row) {
                object.insert(name.clone(), json_value(value, *ty));
            }
            Value::Object(object)
        })
    };
    match format {
        Format::Json => {
            let meta: Vec<Value> = columns
                .iter()
                .map(|(name, ty)| json!({"name": name, "type": ty.name()}))
                .collect();
            let data: Vec<Value> = objects().collect();
            Rendered {
                content_type: "application/json; charset=utf-8",
                body: json!({
                    "meta": meta,
                    "data": data,
                    "rows": rows.len(),
                    "rows_before_limit_at_least": before_limit,
                })
                .to_string(),
            }
        }
        Format::JsonEachRow => Rendered {
            content_type: "application/x-ndjson; charset=utf-8",
            body: objects().map(|o| format!("{o}\n")).collect(),
        },
        Format::TabSeparated => {
            let mut body = String::new();
            for row in rows {
                let fields: Vec<String> = columns
                    .iter()
                    .zip(row)
                    .map(|((_, ty), value)| tsv_value(value, *ty))
                    .collect();
                body.push_str(&fields.join("\t"));
                body.push('\n');
            }
            Rendered {
                content_type: "text/tab-separated-values; charset=utf-8",
                body,
            }
        }
    }
}

/// The answer to `SHOW TABLES`.
pub(crate) fn render_tables(datasets: &[String], format: Format) -> Rendered {
    let rows: Vec<Vec<SqlValue>> = datasets
        .iter()
        .map(|d| vec![SqlValue::Text(d.clone())])
        .collect();
    render(
        &[("dataset".to_owned(), Ty::String)],
        &rows,
        rows.len() as u64,
        format,
    )
}

/// `YYYY-MM-DD hh:mm:ss`, ClickHouse's DateTime text.
fn datetime(secs: i64) -> String {
    crate::clock::rfc3339(secs)
        .trim_end_matches('Z')
        .replacen('T', " ", 1)
}

fn as_integer(value: &SqlValue) -> Option<i64> {
    match value {
        SqlValue::Integer(i) => Some(*i),
        SqlValue::Real(f) if f.is_finite() => Some(*f as i64),
        SqlValue::Text(t) => t.parse().ok(),
        _ => None,
    }
}

fn json_value(value: &SqlValue, ty: Ty) -> Value {
    if matches!(value, SqlValue::Null) {
        return Value::Null;
    }
    match ty {
        Ty::String => Value::String(text(value)),
        Ty::DateTime => as_integer(value).map_or(Value::Null, |s| Value::String(datetime(s))),
        Ty::UInt8 | Ty::UInt16 | Ty::UInt32 | Ty::Interval => {
            as_integer(value).map_or(Value::Null, Value::from)
        }
        // ClickHouse quotes 64-bit integers in JSON, as JavaScript cannot hold them all.
        Ty::UInt64 | Ty::Int64 => {
            as_integer(value).map_or(Value::Null, |i| Value::String(i.to_string()))
        }
        Ty::Float64 => {
            let f = match value {
                SqlValue::Real(f) => *f,
                SqlValue::Integer(i) => *i as f64,
                _ => return Value::Null,
            };
            float_json(f)
        }
    }
}

/// A double as ClickHouse writes it: whole numbers without a fraction, NaN and infinities as
/// `null`.
fn float_json(f: f64) -> Value {
    if !f.is_finite() {
        Value::Null
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        Value::from(f as i64)
    } else {
        Value::from(f)
    }
}

fn text(value: &SqlValue) -> String {
    match value {
        SqlValue::Text(t) => t.clone(),
        SqlValue::Integer(i) => i.to_string(),
        SqlValue::Real(f) => f.to_string(),
        SqlValue::Blob(b) => String::from_utf8_lossy(b).into_owned(),
        SqlValue::Null => String::new(),
    }
}

fn tsv_value(value: &SqlValue, ty: Ty) -> String {
    match json_value(value, ty) {
        Value::Null => "\\N".to_owned(),
        Value::String(s) => {
            let mut out = String::with_capacity(s.len());
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::analytics_engine::{DataPoint, insert, schema, select as run_select};
    use rusqlite::Connection;

    const ACCOUNT: &str = "acct";
    /// 2026-01-02 03:04:05 UTC.
    const NOW: i64 = 1_767_323_045;

    fn plan(sql: &str) -> Plan {
        match parse(sql, ACCOUNT, NOW).unwrap_or_else(|e| panic!("{sql}: {e:?}")) {
            Statement::Select(p) => p,
            other => panic!("{sql}: {other:?}"),
        }
    }

    fn error(sql: &str) -> SqlError {
        parse(sql, ACCOUNT, NOW).expect_err(sql)
    }

    fn point(blobs: &[&str], doubles: &[f64], index: &str) -> DataPoint {
        DataPoint {
            index1: index.as_bytes().to_vec(),
            blobs: blobs.iter().map(|b| b.as_bytes().to_vec()).collect(),
            doubles: doubles.iter().map(|d| Some(*d)).collect(),
        }
    }

    /// A table with five points in `ds` (and one in `other`, one of another account).
    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(&schema()).unwrap();
        let at = |secs: i64| secs * 1000;
        insert(
            &c,
            ACCOUNT,
            "ds",
            at(NOW - 10),
            &point(&["GET", "/a"], &[10.0, 1.0], "u1"),
        )
        .unwrap();
        insert(
            &c,
            ACCOUNT,
            "ds",
            at(NOW - 9),
            &point(&["GET", "/b"], &[20.0, 1.0], "u1"),
        )
        .unwrap();
        insert(
            &c,
            ACCOUNT,
            "ds",
            at(NOW - 8),
            &point(&["POST", "/a"], &[5.5, 1.0], "u2"),
        )
        .unwrap();
        insert(
            &c,
            ACCOUNT,
            "ds",
            at(NOW - 86_400 * 2),
            &point(&["GET", "/old"], &[1.0], "u3"),
        )
        .unwrap();
        insert(&c, ACCOUNT, "ds", at(NOW - 7), &point(&["PUT"], &[], "")).unwrap();
        insert(&c, ACCOUNT, "other", at(NOW), &point(&["GET"], &[99.0], "")).unwrap();
        insert(
            &c,
            "someone-else",
            "ds",
            at(NOW),
            &point(&["GET"], &[99.0], ""),
        )
        .unwrap();
        c
    }

    /// Runs `sql` over [`db`] and answers its JSON.
    fn run(sql: &str) -> Value {
        let plan = plan(sql);
        let c = db();
        let rows = run_select(&c, &plan.sql, &plan.params, plan.limit, plan.offset).unwrap();
        let rendered = render(&plan.columns, &rows.rows, rows.before_limit, plan.format);
        serde_json::from_str(&rendered.body).unwrap()
    }

    #[test]
    fn count_sum_and_group_by_with_clickhouse_names_and_types() {
        let out = run(
            "SELECT blob1 AS method, count() AS n, SUM(double1), avg(double1) FROM ds \
             WHERE timestamp > NOW() - INTERVAL '1' DAY GROUP BY method ORDER BY method",
        );
        assert_eq!(
            out["meta"],
            json!([
                {"name": "method", "type": "String"},
                {"name": "n", "type": "UInt64"},
                {"name": "SUM(double1)", "type": "Float64"},
                {"name": "avg(double1)", "type": "Float64"},
            ])
        );
        assert_eq!(
            out["data"],
            json!([
                {"method": "GET", "n": "2", "SUM(double1)": 30, "avg(double1)": 15},
                {"method": "POST", "n": "1", "SUM(double1)": 5.5, "avg(double1)": 5.5},
                {"method": "PUT", "n": "1", "SUM(double1)": 0, "avg(double1)": 0},
            ])
        );
        assert_eq!(out["rows"], 3);
        assert_eq!(out["rows_before_limit_at_least"], 3);
    }

    #[test]
    fn where_on_a_blob_and_a_count_without_group() {
        let out = run(
            "SELECT count(*), sum(_sample_interval) FROM ds WHERE blob1 = 'GET' AND double1 >= 10",
        );
        assert_eq!(out["meta"][0], json!({"name": "count()", "type": "UInt64"}));
        assert_eq!(
            out["meta"][1],
            json!({"name": "sum(_sample_interval)", "type": "UInt64"})
        );
        assert_eq!(
            out["data"],
            json!([{"count()": "2", "sum(_sample_interval)": "2"}])
        );
        let none = run("SELECT count() FROM ds WHERE blob1 = 'DELETE'");
        assert_eq!(none["data"], json!([{"count()": "0"}]));
    }

    #[test]
    fn star_lists_every_column_in_the_tables_order() {
        let out = run("SELECT * FROM ds WHERE blob1 = 'PUT'");
        let names: Vec<&str> = out["meta"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 44);
        assert_eq!(
            &names[..6],
            [
                "dataset",
                "timestamp",
                "_sample_interval",
                "index1",
                "blob1",
                "blob2"
            ]
        );
        assert_eq!(names[43], "double20");
        let row = &out["data"][0];
        assert_eq!(row["dataset"], "ds");
        assert_eq!(row["timestamp"], "2026-01-02 03:03:58");
        assert_eq!(row["_sample_interval"], 1);
        assert_eq!(row["index1"], "");
        assert_eq!(row["blob2"], "");
        assert_eq!(row["double1"], 0);
        assert_eq!(out["meta"][1]["type"], "DateTime");
        assert_eq!(out["meta"][2]["type"], "UInt32");
    }

    #[test]
    fn order_limit_and_offset() {
        let out = run("SELECT blob2, double1 FROM ds ORDER BY double1 DESC LIMIT 2");
        assert_eq!(
            out["data"],
            json!([{"blob2": "/b", "double1": 20}, {"blob2": "/a", "double1": 10}])
        );
        assert_eq!(out["rows"], 2);
        assert_eq!(out["rows_before_limit_at_least"], 5);
        let page = run("SELECT double1 FROM ds ORDER BY double1 LIMIT 1, 2");
        assert_eq!(page["data"], json!([{"double1": 1}, {"double1": 5.5}]));
        let page = run("SELECT double1 FROM ds ORDER BY double1 LIMIT 2 OFFSET 3");
        assert_eq!(page["data"], json!([{"double1": 10}, {"double1": 20}]));
        let all = run("SELECT double1 FROM ds LIMIT ALL");
        assert_eq!(all["rows"], 5);
    }

    #[test]
    fn aliases_arithmetic_having_in_and_between() {
        let out = run(
            "SELECT index1 AS user, SUM(_sample_interval * double1) / SUM(_sample_interval) AS mean \
             FROM ds WHERE index1 IN ('u1', 'u2') AND double1 BETWEEN 1 AND 100 \
             GROUP BY user HAVING mean > 6 ORDER BY mean DESC",
        );
        assert_eq!(out["data"], json!([{"user": "u1", "mean": 15}]));
        assert_eq!(out["meta"][1]["type"], "Float64");
        let named = run("SELECT double1 * 2, -double2, double1 > 10 FROM ds WHERE blob2 = '/b'");
        assert_eq!(
            named["data"],
            json!([{"multiply(double1, 2)": 40, "negate(double2)": -1, "greater(double1, 10)": 1}])
        );
        let not_in =
            run("SELECT count() AS n FROM ds WHERE blob1 NOT IN ('GET') OR NOT (double1 < 15)");
        assert_eq!(not_in["data"], json!([{"n": "3"}]));
    }

    #[test]
    fn a_datetime_compares_with_a_literal_and_now() {
        let out = run("SELECT count() AS n FROM ds WHERE timestamp >= '2026-01-02 03:03:56'");
        assert_eq!(out["data"], json!([{"n": "3"}]));
        let out = run("SELECT count() AS n FROM ds WHERE '2026-01-02 03:03:56' > timestamp");
        assert_eq!(out["data"], json!([{"n": "2"}]));
        let out = run("SELECT min(timestamp) AS first, max(timestamp) AS last FROM ds");
        assert_eq!(
            out["data"],
            json!([{"first": "2025-12-31 03:04:05", "last": "2026-01-02 03:03:58"}])
        );
        let now = run("SELECT now() AS t, 'Hello Workers Analytics Engine' AS message");
        assert_eq!(
            now["data"],
            json!([{"t": "2026-01-02 03:04:05", "message": "Hello Workers Analytics Engine"}])
        );
        assert!(matches!(
            error("SELECT count() FROM ds WHERE timestamp > 'yesterday'"),
            SqlError::Invalid(m) if m.contains("Cannot parse")
        ));
    }

    #[test]
    fn formats() {
        let p = plan(
            "SELECT blob1, count() AS n FROM ds GROUP BY blob1 ORDER BY blob1 FORMAT JSONEachRow",
        );
        let c = db();
        let rows = run_select(&c, &p.sql, &p.params, p.limit, p.offset).unwrap();
        let each = render(&p.columns, &rows.rows, rows.before_limit, p.format);
        assert_eq!(
            each.body,
            "{\"blob1\":\"GET\",\"n\":\"3\"}\n{\"blob1\":\"POST\",\"n\":\"1\"}\n{\"blob1\":\"PUT\",\"n\":\"1\"}\n"
        );
        let p = plan(
            "SELECT blob1, count() AS n FROM ds GROUP BY blob1 ORDER BY blob1 FORMAT TabSeparated",
        );
        let rows = run_select(&c, &p.sql, &p.params, p.limit, p.offset).unwrap();
        let tsv = render(&p.columns, &rows.rows, rows.before_limit, p.format);
        assert_eq!(tsv.body, "GET\t3\nPOST\t1\nPUT\t1\n");
        assert_eq!(
            render_tables(&["a".into(), "b".into()], Format::Json).body,
            json!({
                "meta": [{"name": "dataset", "type": "String"}],
                "data": [{"dataset": "a"}, {"dataset": "b"}],
                "rows": 2,
                "rows_before_limit_at_least": 2,
            })
            .to_string()
        );
    }

    #[test]
    fn show_tables_and_comments_and_quoting() {
        assert_eq!(
            parse("show tables;", ACCOUNT, NOW).unwrap(),
            Statement::ShowTables(Format::Json)
        );
        let p = plan(
            "-- a comment\nSELECT /* inline */ blob1 FROM \"my-dataset\" WHERE blob1 = 'it''s' OR blob1 = 'it\\'s'",
        );
        assert_eq!(p.dataset.as_deref(), Some("my-dataset"));
        assert!(p.params.contains(&SqlValue::Text("it's".into())));
        assert_eq!(
            plan("SELECT blob1 FROM `ds`").dataset.as_deref(),
            Some("ds")
        );
    }

    #[test]
    fn what_cloudflare_refuses_is_invalid() {
        for (sql, expected) in [
            ("SELECT blob21 FROM ds", "Unknown column \"blob21\""),
            ("SELECT colour FROM ds", "Unknown column \"colour\""),
            (
                "SELECT blob1, count() FROM ds",
                "Column blob1 is not under aggregate function",
            ),
            (
                "SELECT blob2, count() FROM ds GROUP BY blob1",
                "Column blob2",
            ),
            ("SELECT count() FROM ds WHERE count() > 1", "found in WHERE"),
            ("SELECT sum(count()) FROM ds", "inside another aggregate"),
            ("SELECT sum(blob1) FROM ds", "Illegal type String"),
            ("SELECT count() FROM ds WHERE blob1 = 3", "Illegal types"),
            ("SELECT blob1 + 1 FROM ds", "Illegal types String"),
            ("SELECT FROM ds", "expected an expression, found FROM"),
            ("SELECT blob1 FROM ds WHERE", "expected an expression"),
            ("SELECT blob1 FROM ds LIMIT x", "LIMIT needs a whole number"),
            ("SELECT blob1 FROM ds garbage more", "unexpected"),
            ("SELECT 'open", "not closed"),
            ("DELETE FROM ds", "SELECT and SHOW statements only"),
            ("", "no SQL statement"),
            ("SELECT blob1", "no FROM"),
            ("SELECT *", "needs a dataset"),
            (
                "SELECT blob1 FROM ds HAVING blob1 = 'x'",
                "HAVING needs GROUP BY",
            ),
        ] {
            match error(sql) {
                SqlError::Invalid(m) => assert!(m.contains(expected), "{sql}: {m}"),
                other => panic!("{sql}: {other:?}"),
            }
        }
    }

    #[test]
    fn what_the_emulator_does_not_run_is_named() {
        for (sql, expected) in [
            (
                "SELECT quantileExactWeighted(0.5)(double1, _sample_interval) FROM ds",
                "parametric function",
            ),
            (
                "SELECT intDiv(toUInt32(timestamp), 300) FROM ds",
                "the function intDiv()",
            ),
            ("SELECT count(DISTINCT blob1) FROM ds", "count(DISTINCT"),
            (
                "SELECT blob1 FROM (SELECT blob1 FROM ds)",
                "a subquery in FROM",
            ),
            ("SELECT blob1 FROM ds JOIN other", "JOIN"),
            ("SELECT blob1 FROM ds WHERE blob1 LIKE 'G%'", "LIKE"),
            ("SELECT CASE WHEN double1 > 1 THEN 1 END FROM ds", "CASE"),
            (
                "SELECT blob1 FROM ds UNION ALL SELECT blob1 FROM other",
                "UNION",
            ),
            (
                "SELECT count() FROM ds WHERE timestamp > now() - INTERVAL '1' MONTH",
                "INTERVAL … MONTH",
            ),
            ("SELECT blob1 FROM ds FORMAT CSV", "FORMAT CSV"),
            ("SHOW TIMEZONES", "SHOW TIMEZONES"),
            ("SELECT double1 % 2 FROM ds", "% operator"),
        ] {
            match error(sql) {
                SqlError::Unsupported(m) => {
                    assert!(m.contains(expected), "{sql}: {m}");
                    assert!(m.contains("not supported by the emulator"), "{m}");
                }
                other => panic!("{sql}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_alias_wins_over_a_column_except_inside_itself() {
        let out = run("SELECT double1 * 2 AS double1 FROM ds WHERE double1 = 40");
        assert_eq!(out["data"], json!([{"double1": 40}]));
    }

    #[test]
    fn datetime_literals() {
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("2026-01-02 03:04:05"), Some(NOW));
        assert_eq!(parse_datetime("2026-01-02T03:04:05Z"), Some(NOW));
        assert_eq!(parse_datetime("2026-1-2"), None);
        assert_eq!(parse_datetime("2026-01-02 25:00:00"), None);
        assert_eq!(datetime(NOW), "2026-01-02 03:04:05");
    }
}
