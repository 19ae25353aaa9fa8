//! The two pagination styles of the v4 API, as pure decisions on `result_info`.
//!
//! Page style (`?page=&per_page=`, `result_info.total_count`): accounts, KV namespaces, Secrets
//! Store stores and secrets. Cursor style (`result_info.cursor` or `result_info.cursors.after`,
//! empty or absent on the last page): R2 buckets, KV keys, Durable Object objects.

use serde_json::Value;

/// The most pages one listing follows, a guard against a server that never says "done".
pub(crate) const MAX_PAGES: u32 = 1000;

/// Whether a page-style listing has a page after `page` (1-based), given the page's
/// `result_info`, the `per_page` asked for and the number of items received.
pub(crate) fn has_next_page(
    info: Option<&Value>,
    page: u32,
    per_page: u32,
    received: usize,
) -> bool {
    if page >= MAX_PAGES || received == 0 {
        return false;
    }
    let field = |name: &str| info.and_then(|i| i.get(name)).and_then(Value::as_u64);
    if let Some(total) = field("total_count") {
        let per_page = field("per_page").unwrap_or(u64::from(per_page)).max(1);
        let page = field("page").unwrap_or(u64::from(page));
        return page * per_page < total;
    }
    if let Some(total_pages) = field("total_pages") {
        return u64::from(page) < total_pages;
    }
    received >= per_page as usize
}

/// The cursor for the next page of a cursor-style listing, `None` when it was the last.
pub(crate) fn next_cursor(info: Option<&Value>) -> Option<String> {
    let info = info?;
    let cursor = info
        .get("cursor")
        .or_else(|| info.get("cursors").and_then(|c| c.get("after")))?;
    cursor.as_str().filter(|c| !c.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn page_style_stops_at_total_count() {
        let info = json!({"page": 1, "per_page": 2, "count": 2, "total_count": 3});
        assert!(has_next_page(Some(&info), 1, 2, 2));
        let info = json!({"page": 2, "per_page": 2, "count": 1, "total_count": 3});
        assert!(!has_next_page(Some(&info), 2, 2, 1));
        let info = json!({"page": 1, "per_page": 20, "total_count": 20});
        assert!(!has_next_page(Some(&info), 1, 20, 20));
    }

    #[test]
    fn page_style_without_counts_stops_on_a_short_or_empty_page() {
        assert!(has_next_page(None, 1, 10, 10));
        assert!(!has_next_page(None, 1, 10, 9));
        assert!(!has_next_page(None, 3, 10, 0));
        let info = json!({"total_pages": 2});
        assert!(has_next_page(Some(&info), 1, 10, 10));
        assert!(!has_next_page(Some(&info), 2, 10, 10));
        assert!(!has_next_page(None, MAX_PAGES, 10, 10));
    }

    #[test]
    fn cursors_end_when_empty_or_missing() {
        assert_eq!(
            next_cursor(Some(&json!({"cursor": "abc", "per_page": 20}))),
            Some("abc".into())
        );
        assert_eq!(next_cursor(Some(&json!({"count": 0, "cursor": ""}))), None);
        assert_eq!(next_cursor(Some(&json!({"cursor": null}))), None);
        assert_eq!(
            next_cursor(Some(&json!({"cursors": {"after": "n2"}}))),
            Some("n2".into())
        );
        assert_eq!(next_cursor(None), None);
    }
}
