//! Kohonen self-organising maps: training, storage and serving.

pub mod cli;
pub mod cluster;
pub mod config;
pub mod http;
pub mod jobs;
pub mod render;
pub mod som;
pub mod storage;
pub mod training;
