//! Workers Analytics Engine datasets: nothing to call. Cloudflare makes a dataset when a Worker
//! first writes to it and has no route that creates, reads or deletes one, so the provider only
//! names it; a Worker's binding carries the name.

use athanor_core::Output;
use athanor_core::output::AnalyticsEngineDatasetOutput;
use athanor_core::provider::Desired;

/// The dataset's name, the resolved one: declared, or derived from app, id and stage.
pub(crate) fn output(d: &Desired<'_>) -> Output {
    Output::AnalyticsEngineDataset(AnalyticsEngineDatasetOutput {
        dataset: d.name.to_owned(),
    })
}
