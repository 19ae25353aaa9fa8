use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions");
    let auth = Worker("auth") { entrypoint: "./auth.js" };
    let api = Worker("api") {
        entrypoint: "./api.js",
        bindings: {
            KV_ADMIN: sessions.entrypoint("AdminApi"),
            ADMIN: auth.entrypoint("admin-api"),
            NAMED: auth.entrypoint(CLASS),
            SELF_ADMIN: api.entrypoint("AdminApi"),
            MISSPELT: auht.entrypoint("AdminApi"),
        },
    };
}

fn main() {}
