//! `quickstart deploy | plan | destroy | dev | ...`: athanor's command line over the quickstart
//! stack (`src/lib.rs`).

use std::process::ExitCode;

fn main() -> ExitCode {
    athanor::cli::run(quickstart::stack())
}
