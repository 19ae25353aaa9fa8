//! The TLS crypto provider of every HTTPS client athanor builds (its own and object_store's):
//! rustls on ring, the only provider compiled in. reqwest without a bundled provider takes the
//! process's default, so it is installed before the first client is built; a provider the
//! embedding program installed first stays.

/// Installs ring as the process's rustls crypto provider, unless one is installed already.
/// Cheap and idempotent: call it before building an HTTPS client.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may win the race; either way a provider is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_client_builds_once_the_provider_is_installed() {
        install_crypto_provider();
        install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
        reqwest::Client::builder()
            .build()
            .expect("an HTTPS-capable client");
    }
}
