//! The Workers Analytics Engine SQL API: `POST …/analytics_engine/sql` with the statement as the
//! raw body (any content type: `curl --data` sends a form type, clients `text/plain`), over the data
//! points the Workers' bindings wrote (`bindings::analytics_engine`, `store::analytics_engine`).
//!
//! A success is not a v4 envelope: it is the statement's answer in its `FORMAT`, by default
//! ClickHouse's JSON, `{meta, data, rows, rows_before_limit_at_least}` (see
//! `analytics_engine_sql`). A refusal is a v4 error envelope: 422, the status Cloudflare is
//! reported to answer for input it refuses ("Input was invalid: unsupported expression type: …"),
//! for a statement Cloudflare would refuse too (a syntax error, an unknown column, a dataset never
//! written to); 400 for Analytics Engine SQL the emulator does not run, with what it met. The
//! codes (1000, 1001) are the emulator's own: Cloudflare documents none for this API.
//!
//! A dataset exists once a point was written to it, as on Cloudflare, where its table is created
//! by the first write.

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppStateRef;
use crate::analytics_engine_sql::{self, Rendered, SqlError, Statement};
use crate::envelope::{ApiError, ApiResult};
use crate::store::analytics_engine;

/// The code of a statement the SQL API refuses: 1000, no public source (the emulator's choice).
const INVALID: u32 = 1000;
/// The code of a statement outside the emulator's subset: 1001, no public source (the
/// emulator's choice).
const UNSUPPORTED: u32 = 1001;

fn refusal(e: SqlError) -> ApiError {
    match e {
        SqlError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, INVALID, m),
        SqlError::Unsupported(m) => ApiError::bad_request(UNSUPPORTED, m),
    }
}

/// `POST …/analytics_engine/sql`.
pub(crate) async fn sql(state: AppStateRef, body: Bytes) -> ApiResult {
    let Ok(text) = std::str::from_utf8(&body) else {
        return Err(refusal(SqlError::Invalid(
            "the request body is not UTF-8 text".into(),
        )));
    };
    let account = state.account_id.clone();
    let statement =
        analytics_engine_sql::parse(text, &account, state.clock.now()).map_err(refusal)?;
    let rendered = match statement {
        Statement::ShowTables(format) => {
            let datasets = state
                .store
                .tx(move |c| analytics_engine::datasets(c, &account))
                .await?;
            analytics_engine_sql::render_tables(&datasets, format)
        }
        Statement::Select(plan) => {
            let (sql, params, limit, offset) = (
                plan.sql.clone(),
                plan.params.clone(),
                plan.limit,
                plan.offset,
            );
            let dataset = plan.dataset.clone();
            let rows = state
                .store
                .tx(move |c| {
                    if let Some(dataset) = &dataset
                        && !analytics_engine::dataset_exists(c, &account, dataset)?
                    {
                        return Err(refusal(SqlError::Invalid(format!(
                            "Unknown dataset {dataset:?}: a dataset's table exists once a Worker wrote a data point to it with writeDataPoint(); SHOW TABLES lists the account's datasets"
                        ))));
                    }
                    analytics_engine::select(c, &sql, &params, limit, offset)
                })
                .await?;
            analytics_engine_sql::render(&plan.columns, &rows.rows, rows.before_limit, plan.format)
        }
    };
    Ok(answer(rendered))
}

fn answer(rendered: Rendered) -> Response {
    let mut response = (StatusCode::OK, rendered.body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(rendered.content_type),
    );
    response
}
