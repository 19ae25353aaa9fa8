//! Macros of the user's named like the traits the expansion derives do not reach its derives.

use athanor::infra;
#[allow(unused_imports)]
use core::prelude::v1::{global_allocator as Clone, test as Debug};

infra! {
    let sessions = KvNamespace("sessions");
}

fn main() {
    assert!(stack().get("sessions").is_some());
}
