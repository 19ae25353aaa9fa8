//! The command line of a stack binary.

use std::process::ExitCode;

use athanor_core::Stack;

/// Runs the command line (`plan`, `deploy`, `destroy`, `types`, `outputs`, `state`) for `stack`.
pub fn run(stack: Stack) -> ExitCode {
    let _ = stack;
    ExitCode::FAILURE
}
