//! The athanor runtime: makes Cloudflare match a [`athanor_core::Stack`].

pub mod cli;
