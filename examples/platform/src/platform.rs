//! The platform's own stack, deployed once with `platform deploy`: the dispatch namespace every
//! customer's Worker lives in, and the dispatcher Worker, the platform's public address, which
//! routes `/<tenant>/<path>` to that tenant's Worker.
//!
//! The customers themselves are not here: the backend (`platform serve`) applies one stack per
//! customer at run time from the template in [`crate::customer`], which adopts this namespace.

use athanor::infra;

infra! {
    app "platform";

    // Every customer's Worker is uploaded into this namespace (see `customer.rs`).
    let customers = DispatchNamespace("customers") { name: "customers" };

    // The platform's front door: `https://platform-dispatcher.<account>.workers.dev/acme/...`
    // reaches acme's Worker.
    let dispatcher = Worker("dispatcher") {
        name: "platform-dispatcher",
        entrypoint: "./src/dispatcher.js",
        url: true,
        bindings: { DISPATCHER: customers },
    };
}
