//! A local emulator of the Cloudflare v4 API.
