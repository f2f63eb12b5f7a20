//! Kohonen self-organising maps: training, storage and serving.

pub mod som;
pub mod storage;
