//! The Cloudflare v4 API client and the providers of athanor.
