use athanor::infra;

infra! {
    let assets = R2Bucket("assets") {
        cors: [
            { origins: ["https://app.example.com"], methods: ["GET", "PATCH"], max_age: 90000 },
            { methods: ["GET"] },
            "https://other.example.com",
        ],
    };
}

fn main() {}
