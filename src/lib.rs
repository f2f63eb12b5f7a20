//! Kohonen self-organising maps: training, storage and serving.

pub mod cli;
pub mod config;
pub mod som;
pub mod storage;
pub mod training;
